#!/usr/bin/env bash
# CrossBatchMemory(ContrastiveLoss) training step (forward + backward; batch 256, dim 128, 10 classes, full memory) at
# memory 4,096 / 16,384 / 65,536 and 1 / 2 threads: pml4j (org.pml4j.bench.CbmStepBench) and, in the same rounds,
# PML 2.8.1 (scripts/bench_cbm_pml.py on /usr/bin/python3 with Debian's torch), plus the hardware floor (two GEMMs of
# 256 x M x 128 at the GFLOP/s of a plain 1024^3 matmul at that thread setting). Prints ms per step (median over
# rounds of each round's median step), the speed-up of 2 threads over 1, and the ratios against PML's best thread
# count and against the floor.
#
# Usage: PML_SRC=<dir holding PML's src/> scripts/bench-cbm.sh [ROUNDS] [extra CbmStepBench args...]
#   PML's source: fetch github:KevinMusgrave/pytorch-metric-learning (v2.8.1), then
#   git --git-dir=<its git dir> archive HEAD src | tar -x -C "$PML_SRC". Without PML_SRC, PML is skipped.
# Example: PML_SRC=/tmp/pmlsrc scripts/bench-cbm.sh 3 --memory 16384 --threads 1,2
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
shift || true
(cd "$root" && mvn -B -q -o -pl benchmarks -am package -DskipTests dependency:build-classpath \
  -Dmdep.outputFile=target/cbm.cp) >&2
cp="$root/benchmarks/target/pml4j-benchmarks-0.1.0-SNAPSHOT.jar:$(cat "$root/benchmarks/target/cbm.cp")"
pml=()
if [[ -n "${PML_SRC:-}" ]]; then
  pml=(--pml-src "$PML_SRC")
fi
export PML4J_HOME="$root"
exec java -Xss16m -cp "$cp" org.pml4j.bench.CbmStepBench --rounds "$rounds" "${pml[@]}" "$@"
