"""Batched grid training (``train_mlp_grid``) vs one network at a time (``train_mlp``), side by side.

For the `default` grid of each Part I chapter that trains grids of small networks — ``alignment_ridge``
(5 activations × 5 λ), ``alignment_commutator`` (5 activations × 3 λ) and ``neural_collapse_levels``
(2 activations × 3 λ, cross-entropy, NC metrics logged) — trains the same members both ways for ``--steps``
steps with the chapter's logging cadence and prints the wall time of each and their ratio. The cost per step
is constant along a run, so a short run gives the ratio of the full one. The two paths' trajectories agree
to 1e-10 (tests/test_alignment_batched.py); the largest difference of this run is printed too.

Timings are wall-clock on whatever else the machine is doing: on a shared CPU, read the ratio, not the
seconds, and repeat (``--repeat``, best of).

Usage: python benchmarks/bench_batched.py [--steps 200] [--repeat 1] [--device cpu|cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from lsa.alignment.nc_training import nc_callback
from lsa.alignment.training import TrainConfig, train_mlp, train_mlp_grid
from lsa.data.mixtures import gaussian_mixture
from lsa.data.regression import teacher_regression

ACTS = ["identity", "relu", "tanh", "leaky_relu", "gelu"]


def grids(steps: int, device: str) -> dict:
    """The default grids of the three chapters: ``name -> (X, Y, configs, callback or None)``."""
    X, Y = teacher_regression(seed=0)
    ridge = TrainConfig(widths=(20, 32, 32, 5), steps=steps, lr=0.05, log_every=25, device=device)
    comm = replace(ridge, log_every=50)
    Xm, ym = gaussian_mixture(4, 32, 100, 0.8, seed=0)
    nc = TrainConfig(
        widths=(32, 64, 64, 64, 4), steps=steps, lr=0.2, loss="ce", log_every=50, init_gain=2.0, device=device
    )
    return {
        "alignment_ridge": (
            X,
            Y,
            [replace(ridge, activation=a, weight_decay=lam) for a in ACTS for lam in (0, 3e-3, 1e-2, 2e-2, 3e-2)],
            None,
        ),
        "alignment_commutator": (
            X,
            Y,
            [replace(comm, activation=a, weight_decay=lam) for a in ACTS for lam in (0, 1e-2, 3e-2)],
            None,
        ),
        "neural_collapse_levels": (
            Xm,
            ym,
            [replace(nc, activation=a, weight_decay=lam) for a in ("relu", "identity") for lam in (0, 1e-3, 5e-3)],
            nc_callback(Xm, ym),
        ),
    }


def best(fn, repeat):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the chapters use 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, {args.steps} steps, best of {args.repeat}, torch threads {args.threads}")
    print(f"{'chapter grid':<24} {'members':>7} {'one at a time s':>16} {'batched s':>10} {'ratio':>7} {'max diff':>9}")
    for name, (X, Y, cfgs, cb) in grids(args.steps, args.device).items():
        callbacks = None if cb is None else [cb] * len(cfgs)
        t_one, ref = best(
            lambda X=X, Y=Y, cfgs=cfgs, cb=cb: [train_mlp(X, Y, c, callback=cb) for c in cfgs], args.repeat
        )
        t_bat, got = best(
            lambda X=X, Y=Y, cfgs=cfgs, cbs=callbacks: train_mlp_grid(X, Y, cfgs, callbacks=cbs), args.repeat
        )
        diff = max(float(np.nanmax(np.abs(a[1].to_numpy(float) - b[1].to_numpy(float)))) for a, b in zip(ref, got))
        print(f"{name:<24} {len(cfgs):>7} {t_one:>16.2f} {t_bat:>10.2f} {t_one / t_bat:>7.1f} {diff:>9.1e}")


if __name__ == "__main__":
    main()
