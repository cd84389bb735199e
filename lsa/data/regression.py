"""Small regression and classification problems for the layerwise-alignment chapters (float64, seeded, offline).

* :func:`teacher_regression`: Gaussian inputs, targets from a random tanh teacher.
* :func:`teacher_classification`: the same inputs, labelled by the teacher's largest output.
* :func:`random_targets`: the same inputs with Gaussian targets unrelated to them.
* :func:`digits_regression`: scikit-learn's bundled 8×8 digits, standardised, one-hot targets (it lives with
  the other digits loaders in :mod:`lsa.data.digits` and is re-exported here).
"""

from __future__ import annotations

import numpy as np
import torch

from lsa.data.digits import digits_regression  # noqa: F401  (re-exported: one of this module's problems)


def teacher_regression(n: int = 200, d_in: int = 20, d_out: int = 5, seed: int = 0):
    """``X ~ N(0, I)`` of shape ``(n, d_in)``, targets ``tanh(X A / √d_in)`` with ``A ~ N(0, I)`` (float64)."""
    if n < 1 or d_in < 1 or d_out < 1:
        raise ValueError(f"need n, d_in, d_out ≥ 1, got {n}, {d_in}, {d_out}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d_in))
    A = rng.standard_normal((d_in, d_out))
    return torch.from_numpy(X), torch.from_numpy(np.tanh(X @ A / np.sqrt(d_in)))


def teacher_classification(n: int = 200, d_in: int = 20, n_classes: int = 5, seed: int = 0):
    """The inputs of :func:`teacher_regression` labelled by the teacher's largest output (``n_classes`` classes)."""
    X, T = teacher_regression(n, d_in, n_classes, seed)
    return X, T.argmax(dim=1)


def random_targets(n: int = 200, d_in: int = 20, d_out: int = 5, seed: int = 0):
    """The inputs of :func:`teacher_regression` with targets ``~ N(0, I)`` drawn independently of them."""
    X, _ = teacher_regression(n, d_in, d_out, seed)
    Y = np.random.default_rng([seed, 1]).standard_normal((n, d_out))
    return X, torch.from_numpy(Y)
