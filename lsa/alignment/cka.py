"""Linear CKA between layer representations (Kornblith et al. 2019, arXiv:1905.00414) — the activation-space
reference against which the weight-only diagnostics are validated (spec §3.5, §4.2 E6).

Used by the head-overlap chapter (claim C24).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lsa.linalg import as_float64


def linear_cka(X, Y) -> float:
    """Linear CKA ``‖Ỹᵀ X̃‖_F² / (‖X̃ᵀ X̃‖_F ‖Ỹᵀ Ỹ‖_F)`` of column-centred ``X`` (N×p) and ``Y`` (N×q).

    Used by the head_overlap chapter.

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
    """Hidden states of every layer (embeddings first) at the non-padding tokens, float64 ``(N_tokens, d)``.

    Used by the head_overlap chapter.
    """
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
        hs = [h[mask].double().cpu().numpy() for h in out.hidden_states]
        per_layer = [[h] for h in hs] if per_layer is None else [acc + [h] for acc, h in zip(per_layer, hs)]
    return [np.concatenate(h) for h in per_layer]


def consecutive_cka(states: list[np.ndarray]) -> list[float]:
    """``CKA(h_l, h_{l+1})`` for ``l = 0 … L−1`` (input and output of block ``l``).

    Used by the head_overlap chapter.
    """
    return [linear_cka(a, b) for a, b in zip(states, states[1:])]


def spearman_table(summary, cka_values, columns) -> pd.DataFrame:
    """Spearman ρ (and p-value) across layers between each weight-only column of ``summary`` and ``cka_values``.

    Used by the head-overlap chapter (claim C24, spec §4.2 E6).
    """
    from scipy.stats import spearmanr

    if len(summary) != len(cka_values):
        raise ValueError(f"{len(summary)} layers of diagnostics but {len(cka_values)} CKA values")
    rows = []
    for c in columns:
        res = spearmanr(summary[c].to_numpy(), np.asarray(cka_values))
        rows.append({"diagnostic": c, "rho": float(res.statistic), "p": float(res.pvalue)})
    return pd.DataFrame(rows)
