"""Wall time of ``lsa.alignment.diagnose`` on the real MiniLM-L6 and on GPT-2-small-shaped random weights.

Targets: MiniLM ≤ 1 s, GPT-2 small (124M parameters, random weights from GPT2Config()) ≤ 10 s, on
2 cores. Prints, in one run, the default call (``n_jobs=-1``: one thread per core over layers, one BLAS
thread each) beside the serial call (``n_jobs=1``, one BLAS thread), their ratio, and each time's ratio
to its target. Usage: python benchmarks/bench_diagnose.py [--repeat 2] [--skip-gpt2]
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
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-gpt2", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)  # diagnose does no torch math beyond reading the weights
    from transformers import GPT2Config, GPT2Model

    from lsa.models.minilm import load_minilm

    print(
        f"load average {os.getloadavg()[0]:.1f}; cores visible: {os.cpu_count()}, "
        f"affinity: {len(os.sched_getaffinity(0))}"
    )
    minilm, _ = load_minilm(pretrained=True)
    models = [("MiniLM-L6 (22.7M params, pretrained)", minilm, 1.0)]
    if not args.skip_gpt2:
        torch.manual_seed(0)
        gpt2 = GPT2Model(GPT2Config())
        n_par = sum(p.numel() for p in gpt2.parameters()) / 1e6
        models.append((f"GPT-2 small shape ({n_par:.1f}M params, random)", gpt2, 10.0))
    for name, model, target in models:
        t_par, c_par, n = timed(model, args.repeat, n_jobs=-1)
        with threadpool_limits(1, user_api="blas"):
            t_ser, c_ser, _ = timed(model, args.repeat, n_jobs=1)
        print(
            f"{name}: {n} rows; n_jobs=-1 wall {t_par:.2f} s (CPU {c_par:.2f} s), n_jobs=1 wall {t_ser:.2f} s "
            f"-> parallel speed-up {t_ser / t_par:.2f}x; target {target:g} s -> ratio {t_par / target:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
