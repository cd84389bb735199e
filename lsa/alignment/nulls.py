"""Rotation null of the commutator magnitude and z-scores.

The rotation null replaces ``W_l`` by ``O W_l`` with Haar-random ``O ∈ O(n_l)``: both Gram spectra are kept
and only the relative orientation of read and write sides is randomised. Only the spectra and the
``r_read × r_write`` block ``C = V_Pᵀ O U_Q`` of a Haar matrix matter:
``‖[P, OQOᵀ]‖_F² = 2 (Σ_ij p_i² q_j² C_ij² − tr((D_p C D_q Cᵀ)²))``. ``C`` is sampled exactly without any
``n_l × n_l`` matrix: ``C = G_top L⁻ᵀ`` with ``L Lᵀ = G_topᵀ G_top + Wishart(n_l − r_read)`` (Bartlett), which is
the top block of the Q factor of a Gaussian ``n_l × r_write`` matrix.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from lsa.linalg import as_float64


def gram_spectra(W_l, W_next, rtol: float = 1e-12):
    """Nonzero eigenvalues of ``P = W_{l+1}ᵀW_{l+1}`` and ``Q = W_l W_lᵀ`` (squared singular values)."""
    W_l, W_next = as_float64(W_l), as_float64(W_next)
    if W_l.ndim != 2 or W_next.ndim != 2 or W_next.shape[1] != W_l.shape[0]:
        raise ValueError(f"need adjacent 2-D weights, got {W_l.shape} and {W_next.shape}")
    p = np.linalg.svd(W_next, compute_uv=False) ** 2
    q = np.linalg.svd(W_l, compute_uv=False) ** 2
    return p[p > rtol * max(p.max(initial=0), 1e-300)], q[q > rtol * max(q.max(initial=0), 1e-300)], W_l.shape[0]


def _bartlett(m: int, r: int, rng) -> np.ndarray:
    """Lower-triangular ``B`` with ``B Bᵀ ~ Wishart(m, I_r)`` (Bartlett decomposition), ``m ≥ r``."""
    B = np.tril(rng.standard_normal((r, r)), -1)
    B[np.diag_indices(r)] = np.sqrt(rng.chisquare(m - np.arange(r)))
    return B


def haar_block(n: int, r1: int, r2: int, rng, dtype=np.float64) -> np.ndarray:
    """The top-left ``r1 × r2`` block of a Haar-random ``n × n`` orthogonal matrix, in ``O(r³)`` work.

    ``dtype=np.float32`` halves the cost for Monte-Carlo nulls of wide layers (the null is a sampling
    estimate; its Monte-Carlo error dwarfs float32 rounding).
    """
    if not (1 <= r1 <= n and 1 <= r2 <= n):
        raise ValueError(f"block {r1}×{r2} does not fit in O({n})")
    if n - r1 < r2:  # Wishart of the remaining rows would be singular: fall back to a full QR
        Z, R = np.linalg.qr(rng.standard_normal((n, r2)))
        return (Z * np.sign(np.diag(R)))[:r1]
    G = rng.standard_normal((r1, r2)).astype(dtype)
    B = _bartlett(n - r1, r2, rng).astype(dtype)
    L = np.linalg.cholesky(G.T @ G + B @ B.T)
    return solve_triangular(L, G.T, lower=True).T  # G L^{-T}


def commutator_from_spectra(p, q, C) -> float:
    """Normalised ``‖[P, OQOᵀ]‖_F / (‖P‖_F ‖Q‖_F)`` given the spectra and the block ``C = V_Pᵀ O U_Q``."""
    p, q = np.asarray(p, dtype=C.dtype), np.asarray(q, dtype=C.dtype)
    X = (p[:, None] * C) * q[None, :] @ C.T  # D_p C D_q Cᵀ
    t1 = float(np.sum((p[:, None] ** 2) * (C**2) * (q[None, :] ** 2)))
    t2 = float(np.sum(X * X.T))
    denom = np.linalg.norm(p) * np.linalg.norm(q)
    return float(np.sqrt(max(2.0 * (t1 - t2), 0.0)) / denom) if denom > 0 else 0.0


def rotation_null(W_l, W_next, n_draws: int = 100, seed: int = 0) -> dict:
    """Rotation-null distribution of the commutator magnitude of an adjacent pair.

    Parameters
    ----------
    W_l, W_next : array_like
        Adjacent weights in ``nn.Linear`` orientation.
    n_draws : int
        Number of Haar rotations.
    seed : int
        Seed of the rotations.

    Returns
    -------
    dict
        ``mean``, ``sd`` and ``values`` (array of the ``n_draws`` null commutators).
    """
    if n_draws < 2:
        raise ValueError(f"n_draws must be at least 2 to estimate a spread, got {n_draws}")
    p, q, n = gram_spectra(W_l, W_next)
    return rotation_null_spectra(p, q, n, n_draws, seed)


def rotation_null_spectra(p, q, n: int, n_draws: int = 100, seed: int = 0, dtype=np.float64) -> dict:
    """:func:`rotation_null` from the Gram spectra ``p``, ``q`` and the hidden width ``n``.

    ``dtype=np.float32`` runs the Monte-Carlo draws in single precision (wide layers in
    :func:`lsa.alignment.diagnose.diagnose`).
    """
    rng = np.random.default_rng(seed)
    if len(p) == 0 or len(q) == 0:
        vals = np.zeros(n_draws)
    else:
        p = np.asarray(p, dtype=np.float64) / np.max(p)  # scale-free statistic: normalise before float32
        q = np.asarray(q, dtype=np.float64) / np.max(q)
        vals = np.array(
            [commutator_from_spectra(p, q, haar_block(n, len(p), len(q), rng, dtype)) for _ in range(n_draws)],
            dtype=np.float64,
        )
    return {"mean": float(vals.mean()), "sd": float(vals.std(ddof=1)), "values": vals}


def rotation_null_direct(W_l, W_next, n_draws: int = 100, seed: int = 0) -> np.ndarray:
    """Reference implementation: explicit Haar ``O ∈ O(n_l)`` and the direct commutator (tests only; O(n³))."""
    from lsa.alignment.commutator import commutator_direct
    from lsa.linalg import random_orthogonal

    rng = np.random.default_rng(seed)
    W_l = as_float64(W_l)
    return np.array([commutator_direct(random_orthogonal(W_l.shape[0], rng) @ W_l, W_next) for _ in range(n_draws)])


def null_zscore(value: float, null: dict) -> float:
    """``(value − mean) / sd`` of a null from :func:`rotation_null` (``nan`` when the null has no spread)."""
    sd = null["sd"]
    return float((value - null["mean"]) / sd) if sd > 0 else float("nan")


def rotation_null_many(spectra, n: int, n_draws: int = 100, seed: int = 0) -> list[dict]:
    """Rotation nulls of many small pairs sharing the hidden width ``n`` (e.g. every head of a layer).

    The same batch of Haar rotations (batched QR) serves every pair, so the cost is one ``n × n`` QR per
    draw. ``spectra`` is a list of ``(p, q)`` Gram spectra (from :func:`gram_spectra`).

    Returns
    -------
    list of dict
        ``mean`` and ``sd`` per pair.
    """
    if n_draws < 2:
        raise ValueError(f"n_draws must be at least 2, got {n_draws}")
    rng = np.random.default_rng(seed)
    Qs, Rs = np.linalg.qr(rng.standard_normal((n_draws, n, n)))
    Qs = Qs * np.sign(np.diagonal(Rs, axis1=1, axis2=2))[:, None, :]
    out = []
    for p, q in spectra:
        p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
        if len(p) == 0 or len(q) == 0:
            out.append({"mean": 0.0, "sd": 0.0})
            continue
        C = Qs[:, : len(p), : len(q)]
        X = (p[None, :, None] * C * q[None, None, :]) @ np.swapaxes(C, 1, 2)
        t1 = np.sum((p[None, :, None] ** 2) * C**2 * (q[None, None, :] ** 2), axis=(1, 2))
        t2 = np.sum(X * np.swapaxes(X, 1, 2), axis=(1, 2))
        vals = np.sqrt(np.maximum(2 * (t1 - t2), 0)) / (np.linalg.norm(p) * np.linalg.norm(q))
        out.append({"mean": float(vals.mean()), "sd": float(vals.std(ddof=1))})
    return out
