#!/usr/bin/env bash
# PML 2.8.1 and pml4j side by side on this machine, in one run:
#   for each round: bench_pml.py --threads 1, bench_pml.py --threads 2, bin/pml4j bench --pml-json (both files)
#   (the order alternates between rounds), then a table of pml4j / PML ratios with PML at its faster thread count.
#
#   scripts/bench-side-by-side.sh [--rounds R] [--epochs N] [--configs LIST] [--out DIR] [-- PML4J_BENCH_ARGS...]
#
# Needs Debian's python3-torch (plus python3-numpy, -scipy, -sklearn, -tqdm, dataset-fashion-mnist) and PML's source:
#   PML_SRC=DIR   a directory holding src/pytorch_metric_learning (PML v2.8.1; default /tmp/pml-src)
#   BENCH_PML=F   bench_pml.py (default: ../shared/bench/bench_pml.py next to the repository, else /work/shared/...)
# Each bench_pml.py run takes about 10 minutes at --epochs 1; pml4j bench about 3. Files go to DIR (default
# ./side-by-side-<UTC time>): pml-r<R>-t1.json, pml-r<R>-t2.json, pml4j-r<R>.json (pml4j's --json line), *.log, and
# load.txt (the load average around every run: the machine may be shared, which moves both sides).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=1
epochs=1
configs="triplet_ms,cbm_contrastive"
out="side-by-side-$(date -u +%Y%m%dT%H%M%SZ)"
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --configs) configs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-side-by-side: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ "$epochs" != 1 ]]; then
  echo "bench-side-by-side: note: pml4j bench trains 1 epoch; PML's training figures use --epochs $epochs" >&2
fi
pml_src="${PML_SRC:-/tmp/pml-src}"
if [[ ! -d "$pml_src/src/pytorch_metric_learning" ]]; then
  echo "bench-side-by-side: no PML source in $pml_src (set PML_SRC to a directory with src/pytorch_metric_learning;" \
    "e.g. git --git-dir=<pytorch-metric-learning.git> archive v2.8.1 src | tar -x -C \$PML_SRC)" >&2
  exit 2
fi
bench_pml="${BENCH_PML:-}"
if [[ -z "$bench_pml" ]]; then
  for c in "$root/../shared/bench/bench_pml.py" /work/shared/bench/bench_pml.py; do
    if [[ -f "$c" ]]; then bench_pml="$c"; break; fi
  done
fi
if [[ -z "$bench_pml" || ! -f "$bench_pml" ]]; then
  echo "bench-side-by-side: bench_pml.py not found (set BENCH_PML)" >&2
  exit 2
fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "bench-side-by-side: /usr/bin/python3 has no torch (apt-get install python3-torch ...)" >&2
  exit 2
fi
mkdir -p "$out"
echo "bench-side-by-side: $rounds round(s), PML --epochs $epochs, configs $configs; files in $out" >&2
"$root/bin/pml4j" --help >/dev/null # build the CLI now, not inside a timed run
load() { echo "$(date -u +%H:%M:%S) $1: load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/load.txt"; }

pml_run() { # round threads
  local f="$out/pml-r$1-t$2.json"
  load "start PML --threads $2 (round $1)"
  PYTHONPATH="$pml_src/src" /usr/bin/python3 "$bench_pml" --threads "$2" --epochs "$epochs" --configs "$configs" \
    > "$f" 2> "$out/pml-r$1-t$2.log"
  load "end PML --threads $2 (round $1)"
  echo "  PML --threads $2: $f" >&2
}
pml4j_run() { # round
  local f="$out/pml4j-r$1.json"
  load "start pml4j bench (round $1)"
  "$root/bin/pml4j" bench --json --no-progress --configs "$configs" --pml-json "$out/pml-r$1-t1.json" \
    --pml-json "$out/pml-r$1-t2.json" "${extra[@]}" > "$out/pml4j-r$1.log" 2>&1
  tail -n 1 "$out/pml4j-r$1.log" > "$f"
  load "end pml4j bench (round $1)"
  echo "  pml4j bench: $f" >&2
}

for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds" >&2
  if ((r % 2 == 1)); then
    pml_run "$r" 1; pml_run "$r" 2; pml4j_run "$r"
  else
    # pml4j bench needs this round's PML files: PML first in the other thread order, then pml4j
    pml_run "$r" 2; pml_run "$r" 1; pml4j_run "$r"
  fi
done

/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
print(f"side by side ({out}); PML at its faster thread count per config and figure")
print(f"{'round':>5} {'config':<16} {'figure':<12} {'pml4j':>9} {'PML t1':>9} {'PML t2':>9} {'ratio':>7}")
for r in range(1, rounds + 1):
    ours = json.load(open(f"{out}/pml4j-r{r}.json"))
    pml = {t: json.loads([l for l in open(f"{out}/pml-r{r}-t{t}.json") if l.strip().startswith("{")][-1])
           for t in (1, 2)}
    for c, f in ours["configs"].items():
        for fig, sec in (("loss", "micro"), ("train", "train")):
            o = f[f"{fig}_steps_per_sec"]
            p = {t: pml[t][sec].get(c, {}).get("steps_per_sec", float("nan")) for t in (1, 2)}
            best = max(p.values())
            print(f"{r:>5} {c:<16} {fig + ' st/s':<12} {o:>9.3f} {p[1]:>9.3f} {p[2]:>9.3f} {o / best:>6.2f}x")
        for m in ("precision_at_1", "mean_average_precision_at_r"):
            p = {t: pml[t]["retrieval"].get(c, {}).get(m, float("nan")) for t in (1, 2)}
            print(f"{r:>5} {c:<16} {m[:12]:<12} {f[m]:>9.4f} {p[1]:>9.4f} {p[2]:>9.4f} {f[m] - max(p.values()):>+7.4f}")
    tp = ours.get("thread_probe")
    if tp:
        print(f"      pml4j threads used: {ours['threads']}; 2 over 1 speed-up (probe): "
              + ", ".join(f"{k} {v:.2f}x" for k, v in tp["speedup_2_over_1"].items()))
print(open(f"{out}/load.txt").read().rstrip())
PY
