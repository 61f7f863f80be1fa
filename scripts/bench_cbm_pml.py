#!/usr/bin/env python3
"""PML 2.8.1 side of the CrossBatchMemory step benchmark (see scripts/bench-cbm.sh and org.pml4j.bench.CbmStepBench).

    PYTHONPATH=$PML_SRC/src /usr/bin/python3 scripts/bench_cbm_pml.py --threads 1 --memory 4096,16384,65536

One step: CrossBatchMemory(ContrastiveLoss(), 128, memory_size=M) forward + backward on a fixed random batch
[256, 128] (requires_grad) with 10 classes, the memory already full (M / 256 filling calls first). Prints one JSON
line: {"threads": T, "torch": version, "ms": {"4096": median ms, ...}, "steps": N}.
"""
import argparse
import json
import statistics
import time

import torch

from pytorch_metric_learning import losses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--memory", default="4096,16384,65536")
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--classes", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {}
    for m in [int(x) for x in a.memory.split(",")]:
        loss_fn = losses.CrossBatchMemory(losses.ContrastiveLoss(), a.dim, memory_size=m)
        emb = torch.randn(a.batch, a.dim, requires_grad=True)
        labels = torch.randint(0, a.classes, (a.batch,))
        with torch.no_grad():
            for _ in range((m + a.batch - 1) // a.batch):
                loss_fn(torch.randn(a.batch, a.dim), torch.randint(0, a.classes, (a.batch,)))
        times = []
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            loss = loss_fn(emb, labels)
            loss.backward()
            t1 = time.perf_counter()
            emb.grad = None
            if i >= a.warmup:
                times.append((t1 - t0) * 1000)
        out[str(m)] = round(statistics.median(times), 2)
    print(json.dumps({"threads": a.threads, "torch": torch.__version__, "ms": out, "steps": a.steps}))


if __name__ == "__main__":
    main()
