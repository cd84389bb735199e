"""Predicted and fitted exponential rates of the imbalance."""

from __future__ import annotations

import numpy as np


def predicted_slope(eta: float, lam: float, beta: float = 0.0) -> float:
    """Predicted slope of ``ln ‖Δ_l‖_F`` per optimisation step under coupled weight decay.

    Parameters
    ----------
    eta : float
        Learning rate η.
    lam : float
        Weight-decay coefficient λ of the penalty ``(λ/2) Σ ‖W_l‖_F²`` (PyTorch ``weight_decay=λ``).
    beta : float
        Heavy-ball momentum β (PyTorch SGD ``momentum``).

    Returns
    -------
    float
        ``2 ln(1 − ηλ)`` for plain (S)GD (exact for the decay part of the update); for β > 0 the
        small-ηλ form ``−2ηλ / (1 − β)``. Continuous time (``t = kη``) gives the rate ``2λ``.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"momentum beta must lie in [0, 1), got {beta}")
    if eta <= 0 or lam < 0 or eta * lam >= 1:
        raise ValueError(f"need eta > 0, lam >= 0 and eta*lam < 1, got eta={eta}, lam={lam}")
    if beta == 0.0:
        return float(2.0 * np.log1p(-eta * lam))
    return float(-2.0 * eta * lam / (1.0 - beta))


def fit_log_slope(steps, values, start: int = 0, stop: int | None = None, floor: float = 1e-300) -> dict:
    """Least-squares line through ``(step, ln value)`` on ``start <= step < stop``.

    Returns
    -------
    dict
        ``slope``, ``intercept``, ``r2`` (coefficient of determination) and ``n`` (points used).
    """
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    keep = (steps >= start) & (values > floor)
    if stop is not None:
        keep &= steps < stop
    if keep.sum() < 3:
        raise ValueError(f"need at least 3 positive points in [{start}, {stop}) to fit a slope, got {int(keep.sum())}")
    x, y = steps[keep], np.log(values[keep])
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2, "n": int(keep.sum())}


def fit_through_origin(x, y) -> dict:
    """Fit ``y = g x`` (no intercept). Returns the gradient ``g`` and the centred ``r2`` of that line."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 2 or not np.any(x):
        raise ValueError("need at least two points with a non-zero x to fit a line through the origin")
    g = float(x @ y / (x @ x))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - g * x) ** 2)) / ss_tot if ss_tot > 0 else 1.0
    return {"gradient": g, "r2": r2}


def predicted_line(steps, values, slope: float, burn_in: int = 0):
    """The predicted ``ln value`` line, anchored at the first logged point at or after ``burn_in``.

    Returns ``(t, ln_value)`` arrays for plotting beside the measured curve (ridge-alignment chapter figures).
    """
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    keep = steps >= burn_in
    if not keep.any():
        raise ValueError(f"no logged step at or after burn_in={burn_in}")
    t = steps[keep]
    return t, np.log(values[keep][0]) + slope * (t - t[0])
