"""Driver of the ridge-alignment chapter: the loss/data independence of the imbalance law and the decay rate of
subspace misalignment.

* :func:`loss_data_slopes` trains linear nets on several losses and data sets (teacher vs random targets,
  MSE vs cross-entropy, Gaussian inputs vs digits) and fits the imbalance slope of every hidden layer.
* :class:`SinThetaLog` logs ``‖sin Θ‖_F`` of every adjacent pair during training, and
  :func:`subspace_rate_rows` fits its slope beside the imbalance's.
* :func:`rate_table`, :func:`alignment_table` reduce a grid; :func:`momentum_runs`, :func:`minibatch_and_full`,
  :func:`conservation_run` and :func:`adamw_rates` train the chapter's variants.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from lsa.alignment.levels import davis_kahan_bound, sin_theta_norm
from lsa.alignment.ridge import ImbalanceDrift, conservation_change, final_alignment, hidden_layers, slope_rows
from lsa.alignment.slopes import fit_log_slope, predicted_slope
from lsa.alignment.training import TrainConfig, train_mlp, train_mlp_grid
from lsa.data.regression import digits_regression, random_targets, teacher_classification, teacher_regression
from lsa.linalg import as_float64

LOSS_DATA = ("teacher-mse", "teacher-ce", "random-mse", "digits-mse", "digits-ce")
"""Loss/data conditions of :func:`loss_data_slopes`: ``<data>-<loss>``."""


def loss_data_problem(condition: str, n: int = 200, seed: int = 0):
    """``(X, Y, loss)`` of one condition of :data:`LOSS_DATA` (``n`` samples)."""
    if condition not in LOSS_DATA:
        raise ValueError(f"condition must be one of {LOSS_DATA}, got {condition!r}")
    if condition == "teacher-mse":
        return (*teacher_regression(n=n, seed=seed), "mse")
    if condition == "teacher-ce":
        return (*teacher_classification(n=n, seed=seed), "ce")
    if condition == "random-mse":
        return (*random_targets(n=n, seed=seed), "mse")
    X, Y = digits_regression(seed=seed, n=n, labels=condition == "digits-ce")
    return X, Y, "ce" if condition == "digits-ce" else "mse"


def loss_data_slopes(
    base: TrainConfig,
    hidden,
    lambdas,
    conditions=LOSS_DATA,
    n: int = 200,
    burn_in: int = 500,
    fit_until: int | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Linear nets on every loss/data condition, one batched training per condition over ``lambdas``.

    Parameters
    ----------
    base : TrainConfig
        Learning rate, steps, logging and seed; widths, loss, activation and λ are set per run.
    hidden : sequence of int
        Hidden widths (input and output widths follow the data).
    lambdas : sequence of float
        Weight decays, each > 0.
    conditions : sequence of str
        Names from :data:`LOSS_DATA`.
    n : int
        Samples per data set.
    burn_in, fit_until : int
        Fit window of the slopes (:func:`lsa.alignment.ridge.slope_rows`).

    Returns
    -------
    slopes : DataFrame
        :func:`~lsa.alignment.ridge.slope_rows` per condition, λ and hidden layer, with a ``condition`` column.
    logs : dict
        ``(condition, λ) -> training log``.
    """
    if any(lam <= 0 for lam in lambdas):
        raise ValueError(f"every λ must be > 0 for a rate to exist, got {list(lambdas)}")
    rows, logs = [], {}
    for cond in conditions:
        X, Y, loss = loss_data_problem(cond, n=n, seed=base.seed)
        d_out = int(Y.max()) + 1 if loss == "ce" else Y.shape[1]
        cfg = replace(base, widths=(X.shape[1], *hidden, d_out), activation="identity", loss=loss)
        trained = train_mlp_grid(X, Y, [replace(cfg, weight_decay=lam) for lam in lambdas])
        for lam, (_, log) in zip(lambdas, trained):
            logs[(cond, lam)] = log
            rows += slope_rows(log, base.lr, lam, burn_in=burn_in, fit_until=fit_until, condition=cond)
    return pd.DataFrame(rows), logs


class SinThetaLog:
    """Training callback logging ``sin_theta_l = ‖sin Θ‖_F`` of every adjacent pair ``(W_l, W_{l+1})`` and its
    Davis–Kahan bound ``dk_bound_l`` (:func:`lsa.alignment.levels.davis_kahan_bound`).

    The subspaces are the top-``k`` write subspace of ``W_l`` and the top-``k`` read subspace of ``W_{l+1}``
    (:func:`lsa.alignment.levels.sin_theta_norm`); ``k`` is fixed for the whole run so that the logged values
    form one curve (the rank a linear net converges to is at most the output width, the natural ``k``).
    """

    def __init__(self, k: int):
        if k < 1:
            raise ValueError(f"k must be ≥ 1, got {k}")
        self.k = k

    def __call__(self, step: int, model) -> dict:
        W = [as_float64(w) for w in model.weights()]
        out = {}
        for l in range(len(W) - 1):
            out[f"sin_theta_{l + 1}"] = sin_theta_norm(W[l], W[l + 1], self.k)
            out[f"dk_bound_{l + 1}"] = davis_kahan_bound(W[l], W[l + 1], self.k)
        return out


