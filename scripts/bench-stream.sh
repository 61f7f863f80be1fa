#!/usr/bin/env bash
# Throughput of the Flink trainer against the standalone trainer on the same config (Fashion-MNIST, EPOCHS passes over
# the 60,000 training images, MLP 784-256-64 + L2Normalize, MultiSimilarityLoss + MultiSimilarityMiner(epsilon 0.1), Adam 1e-3,
# batch 64, 1 thread), plus the stream's model refresh latency (p50 / max: model version created -> first query
# embedded with it).
#
# Each round runs, one after the other: the standalone trainer (pml4j train); the default streaming job (pml4j stream:
# the evaluator scores the newest version on 10,000 held-out images on a background thread, i.e. on the second core);
# and the stream with --evaluate none (trainer, publisher and embed operator only). All report training time only
# (time inside trainStep; the stream's from summary.json), for the whole run and for the steady state after the first
# 50 steps (warm-up: JIT, allocator; in the stream also the start of the sources and the embed operator). Rounds
# alternate, and each round starts with the next run of the three (standalone, default, none), so that drifts of a
# shared machine and the position in a round hit all three alike; the summary gives medians over the rounds.
#
# Usage: scripts/bench-stream.sh [WORKDIR] [ROUNDS] [EPOCHS]   (default: a temporary directory, 3 rounds, 10 epochs:
# 9,370 steps, about 30 s of training per run. A continuously training job is measured in its steady state: in a
# 3-epoch run (9 s of training) the start-up (the JIT compilation of Flink's runtime and the evaluation of the
# untrained version 0, both on the second core) overlaps a third of the training and weighs on the ratio.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d -t pml4j-bench-stream.XXXXXX)}"
rounds="${2:-3}"
epochs="${3:-10}"
mkdir -p "$work"
enc='{"class": "Sequential", "params": {"layers": [{"class": "Linear", "params": {"in_features": 784, "out_features": 256}}, {"class": "ReLU"}, {"class": "Linear", "params": {"in_features": 256, "out_features": 64}}, {"class": "L2Normalize"}]}}'
standalone() {
  echo "bench-stream: round $r/$rounds: standalone trainer (pml4j train)"
  "$root/bin/pml4j" train --dataset fashion-mnist --encoder "$enc" --loss MultiSimilarityLoss \
    --miner '{"class": "MultiSimilarityMiner", "params": {"epsilon": 0.1}}' \
    --optimizer '{"class": "Adam", "params": {"lr": 0.001}}' --batch-size 64 --epochs "$epochs" --threads 1 --seed 0 \
    --no-progress --out "$work/$r/standalone" > "$work/$r-standalone.log" 2>&1
}
stream() {
  echo "bench-stream: round $r/$rounds: streaming job (pml4j stream, default: evaluate=latest, 10,000 held out)"
  "$root/bin/pml4j" stream --dataset fashion-mnist --records 0 --epochs "$epochs" --heldout 10000 --web-ui-port 0 \
    --out "$work/$r/stream" > "$work/$r-stream.log" 2>&1
}
noeval() {
  echo "bench-stream: round $r/$rounds: streaming job with --evaluate none"
  "$root/bin/pml4j" stream --dataset fashion-mnist --records 0 --epochs "$epochs" --heldout 10000 --web-ui-port 0 \
    --evaluate none \
    --out "$work/$r/stream-noeval" > "$work/$r-stream-noeval.log" 2>&1
}
runs=(standalone stream noeval)
for r in $(seq 1 "$rounds"); do
  for i in 0 1 2; do
    "${runs[$(( (i + r - 1) % 3 ))]}"
  done
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
w, rounds = sys.argv[1], int(sys.argv[2])
def med(xs):
    return statistics.median(xs)
rows = {"standalone": [], "stream": [], "stream-noeval": []}
for r in range(1, rounds + 1):
    a = json.load(open(f"{w}/{r}/standalone/metrics.json"))
    rows["standalone"].append({"whole": a["steps_per_second"] * a["batch_size"],
                               "steady": a["steady_steps_per_second"] * a["batch_size"],
                               "cpu": a["steps"] * a["batch_size"] / a["train_cpu_seconds"],
                               "p1": a["precision_at_1"], "map": a["mean_average_precision_at_r"]})
    for k in ("stream", "stream-noeval"):
        s = json.load(open(f"{w}/{r}/{k}/summary.json"))
        fin = s.get("final") or {}
        rows[k].append({"whole": s["samples_per_sec"], "steady": s["steady_samples_per_sec"],
                        "cpu": s["samples_per_cpu_sec"],
                        "p1": fin.get("precision_at_1"), "map": fin.get("mean_average_precision_at_r"),
                        "p50": s["refresh_latency_ms"]["p50"], "max": s["refresh_latency_ms"]["max"],
                        "job": s["job_seconds"], "versions": s["model_versions"],
                        "evaluated": s.get("evaluated_versions", 0)})
out = {"rounds": rounds}
sa = rows["standalone"]
print(f"samples/s per round (whole run / after step 50 / per CPU-second of the training thread):")
for k, v in rows.items():
    print(f"  {k:14s} " + "  ".join(f"{x['whole']:6.0f}/{x['steady']:6.0f}/{x['cpu']:6.0f}" for x in v))
base_w, base_s = med([x["whole"] for x in sa]), med([x["steady"] for x in sa])
base_c = med([x["cpu"] for x in sa])
print(f"standalone (median): {base_w:.0f} samples/s whole run, {base_s:.0f} after step 50; "
      f"P@1 {sa[0]['p1']:.4f}, MAP@R {sa[0]['map']:.4f}")
out["standalone"] = {"samples_per_sec": round(base_w), "steady_samples_per_sec": round(base_s),
                     "samples_per_cpu_sec": round(base_c)}
for k, name in (("stream", "default job, evaluate=latest"), ("stream-noeval", "evaluate=none")):
    v = rows[k]
    fw, fs = med([x["whole"] for x in v]), med([x["steady"] for x in v])
    q = (f"; final P@1 {v[0]['p1']:.4f}, MAP@R {v[0]['map']:.4f}" if v[0]["p1"] is not None else "")
    print(f"flink ({name}, median): {fw:.0f} samples/s whole run, {fs:.0f} after step 50; job "
          f"{med([x['job'] for x in v]):.1f} s, {v[0]['versions']} versions, {v[0]['evaluated']} evaluated{q}")
    fc = med([x["cpu"] for x in v])
    print(f"  ratio flink/standalone (medians): whole run {fw / base_w:.2f}, steady state {fs / base_s:.2f}, "
          f"per CPU-second {fc / base_c:.2f}")
    print(f"  refresh latency: p50 {med([x['p50'] for x in v]):.0f} ms (per round: "
          f"{', '.join(str(x['p50']) for x in v)}), max {max(x['max'] for x in v)} ms")
    out[k] = {"samples_per_sec": round(fw), "steady_samples_per_sec": round(fs),
              "ratio_whole": round(fw / base_w, 3), "ratio_steady": round(fs / base_s, 3),
              "ratio_per_cpu_second": round(fc / base_c, 3),
              "refresh_latency_ms_p50": med([x["p50"] for x in v]),
              "refresh_latency_ms_max": max(x["max"] for x in v)}
print(json.dumps(out))
PY
