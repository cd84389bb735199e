"""Level-2 (subspace) and Level-3 (basis) alignment scores of an adjacent pair.

For the pair ``(W_l, W_{l+1})`` the write subspace is the top-``k`` left singular subspace of ``W_l`` and the
read subspace the top-``k'`` right singular subspace of ``W_{l+1}``, both in ``R^{n_l}``.

* Level 2 (subspace): soft overlap ``s̄ = ‖U_kᵀ V_k‖_F² / k`` and numerical intersection dimensions ``d_τ``.
* Level 3 (basis): order-matched ``mean_i |<u_i, v_i>|`` and the order-free Hungarian-matched mean
  (robust to near-degenerate singular values that swap order).
* Defects of the polystable stratum ``a_l = k − d_τ`` (written, not read) and ``b_l = k' − d_τ``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from lsa.alignment.commutator import commutator_magnitude
from lsa.linalg import (
    as_float64,
    chance_soft_overlap,
    effective_rank,
    generic_intersection_dim,
    intersection_dim,
    soft_overlap,
    top_subspace,
)

TAUS = (1e-1, 1e-2, 1e-3)


def basis_scores(U, V) -> dict[str, float]:
    """Order-matched and Hungarian-matched basis alignment of two ordered orthonormal bases.

    Parameters
    ----------
    U, V : array_like, shape (n, k)
        Ordered orthonormal bases (columns by decreasing singular value); only the first
        ``min(k, k')`` columns of each are compared.

    Returns
    -------
    dict
        ``matched`` = mean ``|<u_i, v_i>|``; ``hungarian`` = mean of ``|<u_i, v_{π(i)}>|`` under the
        assignment ``π`` maximising the sum; ``per_direction`` = the order-matched values.
    """
    U, V = as_float64(U), as_float64(V)
    if U.ndim != 2 or V.ndim != 2 or U.shape[0] != V.shape[0]:
        raise ValueError(f"bases must be n×k and n×k' with the same n, got {U.shape} and {V.shape}")
    m = min(U.shape[1], V.shape[1])
    if m == 0:
        return {"matched": 0.0, "hungarian": 0.0, "per_direction": np.zeros(0)}
    C = np.abs(U[:, :m].T @ V[:, :m])
    diag = np.diag(C).copy()
    rows, cols = linear_sum_assignment(-C)
    return {"matched": float(diag.mean()), "hungarian": float(C[rows, cols].mean()), "per_direction": diag}


def pair_subspaces(W_l, W_next):
    """SVD factors of an adjacent pair: ``(U, s_l)`` left of ``W_l`` and ``(V, s_next)`` right of ``W_{l+1}``."""
    W_l, W_next = as_float64(W_l), as_float64(W_next)
    if W_l.ndim != 2 or W_next.ndim != 2 or W_next.shape[1] != W_l.shape[0]:
        raise ValueError(
            f"need 2-D adjacent weights with W_next.shape[1] == W_l.shape[0], got {W_l.shape} and {W_next.shape}"
        )
    U, s_l, _ = np.linalg.svd(W_l, full_matrices=False)
    _, s_n, Vt = np.linalg.svd(W_next, full_matrices=False)
    return U, s_l, Vt.T, s_n


def level_scores_from_bases(U, s_l, V, s_next, n: int, k: int | None = None, energy: float = 0.9, taus=TAUS) -> dict:
    """Level-2/3 scores from precomputed ordered singular bases (``U``: write side, ``V``: read side).

    See :func:`level_scores`; this entry point lets :func:`lsa.alignment.diagnose.diagnose` reuse Gram-based
    factors of wide layers.
    """
    k_w = effective_rank(s_l, energy)
    k_r = effective_rank(s_next, energy)
    if k is None:
        k = min(k_w, k_r)
    k = int(k)
    if not 1 <= k <= min(U.shape[1], V.shape[1]):
        raise ValueError(f"k={k} must lie in [1, {min(U.shape[1], V.shape[1])}] for this pair")
    Uk, Vk = U[:, :k], V[:, :k]
    out = {
        "n": int(n),
        "k": k,
        "k_write": int(k_w),
        "k_read": int(k_r),
        "level2_soft": soft_overlap(Uk, Vk),
        "level2_chance": chance_soft_overlap(k, k, n),
        "generic_dim": generic_intersection_dim(k, k, n),
    }
    for tau in taus:
        d = intersection_dim(Uk, Vk, tau)
        out[f"level2_dim_tau{tau:g}"] = d
    d_wr = intersection_dim(U[:, :k_w], V[:, :k_r], 1e-2)  # stratum defects a_l, b_l at effective ranks
    out["defect_written_not_read"] = k_w - d_wr
    out["defect_read_not_written"] = k_r - d_wr
    b = basis_scores(Uk, Vk)
    out["level3_matched"], out["level3_hungarian"] = b["matched"], b["hungarian"]
    return out


def level_scores(W_l, W_next, k: int | None = None, energy: float = 0.9, taus=TAUS, commutator: bool = True) -> dict:
    """Level-2 and Level-3 alignment scores of an adjacent pair ``(W_l, W_{l+1})``.

    Parameters
    ----------
    W_l : array_like, shape (n_l, n_{l-1})
        Writes into the hidden space (``nn.Linear`` orientation).
    W_next : array_like, shape (n_{l+1}, n_l)
        Reads from it.
    k : int, optional
        Common subspace dimension; default the smaller of the two effective ranks at ``energy``.
    energy : float
        Singular-energy threshold of the effective ranks.
    taus : sequence of float
        Tolerances of the numerical intersection dimension ``d_τ`` (``cos θ ≥ 1 − τ``).
    commutator : bool
        Also return the weight-only commutator magnitude ``c_l``.

    Returns
    -------
    dict
        ``level2_soft`` (``s̄``), ``level2_chance`` (``k/n``), ``level2_dim_tau<τ>``, ``generic_dim``,
        ``level3_matched``, ``level3_hungarian``, ``k``, ``k_write``, ``k_read``, ``n``, the defects and
        ``commutator``.
    """
    U, s_l, V, s_n = pair_subspaces(W_l, W_next)
    out = level_scores_from_bases(U, s_l, V, s_n, n=U.shape[0], k=k, energy=energy, taus=taus)
    if commutator:
        out["commutator"] = commutator_magnitude(W_l, W_next)
    return out


def overlap_scores(C_full, s_l, s_next, n: int, k: int | None = None, energy: float = 0.9, taus=TAUS) -> dict:
    """Level-2/3 scores from the overlap matrix ``C_full = U_{k_w}ᵀ V_{k_r}`` of the ordered singular bases.

    Same outputs as :func:`level_scores_from_bases` (cosines of principal angles from the singular
    values of ``C``; accurate for ``τ ≥ 1e-6``).
    """
    k_w, k_r = effective_rank(s_l, energy), effective_rank(s_next, energy)
    k = min(k_w, k_r) if k is None else int(k)
    C = C_full[:k, :k]
    cos = np.clip(np.linalg.svd(C, compute_uv=False), 0, 1)
    out = {
        "n": int(n),
        "k": k,
        "k_write": int(k_w),
        "k_read": int(k_r),
        "level2_soft": float(np.sum(C**2) / k),
        "level2_chance": chance_soft_overlap(k, k, n),
        "generic_dim": generic_intersection_dim(k, k, n),
    }
    for tau in taus:
        out[f"level2_dim_tau{tau:g}"] = int(np.sum(cos >= 1 - tau - 1e-15))
    cos_wr = np.clip(np.linalg.svd(C_full[:k_w, :k_r], compute_uv=False), 0, 1)
    d_wr = int(np.sum(cos_wr >= 1 - 1e-2 - 1e-15))
    out["defect_written_not_read"], out["defect_read_not_written"] = k_w - d_wr, k_r - d_wr
    A = np.abs(C)
    rows, cols = linear_sum_assignment(-A)
    out["level3_matched"], out["level3_hungarian"] = float(np.diag(A).mean()), float(A[rows, cols].mean())
    return out


def gram_factors(W_l, W_next, S_eig=None) -> dict:
    """Outer-space Grams ``R = W_lᵀW_l``, ``S = W_{l+1}W_{l+1}ᵀ``, product ``M = W_{l+1}W_l`` and their eigen-factors.

    For a wide hidden layer (``n_l`` > both outer widths) every pair quantity follows from these small
    matrices: singular values ``s = √eig``, and ``U_wᵀ V_r = diag(1/s_l) V_Rᵀ Mᵀ U_S diag(1/s_next)``.
    ``S_eig = (S, w, U)``, the Gram ``S`` with its eigenvalues and eigenvectors in descending order, skips
    recomputing them when several pairs share ``W_{l+1}`` (:func:`lsa.alignment.diagnose.diagnose`: gated MLPs,
    the write subspace).
    """
    B, A = as_float64(W_l), as_float64(W_next)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"need adjacent 2-D weights, got {B.shape} and {A.shape}")
    R, M = B.T @ B, A @ B
    wR, VR = np.linalg.eigh(R)
    wR, VR = wR[::-1].clip(0), VR[:, ::-1]
    S, wS, US = outer_gram_eig(A) if S_eig is None else S_eig
    return {"R": R, "S": S, "M": M, "s_l": np.sqrt(wR), "VR": VR, "s_next": np.sqrt(wS), "US": US, "n": B.shape[0]}


def outer_gram_eig(A):
    """``S = A Aᵀ`` with its eigenvalues (descending, clipped at 0) and eigenvectors."""
    S = A @ A.T
    w, U = np.linalg.eigh(S)
    return S, w[::-1].clip(0), U[:, ::-1]


def level_scores_gram(W_l, W_next, k: int | None = None, energy: float = 0.9, taus=TAUS, factors=None) -> dict:
    """:func:`level_scores` for wide hidden layers without any ``n_l``-sized SVD (transformer MLPs).

    Singular vectors come from the eigen-decompositions of the small outer Grams; directions whose
    singular value is below ``1e-8 · s_max`` are dropped. Includes ``commutator`` (fast formula).
    """
    f = gram_factors(W_l, W_next) if factors is None else factors
    rl = int(np.sum(f["s_l"] > 1e-8 * f["s_l"][0])) if f["s_l"][0] > 0 else 0
    rn = int(np.sum(f["s_next"] > 1e-8 * f["s_next"][0])) if f["s_next"][0] > 0 else 0
    if rl == 0 or rn == 0:
        raise ValueError("one of the weights is zero: no subspaces to compare")
    s_l, s_n = f["s_l"][:rl], f["s_next"][:rn]
    C = (f["VR"][:, :rl].T @ f["M"].T @ f["US"][:, :rn]) / s_l[:, None] / s_n[None, :]
    out = overlap_scores(C, s_l, s_n, f["n"], k, energy, taus)
    S, R, M = f["S"], f["R"], f["M"]
    sq = 2.0 * (np.sum((S @ M) * (M @ R)) - np.linalg.norm(M @ M.T) ** 2)
    out["commutator"] = float(np.sqrt(max(sq, 0.0)) / (np.linalg.norm(S) * np.linalg.norm(R)))
    return out


def sin_theta_norm(W_l, W_next, k: int) -> float:
    """``‖sin Θ‖_F`` between the top-``k`` write subspace of ``W_l`` and the top-``k`` read subspace of ``W_{l+1}``.

    Computed as ``‖(I − U Uᵀ) V‖_F`` (``U``, ``V`` orthonormal ``n_l × k``), which stays accurate for tiny angles
    where ``sqrt(k − ‖Uᵀ V‖_F²)`` loses every digit. By a Davis–Kahan argument it is at most ``‖Δ_l‖_F / δ_k``
    (``δ_k`` the eigengap of the write Gram at ``k``), so once the gap is stable it decays at the imbalance's rate.
    """
    W_l, W_next = as_float64(W_l), as_float64(W_next)
    if W_next.shape[1] != W_l.shape[0]:
        raise ValueError(f"W_next reads {W_next.shape[1]} dims but W_l writes {W_l.shape[0]}: not an adjacent pair")
    if not 1 <= k <= min(W_l.shape[0], W_l.shape[1], W_next.shape[0]):
        raise ValueError(f"k must lie in [1, {min(W_l.shape[0], W_l.shape[1], W_next.shape[0])}], got {k}")
    U, _ = top_subspace(W_l, "left", k=k)
    V, _ = top_subspace(W_next, "right", k=k)
    return float(np.linalg.norm(V - U @ (U.T @ V)))


def davis_kahan_bound(W_l, W_next, k: int) -> float:
    """Yu–Wang–Samworth form of the Davis–Kahan bound on :func:`sin_theta_norm`.

    With ``Q = W_l W_lᵀ`` (eigenvalues ``q_1 ≥ q_2 ≥ …``), ``P = W_{l+1}ᵀ W_{l+1}`` and ``Δ = P − Q``:
    ``‖sin Θ‖_F ≤ 2 min(√k ‖Δ‖_2, ‖Δ‖_F) / (q_k − q_{k+1})`` for the top-``k`` eigenspaces of ``Q`` and ``P``
    (``inf`` when the gap is not positive). A theorem: it holds for any pair of weights.
    """
    W_l, W_next = as_float64(W_l), as_float64(W_next)
    P, Q = W_next.T @ W_next, W_l @ W_l.T
    D = P - Q
    q = np.sort(np.linalg.eigvalsh(Q))[::-1]
    if not 1 <= k < len(q):
        raise ValueError(f"k must lie in [1, {len(q) - 1}], got {k}")
    gap = q[k - 1] - q[k]
    if gap <= 0:
        return float("inf")
    return float(2 * min(np.sqrt(k) * np.linalg.norm(D, 2), np.linalg.norm(D)) / gap)
