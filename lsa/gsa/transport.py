"""Interface transport between adjacent factors, incidence matrices in physical channel coordinates, and
the truncation bounds T1 (empirical tails) and T2 (Gibbs–Cartan certified tails).

Protocol steps P5–P7.
"""

from __future__ import annotations

import math

import numpy as np

from lsa.gsa.spectra import Spectrum
from lsa.linalg import principal_angles


def _check_interface(src: Spectrum, k: int, dst: Spectrum, k2: int):
    if src.shape[0] != dst.shape[1]:
        raise ValueError(
            f"interface mismatch: factor l writes into a space of dimension {src.shape[0]} but "
            f"factor l+1 reads a space of dimension {dst.shape[1]} (expected equal)"
        )
    for name, s, kk in (("k", src, k), ("k'", dst, k2)):
        if not 1 <= kk <= s.K or (kk == s.K and s.K < s.r):
            raise ValueError(
                f"window {name}={kk} is larger than the known rank of its factor "
                f"(expected 1 <= {name} < K={s.K} or the full rank r={s.r})"
            )


def transport(src: Spectrum, k: int, dst: Spectrum, k2: int) -> dict:
    """Windowed mode-level transport T^w = V_{l+1,w'}^T U_{l,w} and its alignment scalars.

    Returns ``T`` (k' x k), ``W`` (weighted, Sigma' T Sigma), ``angles`` (principal angles, radians,
    ascending), ``theta_max``, ``kappa`` (captured energy fraction) and ``kappa0`` (unweighted).
    """
    _check_interface(src, k, dst, k2)
    T = dst.Vt[:k2] @ src.U[:, :k]
    S = src.s[:k]
    kappa = float(np.sum((T * S) ** 2) / np.sum(S**2)) if np.sum(S**2) > 0 else 0.0
    ang = principal_angles(src.U[:, :k], dst.Vt[:k2].T)
    return {
        "T": T,
        "W": (dst.s[:k2, None] * T) * S,
        "angles": ang,
        "theta_max": float(ang.max()) if ang.size else 0.0,
        "kappa": kappa,
        "kappa0": float(np.sum(T**2) / min(k, k2)),
    }


def source_incidence(src: Spectrum, k: int, dst: Spectrum, k2: int, A_next=None) -> tuple:
    """Source-mode incidence B^tr = U' Sigma' T^w Sigma and, when ``A_next`` is given, B^full = A_{l+1} U Sigma.

    ``A_next`` is the dense factor l+1 or anything with ``matmat``/``@`` (e.g. a JVP ``LinearOperator``).
    """
    _check_interface(src, k, dst, k2)
    L = src.U[:, :k] * src.s[:k]
    B_tr = (dst.U[:, :k2] * dst.s[:k2]) @ (dst.Vt[:k2] @ L)
    B_full = None
    if A_next is not None:
        B_full = A_next.matmat(L) if hasattr(A_next, "matmat") else np.asarray(A_next, np.float64) @ L
    return B_tr, B_full


def physical_incidence(src: Spectrum, k: int, dst: Spectrum, k2: int, A=None, A_next=None) -> tuple:
    """Fully physical incidence Phi^tr = A_{l+1}^(k') A_l^(k) and, with both factors, Phi^full = A_{l+1} A_l."""
    _check_interface(src, k, dst, k2)
    Phi_tr = (dst.U[:, :k2] * dst.s[:k2]) @ ((dst.Vt[:k2] @ src.U[:, :k]) * src.s[:k]) @ src.Vt[:k]
    Phi_full = None
    if A is not None and A_next is not None:
        Phi_full = np.asarray(A_next, np.float64) @ np.asarray(A, np.float64)
    return Phi_tr, Phi_full


def truncation_bounds(
    src: Spectrum, k: int, dst: Spectrum, k2: int, tail_src: float | None = None, tail_dst: float | None = None
) -> dict:
    """T1 bounds on ||B^full - B^tr|| and ||Phi^full - Phi^tr||; with model tails, the T2 (GC) versions.

    Parameters
    ----------
    src, dst : Spectrum
        Factors l and l+1 with windows k and k'.
    tail_src, tail_dst : float, optional
        Certified tail fractions tau_alphahat(k) + eps* of each factor. When given, ||S||_F^2 and
        ||Q||_F^2 are bounded by ||A||_F^2 times these (T2, "delta^GC"); otherwise the empirical tails.

    Returns
    -------
    dict with ``delta_cols`` (per-column bound on B), ``B_F``, ``Phi_2``, ``Phi_F``.
    """
    _check_interface(src, k, dst, k2)
    ts = float(src.tail(k)) if tail_src is None else max(float(src.tail(k)), float(tail_src))
    td = float(dst.tail(k2)) if tail_dst is None else max(float(dst.tail(k2)), float(tail_dst))
    S_F = math.sqrt(max(src.fro2 * ts, 0.0))  # ||A_l - A_l^(k)||_F
    Q_F = math.sqrt(max(dst.fro2 * td, 0.0))  # ||A_{l+1} - A_{l+1}^(k')||_F
    s1, s1n = src.sigma(1), dst.sigma(1)
    sk1, sk1n = src.sigma(k + 1), dst.sigma(k2 + 1)
    R_F = float(np.linalg.norm(src.s[:k]))
    return {
        "delta_cols": src.s[:k] * sk1n,
        "B_F": min(sk1n * R_F, Q_F * s1),
        "Phi_2": s1n * sk1 + sk1n * s1,
        "Phi_F": s1n * S_F + min(Q_F * s1, sk1n * R_F),
    }
