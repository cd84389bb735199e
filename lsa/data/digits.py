"""scikit-learn's bundled 8×8 digits as tensors (no download), the three ways the chapters use them.

* :func:`load_digits_tensors`: flat or image tensors standardised over the whole set (neural collapse);
* :func:`digits_regression`: flat, standardised per pixel, one-hot targets (the ridge chapter's real data);
* :func:`digits16`: bilinearly upsampled to 16×16 with a seeded split (the Part II models).

The three standardisations differ on purpose (they are part of each chapter's recipe); this module is their one
home.
"""

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


def digits_regression(seed: int = 0, n: int | None = None, labels: bool = False):
    """scikit-learn's bundled 8×8 digits: pixels standardised per pixel, a seeded subset of ``n`` samples.

    Returns ``(X, Y)`` with one-hot float64 targets ``(n, 10)``, or integer labels ``(n,)`` when ``labels``.
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    if n is not None and not 1 <= n <= len(y):
        raise ValueError(f"n must lie in [1, {len(y)}], got {n}")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))[: n or len(y)]
    X = (X[idx] - X.mean(0)) / (X.std(0) + 1e-8)
    if labels:
        return torch.from_numpy(X), torch.from_numpy(y[idx].astype(np.int64))
    return torch.from_numpy(X), torch.from_numpy(np.eye(10)[y[idx]])
