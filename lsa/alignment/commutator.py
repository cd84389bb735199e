"""Weight-only commutator magnitude ``c_l = ‖[P_l, Q_l]‖_F / (‖P_l‖_F ‖Q_l‖_F)``.

``0 ≤ c_l ≤ √2`` (Böttcher–Wenzel); ``c_l = 0`` iff the read and write Grams share an eigenbasis (Level-3
alignment up to ordering). Two exact algorithms: the direct ``n_l × n_l`` product and the fast formula that
only forms ``n_{l±1}``-sized products, for wide hidden layers (transformer MLPs).
"""

from __future__ import annotations

import numpy as np

from lsa.alignment.imbalance import grams
from lsa.linalg import as_float64

METHODS = ("auto", "direct", "fast")


def commutator_direct(W_l, W_next) -> float:
    """``c_l`` from the explicit commutator ``P Q − Q P`` (cost ``O(n_l³)``)."""
    P, Q = grams(W_l, W_next)
    nP, nQ = np.linalg.norm(P), np.linalg.norm(Q)
    if nP == 0 or nQ == 0:
        return 0.0
    PQ = P @ Q
    return float(np.linalg.norm(PQ - PQ.T) / (nP * nQ))  # (PQ)ᵀ = QP for symmetric P, Q


def commutator_fast(W_l, W_next) -> float:
    """``c_l`` without forming ``n_l × n_l`` matrices.

    With ``A = W_{l+1}``, ``B = W_l``, ``M = A B``, ``S = A Aᵀ``, ``R = Bᵀ B``:
    ``‖[P, Q]‖_F² = 2 (tr(S M R Mᵀ) − ‖M Mᵀ‖_F²)``, ``‖P‖_F = ‖S‖_F``, ``‖Q‖_F = ‖R‖_F``.
    """
    B, A = as_float64(W_l), as_float64(W_next)
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"W_next reads {A.shape[1]} dims but W_l writes {B.shape[0]}: not an adjacent pair")
    M, S, R = A @ B, A @ A.T, B.T @ B
    nP, nQ = np.linalg.norm(S), np.linalg.norm(R)
    if nP == 0 or nQ == 0:
        return 0.0
    sq = 2.0 * (np.sum((S @ M) * (M @ R)) - np.linalg.norm(M @ M.T) ** 2)
    return float(np.sqrt(max(sq, 0.0)) / (nP * nQ))


def commutator_magnitude(W_l, W_next, method: str = "auto") -> float:
    """Normalised commutator magnitude of an adjacent pair.

    Parameters
    ----------
    W_l, W_next : array_like
        Adjacent weights in ``nn.Linear`` orientation (``W_next @ W_l`` is defined).
    method : {"auto", "direct", "fast"}
        ``"auto"`` takes the cheaper exact algorithm: fast when the hidden width exceeds both outer widths
        (transformer MLPs), direct otherwise. The fast formula subtracts two nearly equal traces, so it cannot
        resolve commutators below about 1e-8; ask for ``"direct"`` when such tiny values matter.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        n_prev, n_l, n_next = np.shape(W_l)[1], np.shape(W_l)[0], np.shape(W_next)[0]
        method = "fast" if n_l > max(n_prev, n_next) else "direct"
    return commutator_direct(W_l, W_next) if method == "direct" else commutator_fast(W_l, W_next)
