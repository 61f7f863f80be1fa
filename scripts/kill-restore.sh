#!/usr/bin/env bash
# Crash recovery check of the streaming job, end to end:
#   1. a failure-free run of `pml4j stream` (seeded synthetic stream, checkpoints every 500 ms, rate-limited source);
#   2. the same run, killed with SIGKILL mid-stream once a checkpoint is complete and some versions are published;
#   3. a new run restored from the latest retained checkpoint of the killed one (--set restore_from=...).
# Passes when the restored run ends at the same training step as the failure-free one and every model version it
# publishes (the final one included) is byte-identical to the failure-free run's file of that version (ONNX: all
# parameters and the version/step metadata; LibTorch snapshots embed a random archive id, so they are not compared).
# Usage: scripts/kill-restore.sh [WORKDIR]   (default: a new temporary directory; about 1-2 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d -t pml4j-kill-restore.XXXXXX)}"
mkdir -p "$work"
pml4j="$root/bin/pml4j"
common=(stream --dataset synthetic --records 12000 --heldout 500 --web-ui-port 0
  --set checkpoint_interval_ms=500 --set records_per_second=800 --set publish_every_steps=20)

echo "kill-restore: work directory $work"
echo "kill-restore: 1/3 failure-free run"
"$pml4j" "${common[@]}" --out "$work/ref" > "$work/ref.log" 2>&1 || { cat "$work/ref.log"; exit 1; }

echo "kill-restore: 2/3 run to be killed"
"$pml4j" "${common[@]}" --out "$work/killed" > "$work/killed.log" 2>&1 &
pid=$! # bin/pml4j execs java: this is the JVM
latest_chk() {
  { find "$work/killed/checkpoints" -mindepth 3 -maxdepth 3 -name _metadata 2>/dev/null || true; } | sed 's|/_metadata$||' \
    | awk -F'chk-' '{print $NF" "$0}' | sort -n | tail -1 | cut -d' ' -f2-
}
for _ in $(seq 1 600); do
  versions=$({ cat "$work/killed/model_updates.jsonl" 2>/dev/null || true; } | wc -l)
  if [[ -n "$(latest_chk)" && "$versions" -ge 3 ]]; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "kill-restore: the run ended before it could be killed"; exit 1; fi
  sleep 0.2
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
chk="$(latest_chk)"
[[ -n "$chk" ]] || { echo "kill-restore: no completed checkpoint"; exit 1; }
echo "kill-restore: killed (SIGKILL) after $(wc -l < "$work/killed/model_updates.jsonl") published versions;" \
  "latest retained checkpoint $chk"

echo "kill-restore: 3/3 restored run"
"$pml4j" "${common[@]}" --out "$work/restored" --set "restore_from=$chk" > "$work/restored.log" 2>&1 \
  || { cat "$work/restored.log"; exit 1; }

python3 - "$work" <<'PY'
import json, sys, os, filecmp
w = sys.argv[1]
ref = json.load(open(f"{w}/ref/summary.json"))
res = json.load(open(f"{w}/restored/summary.json"))
ok = True
if ref["final_step"] != res["final_step"]:
    print(f"kill-restore: FAIL final step {res['final_step']} != failure-free {ref['final_step']}"); ok = False
files = sorted(f for f in os.listdir(f"{w}/restored/models") if f.endswith(".onnx"))
same = [f for f in files if filecmp.cmp(f"{w}/restored/models/{f}", f"{w}/ref/models/{f}", shallow=False)]
if not files or len(same) != len(files):
    print(f"kill-restore: FAIL {len(files) - len(same)} of {len(files)} restored versions differ"); ok = False
rm = json.load(open(f"{w}/restored/models/manifest.json"))["latest"]
fm = json.load(open(f"{w}/ref/models/manifest.json"))["latest"]
if rm != fm:
    print(f"kill-restore: FAIL latest version {rm} != failure-free {fm}"); ok = False
print(f"kill-restore: {'PASS' if ok else 'FAIL'}: final step {res['final_step']} (failure-free {ref['final_step']}),"
      f" {len(same)}/{len(files)} versions published after the restore byte-identical (latest v{rm}),"
      f" final P@1 {res['final']['precision_at_1']:.4f} (failure-free {ref['final']['precision_at_1']:.4f})")
sys.exit(0 if ok else 1)
PY
