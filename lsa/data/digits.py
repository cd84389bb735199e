"""scikit-learn's bundled 8×8 digits as tensors (no download). Used by the neural-collapse chapter."""

from __future__ import annotations

import numpy as np
import torch


def load_digits_tensors(
    image: bool = False,
    standardise: bool = True,
    dtype: torch.dtype = torch.float64,
    limit: int | None = None,
    seed: int = 0,
):
    """The 1,797 bundled digits (10 classes) as ``(X, y)``.

    Used by the neural_collapse_levels chapter.

    Parameters
    ----------
    image : bool
        ``True``: ``X`` is ``(n, 1, 8, 8)`` for a ResNet; ``False``: flattened ``(n, 64)``.
    standardise : bool
        Scale pixel values (0–16) to zero mean and unit variance over the whole set.
    limit : int, optional
        Keep a seeded random subset of this size (stratification not enforced).
    seed : int
        Seed of the subset.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data.astype(np.float64), d.target.astype(np.int64)
    if limit is not None:
        if not 1 <= limit <= len(y):
            raise ValueError(f"limit must lie in [1, {len(y)}], got {limit}")
        idx = np.sort(np.random.default_rng(seed).permutation(len(y))[:limit])
        X, y = X[idx], y[idx]
    if standardise:
        X = (X - X.mean()) / X.std()
    X = torch.as_tensor(X, dtype=dtype)
    if image:
        X = X.reshape(-1, 1, 8, 8)
    return X, torch.as_tensor(y)
