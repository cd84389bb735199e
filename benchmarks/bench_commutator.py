"""Fast vs direct commutator magnitude at hidden widths 256..4096: same answer, speed ratio (one run).

Pair shape: W_l is (n, n/4), W_{l+1} is (n/4, n) — a wide hidden layer as in transformer MLPs.
Usage: python benchmarks/bench_commutator.py [--widths 256 512 1024 2048 4096] [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from lsa.alignment.commutator import commutator_direct, commutator_fast


def best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        val = fn()
        times.append(time.perf_counter() - t)
    return min(times), val


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: library default)")
    ap.add_argument("--ratio", type=int, default=4, help="hidden width / outer width")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with threadpool_limits(args.threads):
        print(f"{'width':>6} {'direct s':>10} {'fast s':>10} {'speed-up':>9} {'rel err':>10}")
        for n in args.widths:
            m = max(n // args.ratio, 1)
            W1 = rng.standard_normal((n, m)) * np.linspace(2, 0.1, m)
            W2 = rng.standard_normal((m, n))
            td, d = best_time(lambda W1=W1, W2=W2: commutator_direct(W1, W2), args.repeat)
            tf, f = best_time(lambda W1=W1, W2=W2: commutator_fast(W1, W2), args.repeat)
            print(f"{n:>6} {td:>10.4f} {tf:>10.4f} {td / tf:>9.1f} {abs(f - d) / d:>10.2e}", flush=True)


if __name__ == "__main__":
    main()
