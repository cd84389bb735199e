"""Wall time of ``lsa.alignment.diagnose`` on the real MiniLM-L6 and on GPT-2-small-shaped random weights.

Targets (issue 3): MiniLM ≤ 1 s, GPT-2 small (124M parameters, random weights from GPT2Config()) ≤ 10 s, on
2 cores. Prints both times and their ratios to the targets in one run.
Usage: python benchmarks/bench_diagnose.py [--threads 1] [--repeat 2] [--skip-gpt2]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from threadpoolctl import threadpool_limits

from lsa.alignment.diagnose import diagnose


def timed(model, repeat, **kw):
    """Best wall time, best process CPU time (≈ unloaded wall time with one thread) and row count."""
    best, cpu, rows = float("inf"), float("inf"), 0
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        df = diagnose(model, **kw)
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
        rows = len(df)
    return best, cpu, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default: library default)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-gpt2", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import GPT2Config, GPT2Model

    from lsa.models.minilm import load_minilm

    print(f"load average {os.getloadavg()[0]:.1f}; cores visible: {os.cpu_count()}, affinity: {len(os.sched_getaffinity(0))}, BLAS threads: {args.threads}")
    with threadpool_limits(args.threads):
        minilm, _ = load_minilm(pretrained=True)
        t, c, n = timed(minilm, args.repeat)
        print(f"MiniLM-L6 (22.7M params): wall {t:.2f} s, CPU {c:.2f} s, {n} rows; target 1 s -> wall ratio "
              f"{t / 1.0:.2f}", flush=True)
        if not args.skip_gpt2:
            torch.manual_seed(0)
            gpt2 = GPT2Model(GPT2Config())
            n_par = sum(p.numel() for p in gpt2.parameters()) / 1e6
            t, c, n = timed(gpt2, args.repeat)
            print(f"GPT-2 small shape ({n_par:.1f}M params, random): wall {t:.2f} s, CPU {c:.2f} s, {n} rows; "
                  f"target 10 s -> wall ratio {t / 10.0:.2f}", flush=True)


if __name__ == "__main__":
    main()
