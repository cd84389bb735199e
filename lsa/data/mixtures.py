"""Seeded Gaussian-mixture classification data."""

from __future__ import annotations

import numpy as np
import torch


def gaussian_mixture(
    n_classes: int = 4,
    dim: int = 32,
    n_per_class: int = 100,
    noise: float = 0.8,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
):
    """Class means ``~ N(0, I_dim)``; samples = mean + ``noise · N(0, I_dim)``, ``n_per_class`` per class.

    Returns
    -------
    X : Tensor, shape (n_classes · n_per_class, dim)
    y : LongTensor, shape (n_classes · n_per_class,)
        Labels sorted by class.
    """
    if n_classes < 2 or dim < 1 or n_per_class < 1 or noise < 0:
        raise ValueError(
            f"need n_classes >= 2, dim >= 1, n_per_class >= 1, noise >= 0; got "
            f"{n_classes}, {dim}, {n_per_class}, {noise}"
        )
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = means[y] + noise * rng.standard_normal((y.size, dim))
    return torch.as_tensor(X, dtype=dtype), torch.as_tensor(y, dtype=torch.long)
