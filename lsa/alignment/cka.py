"""Linear CKA between layer representations (Kornblith et al. 2019, arXiv:1905.00414) — the activation-space
reference against which the weight-only diagnostics are validated — and Spearman correlations across layers
with an exact permutation null.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lsa.linalg import as_float64


def linear_cka(X, Y) -> float:
    """Linear CKA ``‖Ỹᵀ X̃‖_F² / (‖X̃ᵀ X̃‖_F ‖Ỹᵀ Ỹ‖_F)`` of column-centred ``X`` (N×p) and ``Y`` (N×q).

    Invariant to orthogonal transforms and isotropic scaling of either side; 1 for identical
    representations.
    """
    X, Y = as_float64(X), as_float64(Y)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must be N×p and N×q with the same N, got {X.shape} and {Y.shape}")
    X, Y = X - X.mean(0), Y - Y.mean(0)
    num = np.linalg.norm(Y.T @ X) ** 2
    den = np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)
    return float(num / den) if den > 0 else 0.0


@torch.no_grad()
def token_hidden_states(
    model, tokenizer, sentences: list[str], max_length: int = 64, batch_size: int = 32
) -> list[np.ndarray]:
    """Hidden states of every layer (embeddings first) at the non-padding tokens, float64 ``(N_tokens, d)``."""
    if not sentences:
        raise ValueError("need at least one sentence")
    dev = next(model.parameters()).device
    per_layer = None
    for i in range(0, len(sentences), batch_size):
        batch = tokenizer(
            sentences[i : i + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(dev)
        out = model(**batch, output_hidden_states=True)
        mask = batch["attention_mask"].bool()
        hs = [as_float64(h[mask]) for h in out.hidden_states]
        per_layer = [[h] for h in hs] if per_layer is None else [acc + [h] for acc, h in zip(per_layer, hs)]
    return [np.concatenate(h) for h in per_layer]


def consecutive_cka(states: list[np.ndarray]) -> list[float]:
    """``CKA(h_l, h_{l+1})`` for ``l = 0 … L−1`` (input and output of block ``l``)."""
    return [linear_cka(a, b) for a, b in zip(states, states[1:])]


def spearman_permutation_p(x, y, max_exact: int = 8, n_perm: int = 20000, seed: int = 0) -> float:
    """One-sided p-value of Spearman's ρ(x, y) > 0 under the permutation null (the order of ``y`` random).

    Exact (all ``n!`` orders, ties handled by average ranks) when ``n ≤ max_exact``; otherwise ``n_perm``
    seeded random orders, with the ``(1 + #{ρ* ≥ ρ}) / (1 + n_perm)`` estimate. With 6 layers the smallest
    attainable p is 1/720 and ρ ≥ 0.83 is needed for p ≤ 0.05.
    """
    from itertools import permutations

    from scipy.stats import rankdata

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3:
        raise ValueError(f"need two 1-D arrays of the same length ≥ 3, got shapes {x.shape} and {y.shape}")
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = np.sqrt((rx @ rx) * (ry @ ry))
    if denom == 0:
        return 1.0
    rho = rx @ ry / denom
    tol = 1e-12
    if x.size <= max_exact:
        perms = np.array(list(permutations(range(x.size))))
        null = (ry[perms] @ rx) / denom
        return float(np.mean(null >= rho - tol))
    rng = np.random.default_rng(seed)
    null = np.array([ry[rng.permutation(x.size)] @ rx for _ in range(n_perm)]) / denom
    return float((1 + np.sum(null >= rho - tol)) / (1 + n_perm))


def spearman_table(summary, cka_values, columns) -> pd.DataFrame:
    """Spearman ρ across layers between each weight-only column of ``summary`` and ``cka_values``.

    Columns: ``rho``, scipy's two-sided asymptotic ``p`` and ``p_perm``, the one-sided (ρ > 0) permutation
    p-value of :func:`spearman_permutation_p` (exact for few layers).
    """
    from scipy.stats import spearmanr

    if len(summary) != len(cka_values):
        raise ValueError(f"{len(summary)} layers of diagnostics but {len(cka_values)} CKA values")
    rows = []
    for c in columns:
        x, y = summary[c].to_numpy(), np.asarray(cka_values)
        res = spearmanr(x, y)
        rows.append(
            {
                "diagnostic": c,
                "rho": float(res.statistic),
                "p": float(res.pvalue),
                "p_perm": spearman_permutation_p(x, y),
            }
        )
    return pd.DataFrame(rows)
