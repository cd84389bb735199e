"""Exponential alignment under ridge (weight decay): grids of trainings reduced to rates and final alignment.

Runs grids of bias-free MLP trainings and reduces their logs to fitted slopes, predicted slopes and final
alignment scores.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from lsa.alignment.imbalance import imbalance
from lsa.alignment.slopes import fit_log_slope, predicted_slope
from lsa.alignment.training import TrainConfig, train_mlp_grid
from lsa.linalg import as_float64, chance_soft_overlap, intersection_dim, soft_overlap, top_subspace

TAUS = (1e-1, 1e-2, 1e-3)


def train_grid(X, Y, base: TrainConfig, activations, lambdas, seeds=None, callback_factory=None) -> dict:
    """Train one network per (activation, λ[, seed]) as one batched computation (:func:`train_mlp_grid`).

    ``callback_factory()``, when given, makes one logging callback per network (see :func:`train_mlp_grid`).
    Returns ``{(activation, λ): (model, log)}``, or ``{(activation, λ, seed): …}`` when ``seeds`` is given.
    """
    keys = [(a, lam) if seeds is None else (a, lam, s) for a in activations for lam in lambdas for s in seeds or [None]]
    cfgs = [replace(base, activation=k[0], weight_decay=k[1], seed=base.seed if seeds is None else k[2]) for k in keys]
    callbacks = None if callback_factory is None else [callback_factory() for _ in keys]
    return dict(zip(keys, train_mlp_grid(X, Y, cfgs, callbacks=callbacks)))


def hidden_layers(log: pd.DataFrame) -> list[int]:
    """Hidden-layer indices ``l`` with logged pairs ``(W_l, W_{l+1})``."""
    return sorted(int(c.rsplit("_", 1)[1]) for c in log.columns if c.startswith("delta_total_"))


def slope_rows(
    log: pd.DataFrame,
    eta: float,
    lam: float,
    beta: float = 0.0,
    burn_in: int = 500,
    fit_until: int | None = None,
    **labels,
) -> list[dict]:
    """Fitted slopes of ln‖Δ‖ (total, diagonal, off-diagonal) for every hidden layer, beside the prediction.

    The fit uses the logged steps in ``[burn_in, fit_until)`` (``fit_until=None``: to the end). The law is
    exact for gradient flow; gradient descent adds O(η²) terms that can dominate once the imbalance has decayed
    by many orders of magnitude, so long runs fit a window.

    ``rel_err_*`` = ``abs(fitted − predicted) / abs(predicted)`` (NaN when the prediction is 0, i.e. λ = 0).
    """
    pred = predicted_slope(eta, lam, beta) if lam > 0 else 0.0
    rows = []
    for l in hidden_layers(log):
        row = {**labels, "lam": lam, "layer": l, "predicted": pred}
        for part in ("total", "diag", "offdiag"):
            fit = fit_log_slope(log["step"], log[f"delta_{part}_{l}"], start=burn_in, stop=fit_until)
            row[f"slope_{part}"] = fit["slope"]
            row[f"r2_{part}"] = fit["r2"]
            row[f"rel_err_{part}"] = abs(fit["slope"] - pred) / abs(pred) if pred else float("nan")
        rows.append(row)
    return rows


def final_alignment(model, k: int | None = None, energy: float = 0.9) -> list[dict]:
    """Level-2 alignment of every adjacent pair at the end of training.

    Compares the top-``k`` left singular subspace of ``W_l`` (write) with the top-``k`` right singular
    subspace of ``W_{l+1}`` (read). ``k`` defaults to the effective rank of ``W_{l+1}`` at ``energy``, so
    the last pair uses (about) the output dimension.
    """
    W = [as_float64(w) for w in model.weights()]
    rows = []
    for l in range(len(W) - 1):
        V, kk = top_subspace(W[l + 1], "right", k=k, energy=energy)
        U, _ = top_subspace(W[l], "left", k=kk)
        row = {
            "layer": l + 1,
            "k": kk,
            "n": W[l].shape[0],
            "soft_overlap": soft_overlap(U, V),
            "chance": chance_soft_overlap(kk, kk, W[l].shape[0]),
        }
        row.update({f"d_tau_{tau:g}": intersection_dim(U, V, tau) for tau in TAUS})
        rows.append(row)
    return rows


class ImbalanceDrift:
    """Training callback logging ``drift_l = ‖Δ_l(t) − Δ_l(0)‖_F / ‖Δ_l(0)‖_F`` for every hidden layer.

    With λ = 0 in a linear net Δ is conserved by gradient flow; GD drifts by O(η²) per step (claim C8).
    """

    def __init__(self):
        self.initial: list[np.ndarray] | None = None

    def __call__(self, step: int, model) -> dict:
        W = [as_float64(w) for w in model.weights()]
        deltas = [imbalance(W[l], W[l + 1]) for l in range(len(W) - 1)]
        if self.initial is None:
            self.initial = deltas
        return {
            f"drift_{l + 1}": float(np.linalg.norm(d - d0) / np.linalg.norm(d0))
            for l, (d, d0) in enumerate(zip(deltas, self.initial))
        }


def conservation_change(log: pd.DataFrame) -> float:
    """Largest relative drift of the imbalance matrix over a run, across hidden layers (claim C8)."""
    return float(log[[c for c in log.columns if c.startswith("drift_")]].to_numpy().max())
