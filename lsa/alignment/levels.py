"""Level-2 (subspace) and Level-3 (basis) alignment scores of an adjacent pair (spec §2.4, §2.6, §2.7).

For the pair ``(W_l, W_{l+1})`` the write subspace is the top-``k`` left singular subspace of ``W_l`` and the
read subspace the top-``k'`` right singular subspace of ``W_{l+1}``, both in ``R^{n_l}``.

* Level 2 (subspace): soft overlap ``s̄ = ‖U_kᵀ V_k‖_F² / k`` and numerical intersection dimensions ``d_τ``.
* Level 3 (basis): order-matched ``mean_i |<u_i, v_i>|`` and the order-free Hungarian-matched mean
  (robust to near-degenerate singular values that swap order).
* Defects of the polystable stratum ``a_l = k − d_τ`` (written, not read) and ``b_l = k' − d_τ``.

Used by the commutator and neural-collapse chapters and by ``lsa.diagnose``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from lsa.alignment.commutator import commutator_magnitude
from lsa.linalg import (as_float64, chance_soft_overlap, effective_rank, generic_intersection_dim,
                        intersection_dim, soft_overlap)

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

    Used by the commutator and neural-collapse chapters (Level-3 scores).
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
        raise ValueError(f"need 2-D adjacent weights with W_next.shape[1] == W_l.shape[0], "
                         f"got {W_l.shape} and {W_next.shape}")
    U, s_l, _ = np.linalg.svd(W_l, full_matrices=False)
    _, s_n, Vt = np.linalg.svd(W_next, full_matrices=False)
    return U, s_l, Vt.T, s_n


def level_scores_from_bases(U, s_l, V, s_next, n: int, k: int | None = None, energy: float = 0.9,
                            taus=TAUS) -> dict:
    """Level-2/3 scores from precomputed ordered singular bases (``U``: write side, ``V``: read side).

    See :func:`level_scores`; this entry point lets ``lsa.diagnose`` reuse Gram-based factors of wide layers.
    """
    k_w = effective_rank(s_l, energy)
    k_r = effective_rank(s_next, energy)
    if k is None:
        k = min(k_w, k_r)
    k = int(k)
    if not 1 <= k <= min(U.shape[1], V.shape[1]):
        raise ValueError(f"k={k} must lie in [1, {min(U.shape[1], V.shape[1])}] for this pair")
    Uk, Vk = U[:, :k], V[:, :k]
    out = {"n": int(n), "k": k, "k_write": int(k_w), "k_read": int(k_r),
           "level2_soft": soft_overlap(Uk, Vk), "level2_chance": chance_soft_overlap(k, k, n),
           "generic_dim": generic_intersection_dim(k, k, n)}
    for tau in taus:
        d = intersection_dim(Uk, Vk, tau)
        out[f"level2_dim_tau{tau:g}"] = d
    d_wr = intersection_dim(U[:, :k_w], V[:, :k_r], 1e-2)  # defects a_l, b_l of §2.6 at effective ranks
    out["defect_written_not_read"] = k_w - d_wr
    out["defect_read_not_written"] = k_r - d_wr
    b = basis_scores(Uk, Vk)
    out["level3_matched"], out["level3_hungarian"] = b["matched"], b["hungarian"]
    return out


def level_scores(W_l, W_next, k: int | None = None, energy: float = 0.9, taus=TAUS,
                 commutator: bool = True) -> dict:
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
        Singular-energy threshold of the effective ranks (spec §2.4: 0.9; 0.99 also reported).
    taus : sequence of float
        Tolerances of the numerical intersection dimension ``d_τ`` (``cos θ ≥ 1 − τ``).
    commutator : bool
        Also return the weight-only commutator magnitude ``c_l`` (spec §2.8).

    Returns
    -------
    dict
        ``level2_soft`` (``s̄``), ``level2_chance`` (``k/n``), ``level2_dim_tau<τ>``, ``generic_dim``,
        ``level3_matched``, ``level3_hungarian``, ``k``, ``k_write``, ``k_read``, ``n``, the defects and
        ``commutator``.

    Used by the commutator chapter (claims C14, C15), the neural-collapse chapter and ``lsa.diagnose``.
    """
    U, s_l, V, s_n = pair_subspaces(W_l, W_next)
    out = level_scores_from_bases(U, s_l, V, s_n, n=U.shape[0], k=k, energy=energy, taus=taus)
    if commutator:
        out["commutator"] = commutator_magnitude(W_l, W_next)
    return out
