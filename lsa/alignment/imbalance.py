"""Imbalance ``Δ_l = W_{l+1}ᵀ W_{l+1} − W_l W_lᵀ`` of an adjacent pair and its diagonal / off-diagonal split."""

from __future__ import annotations

import numpy as np

from lsa.linalg import as_float64


def grams(W_l, W_next) -> tuple[np.ndarray, np.ndarray]:
    """Hidden-space Gram matrices ``(P_l, Q_l) = (W_{l+1}ᵀ W_{l+1}, W_l W_lᵀ)``, both ``n_l × n_l``.

    Parameters
    ----------
    W_l : array_like, shape (n_l, n_{l-1})
        Writes into the hidden space (``nn.Linear`` orientation).
    W_next : array_like, shape (n_{l+1}, n_l)
        Reads from the hidden space.
    """
    W_l, W_next = as_float64(W_l), as_float64(W_next)
    if W_next.shape[1] != W_l.shape[0]:
        raise ValueError(f"W_next reads {W_next.shape[1]} dims but W_l writes {W_l.shape[0]}: not an adjacent pair")
    return W_next.T @ W_next, W_l @ W_l.T


def imbalance(W_l, W_next) -> np.ndarray:
    """The imbalance matrix ``Δ_l = P_l − Q_l`` (minus the moment map of the hidden-layer symmetry)."""
    P, Q = grams(W_l, W_next)
    return P - Q


def imbalance_norms(W_l, W_next) -> dict[str, float]:
    """Frobenius norms of ``Δ_l``, of its diagonal and off-diagonal parts, and the relative imbalance.

    Returns
    -------
    dict
        ``total`` = ‖Δ‖_F, ``diag`` = ‖diag Δ‖_F, ``offdiag`` = ‖Δ − diag Δ‖_F and
        ``relative`` = ‖Δ‖_F / (‖P‖_F + ‖Q‖_F) ∈ [0, 1].

    For ReLU nets the diagonal decays at exactly the weight-decay rate while the off-diagonal part is
    driven by the commutator.
    """
    P, Q = grams(W_l, W_next)
    D = P - Q
    d = np.diag(D)
    total = float(np.linalg.norm(D))
    denom = float(np.linalg.norm(P) + np.linalg.norm(Q))
    return {
        "total": total,
        "diag": float(np.linalg.norm(d)),
        "offdiag": float(np.sqrt(max(total**2 - float(d @ d), 0.0))),
        "relative": total / denom if denom > 0 else 0.0,
    }
