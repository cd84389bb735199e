"""scikit-learn's bundled 8×8 digits as tensors (no download): flat or image tensors for the neural-collapse
chapter, and a 16×16 upsampled split for the Part II models."""

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


def digits16(seed: int = 0, split: float = 0.8) -> tuple:
    """The bundled digits bilinearly upsampled to 16×16 and standardised, with a seeded 80/20 split.

    Returns
    -------
    tuple
        ``(x_train, y_train, x_test, y_test)``: float32 images ``(n, 1, 16, 16)`` and int64 labels.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.as_tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    x = torch.nn.functional.interpolate(x, size=16, mode="bilinear", align_corners=False)
    x = (x - x.mean()) / x.std()
    y = torch.as_tensor(d.target, dtype=torch.long)
    idx = torch.as_tensor(np.random.default_rng(seed).permutation(len(y)))
    n = int(split * len(y))
    return x[idx[:n]], y[idx[:n]], x[idx[n:]], y[idx[n:]]