def subspace_rate_rows(
    log: pd.DataFrame, eta: float, lam: float, burn_in: int = 500, fit_until: int | None = None, **labels
) -> list[dict]:
    """Fitted slopes of ``ln ‖sin Θ_l‖_F`` and ``ln ‖Δ_l‖_F`` per hidden layer, with the predicted rate.

    ``rel_err_pred`` = ``|slope_sin − predicted| / |predicted|``; ``rel_err_delta`` =
    ``|slope_sin − slope_delta| / |slope_delta|`` (same run, same window).
    """
    if lam <= 0:
        raise ValueError(f"λ must be > 0 for a rate to exist, got {lam}")
    pred = predicted_slope(eta, lam)
    rows = []
    for l in hidden_layers(log):
        sin = fit_log_slope(log["step"], log[f"sin_theta_{l}"], start=burn_in, stop=fit_until)["slope"]
        delta = fit_log_slope(log["step"], log[f"delta_total_{l}"], start=burn_in, stop=fit_until)["slope"]
        rows.append(
            {
                **labels,
                "lam": lam,
                "layer": l,
                "predicted": pred,
                "slope_sin": sin,
                "slope_delta": delta,
                "rel_err_pred": abs(sin - pred) / abs(pred),
                "rel_err_delta": abs(sin - delta) / abs(delta) if delta else float("nan"),
            }
        )
    return rows


def rate_table(runs: dict, eta: float, burn_in: int = 500, fit_until: int | None = None, beta: float = 0.0):
    """:func:`~lsa.alignment.ridge.slope_rows` of every run with λ > 0 of a grid ``{(activation, λ): (model, log)}``
    (or ``{λ: log}``), with an ``activation`` column when the keys carry one."""
    rows = []
    for key, value in runs.items():
        log = value[1] if isinstance(value, tuple) else value
        act, lam = key if isinstance(key, tuple) else (None, key)
        if lam > 0:
            labels = {} if act is None else {"activation": act}
            rows += slope_rows(log, eta, lam, beta=beta, burn_in=burn_in, fit_until=fit_until, **labels)
    return pd.DataFrame(rows)


def alignment_table(runs: dict) -> pd.DataFrame:
    """Final Level-2 alignment (:func:`~lsa.alignment.ridge.final_alignment`) of every pair of every run, with the
    final ‖Δ‖ (``delta``) and commutator (``comm``) of that pair."""
    return pd.DataFrame(
        [
            {
                **row,
                "activation": act,
                "lam": lam,
                "delta": log[f"delta_total_{row['layer']}"].iloc[-1],
                "comm": log[f"comm_{row['layer']}"].iloc[-1],
            }
            for (act, lam), (model, log) in runs.items()
            for row in final_alignment(model)
        ]
    )


def momentum_runs(X, Y, base: TrainConfig, lr: float, beta: float, lambdas, steps: int) -> dict:
    """Linear nets with heavy-ball momentum ``beta`` at each λ (one batched training): ``{λ: log}``."""
    cfg = replace(base, activation="identity", lr=lr, momentum=beta, steps=steps)
    trained = train_mlp_grid(X, Y, [replace(cfg, weight_decay=lam) for lam in lambdas])
    return {lam: log for lam, (_, log) in zip(lambdas, trained)}


def minibatch_and_full(X, Y, base: TrainConfig, lam: float, batch_size: int, steps: int):
    """Logs of a linear net at λ trained full-batch and with minibatches of ``batch_size`` (same seed)."""
    cfg = replace(base, activation="identity", weight_decay=lam, steps=steps)
    return train_mlp(X, Y, cfg)[1], train_mlp(X, Y, replace(cfg, batch_size=batch_size))[1]


def conservation_run(X, Y, base: TrainConfig, lr: float, steps: int):
    """A linear net without decay, logging the drift of Δ (:class:`~lsa.alignment.ridge.ImbalanceDrift`).

    Returns the log and the largest relative drift (:func:`~lsa.alignment.ridge.conservation_change`).
    """
    cfg = replace(base, activation="identity", lr=lr, steps=steps, weight_decay=0.0, log_every=max(1, steps // 50))
    log = train_mlp(X, Y, cfg, callback=ImbalanceDrift())[1]
    return log, conservation_change(log)


def adamw_rates(X, Y, base: TrainConfig, lr: float, lam: float, steps: int, burn_in: int, fit_until: int | None):
    """A linear net trained by AdamW (decoupled λ): its log and the slope rows fitted after ``burn_in`` and from 0."""
    log = train_mlp(
        X, Y, replace(base, activation="identity", optimizer="adamw", lr=lr, weight_decay=lam, steps=steps)
    )[1]
    after = pd.DataFrame(slope_rows(log, lr, lam, burn_in=burn_in, fit_until=fit_until))
    from_start = pd.DataFrame(slope_rows(log, lr, lam, burn_in=0, fit_until=fit_until))
    return log, after, from_start
