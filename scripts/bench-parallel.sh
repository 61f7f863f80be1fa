#!/usr/bin/env bash
# Issue 13's benchmark: the streaming trainer at parallelism 1 and 2 (one intra-op thread per replica), Fashion-MNIST,
# 3 epochs, global batch 512 (256 per replica at p=2), no evaluation; rounds alternate p=1, p=2 (PML's exact form of
# the distributed wrappers) and p=2 with trainer_efficient=true, so drifts of a shared machine hit all three alike.
# Prints each run's wall_samples_per_sec (trained samples over wall seconds from the first published version to the
# last), samples_per_sec (inside train steps), rank 0's all-reduce share of its train-step time, its train-step wall
# and CPU seconds, replicas_identical and samples, then the median ratio of each p=2 form over p=1.
#
# Usage: scripts/bench-parallel.sh [ROUNDS] [WORKDIR]   (default: 2 rounds, a temporary directory; ~1 minute a run)
# Needs /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-2}"
work="${2:-$(mktemp -d)}"
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
  echo "bench-parallel: needs Fashion-MNIST (apt-get install dataset-fashion-mnist)" >&2
  exit 2
fi
mkdir -p "$work"
run() { # name, extra args...
  local name="$1"; shift
  local out="$work/$name"
  rm -rf "$out"
  "$root/bin/pml4j" stream --out "$out" --threads 1 --epochs 3 --evaluate none --set batch_size=512 "$@" \
    > "$out.log" 2>&1 || { echo "bench-parallel: $name failed, see $out.log" >&2; tail -5 "$out.log" >&2; exit 1; }
  echo "$(date -u +%H:%M:%S) $name load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$work/load.txt"
}
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  run "r$r-p1" --parallelism 1
  run "r$r-p2" --parallelism 2
  run "r$r-p2-efficient" --parallelism 2 --set trainer_efficient=true
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def row(name):
    s = json.load(open(f"{work}/{name}/summary.json"))
    return s, s.get("all_reduce_share")
print(f"{'run':18} {'wall smp/s':>11} {'step smp/s':>11} {'all-reduce':>10} {'train s':>8} {'train cpu s':>11} "
      f"{'identical':>9} {'samples':>8}")
ratios = {"p2": [], "p2-efficient": []}
for r in range(1, rounds + 1):
    base = None
    for form in ("p1", "p2", "p2-efficient"):
        s, ar = row(f"r{r}-{form}")
        w = s.get("wall_samples_per_sec")
        print(f"r{r}-{form:15} {w:11.0f} {s['samples_per_sec']:11.0f} {('%.1f %%' % (100 * ar)) if ar is not None else '-':>10} "
              f"{s['train_seconds']:8.2f} {s['train_cpu_seconds']:11.2f} {str(s['replicas_identical']):>9} {s['samples']:8d}")
        if form == "p1":
            base = w
        else:
            ratios[form].append(w / base)
for form, v in ratios.items():
    print(f"{form} over p1: median {statistics.median(v):.2f}x (rounds: {', '.join('%.2f' % x for x in v)})")
PY
echo "files in $work" >&2
