"""Benchmark of issue 4: randomized (JVP/VJP-driven) vs dense top-k Jacobian singular subspaces.

Run ``python -m lsa.gsa.benchmark`` (or call :func:`jacobian_subspace_benchmark`). No timed tests use it;
its output is quoted in the Part II notes. Used by the ``pam_certificates`` chapter's appendix text.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from lsa.gsa.jacobian import MeanChannelJacobian
from lsa.gsa.spectra import dense_spectrum, randomized_spectrum
from lsa.linalg import principal_angles, random_orthogonal


def power_law_block(d: int, decay: float = 1.5, seed: int = 0, dtype=torch.float32) -> torch.nn.Module:
    """A token-wise block x -> W2 tanh(W1 x) whose linear part has singular values i^-decay (random bases).

    Used by the Part II benchmark (issue 4; quoted in the notes, no chapter).
    """
    rng = np.random.default_rng(seed)
    s = np.arange(1, d + 1, dtype=np.float64) ** (-decay)
    W1 = random_orthogonal(d, rng) @ np.diag(s) @ random_orthogonal(d, rng).T
    W2 = random_orthogonal(d, rng)
    net = torch.nn.Sequential(torch.nn.Linear(d, d, bias=False), torch.nn.Tanh(), torch.nn.Linear(d, d, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(W1 * np.sqrt(d)))
        net[2].weight.copy_(torch.as_tensor(W2))
    return net.to(dtype).eval()


def jacobian_subspace_benchmark(widths=(512, 1024, 2048), k: int = 16, n_probe: int = 4, tokens: int = 2,
                                decay: float = 1.5, oversample: int = 10, n_iter: int = 2, seed: int = 0,
                                chunk: int = 128) -> list[dict]:
    """Time dense (d JVPs + full SVD) against randomized SVD (about (2 q + 2)(k + p) JVP/VJPs) of the mean
    channel Jacobian of :func:`power_law_block`, and compare the top-k subspaces.

    Returns one record per width: ``dense_s``, ``randomized_s``, ``speedup``, ``max_angle_left`` /
    ``max_angle_right`` (radians), ``sv_rel_err`` (max relative error of the top-k singular values).

    Used by the Part II benchmark (issue 4; quoted in the notes, no chapter).
    """
    out = []
    torch.manual_seed(seed)
    for d in widths:
        block = power_law_block(d, decay, seed)
        x = torch.randn(n_probe, tokens, d, generator=torch.Generator().manual_seed(seed))
        op = MeanChannelJacobian(block, x, -1, chunk)
        op._matmat(np.eye(d, chunk)), op._rmatmat(np.eye(d, chunk))  # warm-up (first-call overheads)
        t0 = time.perf_counter()
        dense = dense_spectrum(op.dense())
        t1 = time.perf_counter()
        rnd = randomized_spectrum(op, k, oversample, n_iter, seed, fro2=dense.fro2)
        t2 = time.perf_counter()
        out.append({"width": d, "k": k, "dense_s": t1 - t0, "randomized_s": t2 - t1,
                    "speedup": (t1 - t0) / (t2 - t1),
                    "max_angle_left": float(principal_angles(dense.U[:, :k], rnd.U).max()),
                    "max_angle_right": float(principal_angles(dense.Vt[:k].T, rnd.Vt.T).max()),
                    "sv_rel_err": float(np.max(np.abs(rnd.s - dense.s[:k]) / dense.s[:k])),
                    "gap_k": float((dense.s[k - 1] - dense.s[k]) / dense.s[k - 1])})
    return out


if __name__ == "__main__":
    print(json.dumps(jacobian_subspace_benchmark(), indent=1))
