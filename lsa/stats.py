"""Confidence intervals shared by every part: a binomial proportion, and the mean of independent replicates.

One home for the intervals the book prints (accuracies of classifiers and of zero-shot choices, paired
differences, seed sweeps), so that every chapter reports uncertainty the same way.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def wilson_ci(k: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``.

    Parameters
    ----------
    k : float
        Successes (may be a mean count over repeats of the same ``n`` items).
    n : int
        Trials, > 0.
    level : float
        Coverage, in (0, 1).
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = float(c - h), float(c + h)
    return (0.0 if k == 0 else max(0.0, lo)), (1.0 if k == n else min(1.0, hi))


def mean_ci(values, level: float = 0.95, method: str = "t") -> tuple[float, float, float, int]:
    """Mean of independent replicates and its ``level`` interval: ``(mean, low, high, n)``.

    Parameters
    ----------
    values : iterable of float
        Replicates (seeds, items); ``None`` and non-finite values are left out and do not count in ``n``.
    level : float
        Coverage, in (0, 1).
    method : {"t", "normal"}
        Student-t with ``n − 1`` degrees of freedom (small ``n``, e.g. seeds) or the normal approximation
        (many items, e.g. paired differences over a task).

    With one value the interval is the point itself (``n = 1`` says so); with none, NaN and ``n = 0``.
    """
    if method not in ("t", "normal"):
        raise ValueError(f"method must be 't' or 'normal', got {method!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        return mean, mean, mean, 1
    q = stats.t.ppf(0.5 + level / 2, n - 1) if method == "t" else stats.norm.ppf(0.5 + level / 2)
    half = float(q * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n
