"""Benchmark: randomized (JVP/VJP-driven) vs dense top-k Jacobian singular subspaces.

Usage: python benchmarks/bench_jacobian_subspace.py. No timed test uses it; it reports times and ratios
measured side by side in one run.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from lsa.gsa.jacobian import MeanChannelJacobian
from lsa.linalg import principal_angles, random_orthogonal, randomized_svd


def power_law_block(d: int, decay: float = 1.5, seed: int = 0, dtype=torch.float32) -> torch.nn.Module:
    """A token-wise block x -> W2 tanh(W1 x) whose linear part has singular values i^-decay (random bases)."""
    rng = np.random.default_rng(seed)
    s = np.arange(1, d + 1, dtype=np.float64) ** (-decay)
    W1 = random_orthogonal(d, rng) @ np.diag(s) @ random_orthogonal(d, rng).T
    W2 = random_orthogonal(d, rng)
    net = torch.nn.Sequential(torch.nn.Linear(d, d, bias=False), torch.nn.Tanh(), torch.nn.Linear(d, d, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(W1 * np.sqrt(d)))
        net[2].weight.copy_(torch.as_tensor(W2))
    return net.to(dtype).eval()


def _best_time(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def jacobian_subspace_benchmark(
    widths=(512, 1024, 2048),
    k: int = 16,
    n_probe: int = 4,
    tokens: int = 2,
    decay: float = 1.5,
    oversample: int = 10,
    n_iter: int = 3,
    seed: int = 0,
    chunk: int = 128,
    repeat: int = 3,
) -> list[dict]:
    """Time dense (``d`` JVPs + full SVD) against randomized block Krylov and subspace iteration, each
    ``(2 q + 2)(k + p)`` JVP/VJPs, of the mean channel Jacobian of :func:`power_law_block`, and compare the
    top-k singular subspaces with the dense ones.

    The dense baseline gets its best setting: it is timed with NumPy's BLAS on every core and on one,
    and the faster counts. Each time is the best of ``repeat``. Singular values decay as ``i^-decay``,
    so the relative gap at ``k`` is only about ``1.5 / k`` (slow decay: the hard case for sketches).

    Returns one record per width: ``dense_s`` (``dense_s_blas_all``, ``dense_s_blas_1``), then per method
    (``krylov``, ``subspace``) ``{method}_s``, ``{method}_speedup``, ``{method}_max_angle`` (radians, the
    larger of left and right) and ``{method}_sv_rel_err``; ``gap_k`` and ``products``.
    """
    from threadpoolctl import threadpool_limits

    out = []
    for d in widths:
        block = power_law_block(d, decay, seed)
        x = torch.randn(n_probe, tokens, d, generator=torch.Generator().manual_seed(seed))
        op = MeanChannelJacobian(block, x, -1, chunk)
        op._matmat(np.eye(d, chunk)), op._rmatmat(np.eye(d, chunk))  # warm-up (first-call overheads)

        def dense(op=op):
            return np.linalg.svd(op.dense(), full_matrices=False)

        t_all, (U, s, Vt) = _best_time(dense, repeat)
        with threadpool_limits(1, user_api="blas"):
            t_one, _ = _best_time(dense, repeat)
        rec = {
            "width": d,
            "k": k,
            "oversample": oversample,
            "n_iter": n_iter,
            "products": (2 * n_iter + 2) * (k + oversample),
            "dense_s": min(t_all, t_one),
            "dense_s_blas_all": t_all,
            "dense_s_blas_1": t_one,
            "gap_k": float((s[k - 1] - s[k]) / s[k - 1]),
        }
        for method in ("krylov", "subspace"):
            t, (Ur, sr, Vtr) = _best_time(
                lambda op=op, method=method: randomized_svd(op, k, oversample, n_iter, seed, method, blas_threads=1),
                repeat,
            )
            rec |= {
                f"{method}_s": t,
                f"{method}_speedup": rec["dense_s"] / t,
                f"{method}_max_angle": float(
                    max(principal_angles(U[:, :k], Ur).max(), principal_angles(Vt[:k].T, Vtr.T).max())
                ),
                f"{method}_sv_rel_err": float(np.max(np.abs(sr - s[:k]) / s[:k])),
            }
        out.append(rec)
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="randomized vs dense top-k Jacobian subspaces (Part II benchmark)")
    ap.add_argument("--widths", type=int, nargs="+", default=[512, 1024, 2048])
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--oversample", type=int, default=10)
    ap.add_argument("--n-iter", type=int, default=3)
    args = ap.parse_args()
    recs = jacobian_subspace_benchmark(tuple(args.widths), args.k, oversample=args.oversample, n_iter=args.n_iter)
    for r in recs:
        print(
            f"width {r['width']}: dense {r['dense_s']:.3f} s | krylov {r['krylov_s']:.3f} s "
            f"({r['krylov_speedup']:.1f}x, angle {r['krylov_max_angle']:.1e} rad) | subspace "
            f"{r['subspace_s']:.3f} s ({r['subspace_speedup']:.1f}x, angle {r['subspace_max_angle']:.1e} rad) | "
            f"{r['products']} products, gap at k {r['gap_k']:.3f}"
        )
    print(json.dumps(recs, indent=1))
