#!/usr/bin/env bash
# Throughput of the Flink trainer against the standalone trainer on the same config (Fashion-MNIST, one epoch of
# 60,000 images, MLP 784-256-64 + L2Normalize, MultiSimilarityLoss + MultiSimilarityMiner(epsilon 0.1), Adam 1e-3,
# batch 64, 1 thread), plus the stream's model refresh latency (p50 / max: model version created -> first query
# embedded with it). Both runs report training time only (the stream: time inside trainStep, from summary.json), for
# the whole run and for the steady state after the first 50 steps (warm-up: JIT, allocator; in the stream also the
# start of the held-out source, the embed operator and the evaluation of the untrained model on the other core).
# Usage: scripts/bench-stream.sh [WORKDIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d -t pml4j-bench-stream.XXXXXX)}"
mkdir -p "$work"
enc='{"class": "Sequential", "params": {"layers": [{"class": "Linear", "params": {"in_features": 784, "out_features": 256}}, {"class": "ReLU"}, {"class": "Linear", "params": {"in_features": 256, "out_features": 64}}, {"class": "L2Normalize"}]}}'
echo "bench-stream: standalone trainer (pml4j train)"
"$root/bin/pml4j" train --dataset fashion-mnist --encoder "$enc" --loss MultiSimilarityLoss \
  --miner '{"class": "MultiSimilarityMiner", "params": {"epsilon": 0.1}}' \
  --optimizer '{"class": "Adam", "params": {"lr": 0.001}}' --batch-size 64 --epochs 1 --threads 1 --seed 0 \
  --out "$work/standalone" > "$work/standalone.log" 2>&1
echo "bench-stream: Flink trainer (pml4j stream)"
"$root/bin/pml4j" stream --dataset fashion-mnist --records 0 --heldout 10000 --web-ui-port 0 \
  --out "$work/stream" > "$work/stream.log" 2>&1
python3 - "$work" <<'PY2'
import json, sys
w = sys.argv[1]
a = json.load(open(f"{w}/standalone/metrics.json"))
s = json.load(open(f"{w}/stream/summary.json"))
sa = a["steps_per_second"] * a["batch_size"]
ss = (a.get("steady_steps_per_second") or float("nan")) * a["batch_size"]
print(f"standalone: {sa:8.0f} samples/s whole run ({a['steps']} steps in {a['train_seconds']:.1f} s), "
      f"{ss:8.0f} samples/s after the first {a['warmup_steps']} steps; "
      f"P@1 {a['precision_at_1']:.4f}, MAP@R {a['mean_average_precision_at_r']:.4f}")
fs = s.get("steady_samples_per_sec") or float("nan")
print(f"flink:      {s['samples_per_sec']:8.0f} samples/s whole run ({s['final_step']} steps, {s['train_seconds']:.1f} s "
      f"in the trainer, job {s['job_seconds']:.1f} s), {fs:8.0f} samples/s after step {s.get('steady_from_step')}; "
      f"P@1 {s['final']['precision_at_1']:.4f}, MAP@R {s['final']['mean_average_precision_at_r']:.4f}")
print(f"ratio flink/standalone: whole run {s['samples_per_sec'] / sa:.2f}, steady state {fs / ss:.2f}")
l = s["refresh_latency_ms"]
print(f"refresh latency: p50 {l['p50']} ms, max {l['max']} ms over {l['count']} refreshes "
      f"({s['model_versions']} versions, {s['evaluated_versions']} evaluated)")
PY2
