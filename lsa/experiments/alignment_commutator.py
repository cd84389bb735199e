"""Driver of the commutator chapter: the exact-maths checks, the activation × λ grid and the tanh regime map.

* :func:`invariance_trials` (claim C1), :func:`factorisation_checks` (C2) and :func:`commutator_agreement`
  (C19, C20) are the exact-maths checks on random matrices.
* :func:`activation_grid` trains the toy-regression MLP per activation and weight decay (one batched computation,
  :func:`lsa.alignment.training.train_mlp_grid`) and collects, for one adjacent pair, the final commutator with
  its rotation-null z-score, Level-2/3 scores, flag table, the data-dependent obstruction and the diagonal /
  off-diagonal imbalance slopes.
* :func:`tanh_regime_map` trains tanh MLPs over weight decay λ × hidden width (one batched training per width)
  and scores the pair ``(W2, W3)`` at several training lengths; :func:`regime` names the level each point reached.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from lsa.alignment.commutator import commutator_direct, commutator_fast
from lsa.alignment.flags import flag_intersection_table
from lsa.alignment.imbalance import imbalance
from lsa.alignment.invariance import (
    balanced_factorisation,
    gl_invariants,
    im_row_angles,
    norm_descent,
    random_gl,
    reparameterise,
)
from lsa.alignment.levels import level_scores
from lsa.alignment.nulls import null_zscore, rotation_null
from lsa.alignment.omega import obstruction_forcing
from lsa.alignment.slopes import fit_log_slope, predicted_slope
from lsa.alignment.training import TrainConfig, train_mlp_grid
from lsa.linalg import as_float64, random_orthogonal


def invariance_trials(n_trials: int = 20, n: int = 16, seed: int = 0, cond: float = 20.0) -> pd.DataFrame:
    """Random low-rank pairs moved by random ``g ∈ GL(n)`` and ``O ∈ O(n)`` (claim C1).

    Returns
    -------
    DataFrame
        Per trial: ``gl_invariants_equal`` (rank, product rank and ``dim(im ∩ ker)`` unchanged under GL),
        ``o_invariants_equal``, ``gl_angle_change_deg`` and ``o_angle_change_deg`` (max change of the
        principal angles between ``im W_l`` and ``row W_{l+1}``), and the invariants themselves.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_trials):
        r1, r2 = rng.integers(2, n - 2, size=2)
        W1 = rng.standard_normal((n, r1)) @ rng.standard_normal((r1, n - 3))
        W2 = rng.standard_normal((n - 5, r2)) @ rng.standard_normal((r2, n))
        inv, ang = gl_invariants(W1, W2), im_row_angles(W1, W2)
        G1, G2 = reparameterise(W1, W2, random_gl(n, rng, cond))
        O1, O2 = reparameterise(W1, W2, random_orthogonal(n, rng))
        rows.append(
            {
                "trial": t,
                **inv,
                "gl_invariants_equal": gl_invariants(G1, G2) == inv,
                "o_invariants_equal": gl_invariants(O1, O2) == inv,
                "gl_angle_change_deg": float(np.degrees(np.max(np.abs(im_row_angles(G1, G2) - ang)))),
                "o_angle_change_deg": float(np.degrees(np.max(np.abs(im_row_angles(O1, O2) - ang)))),
            }
        )
    return pd.DataFrame(rows)


def factorisation_checks(n_trials: int = 10, seed: int = 0, descent_steps: int = 3000) -> dict:
    """Balanced (nuclear-norm) factorisation and norm descent on closed orbits (claim C2).

    Returns
    -------
    dict
        ``product_err``, ``imbalance`` and ``norm_identity_rel_err`` (max over trials) of the balanced
        factorisation; ``descent_final_imbalance`` (max), ``descent_monotone`` (all), ``descent_norm_vs_nuclear``
        (max relative gap to ``2‖M‖_*``) and one ``descent_trace`` (imbalance and norm per step) for plotting.
    """
    rng = np.random.default_rng(seed)
    out = {
        "product_err": 0.0,
        "imbalance": 0.0,
        "norm_identity_rel_err": 0.0,
        "descent_final_imbalance": 0.0,
        "descent_monotone": True,
        "descent_norm_vs_nuclear": 0.0,
    }
    for t in range(n_trials):
        n_in, n, n_out = rng.integers(4, 10, size=3)
        r = int(rng.integers(1, min(n_in, n_out, n) + 1))
        M = rng.standard_normal((n_out, r)) @ rng.standard_normal((r, n_in))
        W1, W2 = balanced_factorisation(M, int(n), rng)
        nuc = np.linalg.svd(M, compute_uv=False).sum()
        out["product_err"] = max(out["product_err"], float(np.linalg.norm(W2 @ W1 - M) / np.linalg.norm(M)))
        out["imbalance"] = max(out["imbalance"], float(np.linalg.norm(imbalance(W1, W2))))
        out["norm_identity_rel_err"] = max(
            out["norm_identity_rel_err"], float(abs((W1**2).sum() + (W2**2).sum() - 2 * nuc) / (2 * nuc))
        )
        # closed orbit: full-rank pair through width n = min dims, then a random GL re-basing
        m = int(min(n_in, n_out))
        A, B = rng.standard_normal((m, n_in)), rng.standard_normal((n_out, m))
        A, B = reparameterise(A, B, random_gl(m, rng, cond=5.0))
        d = norm_descent(A, B, steps=descent_steps, lr=0.5)
        nuc2 = np.linalg.svd(B @ A, compute_uv=False).sum()
        out["descent_final_imbalance"] = max(out["descent_final_imbalance"], float(d["imbalance"][-1]))
        out["descent_monotone"] &= bool(np.all(np.diff(d["norms"]) <= 1e-10 * d["norms"][0]))
        out["descent_norm_vs_nuclear"] = max(
            out["descent_norm_vs_nuclear"], float(abs(d["norms"][-1] / (2 * nuc2) - 1))
        )
        if t == 0:
            out["descent_trace"] = {"imbalance": d["imbalance"], "norm": d["norms"], "nuclear2": 2 * nuc2}
    return out


def commutator_agreement(widths=(256, 512, 1024), n_random: int = 200, seed: int = 0) -> dict:
    """Fast vs direct commutator on wide pairs (C19) and the bound ``0 ≤ c ≤ √2`` on random inputs (C20).

    Returns
    -------
    dict
        ``fast_direct_rel_err`` (max over widths), ``per_width`` list of (width, direct, fast, rel_err),
        ``c_min``, ``c_max`` over ``n_random`` random pairs of random shapes and spectra.
    """
    rng = np.random.default_rng(seed)
    per = []
    for n in widths:
        W1 = rng.standard_normal((n, n // 4)) * np.linspace(2, 0.1, n // 4)
        W2 = rng.standard_normal((n // 4, n))
        d, f = commutator_direct(W1, W2), commutator_fast(W1, W2)
        per.append((int(n), d, f, abs(f - d) / d))
    vals = []
    for _ in range(n_random):
        n = int(rng.integers(1, 30))
        W1 = rng.standard_normal((n, int(rng.integers(1, 30)))) * rng.lognormal(0, 2)
        W2 = rng.standard_normal((int(rng.integers(1, 30)), n)) ** int(rng.integers(1, 4))
        vals.append(commutator_direct(W1, W2))
    return {
        "fast_direct_rel_err": max(p[3] for p in per),
        "per_width": per,
        "c_min": float(min(vals)),
        "c_max": float(max(vals)),
    }


def activation_grid(
    X,
    Y,
    activations,
    lambdas,
    base: TrainConfig,
    pair: int = 1,
    k: int | None = None,
    null_draws: int = 100,
    burn_in: int = 500,
    fit_until: int | None = None,
    progress=None,
):
    """Train one MLP per (activation, λ) and score the adjacent pair ``(W_pair, W_pair+1)`` (0-based).

    Parameters
    ----------
    X, Y : Tensor
        Training data for :func:`~lsa.alignment.training.train_mlp`.
    activations : list of str
    lambdas : list of float
    base : TrainConfig
        Every other knob (widths, steps, lr, seed …); ``activation`` and ``weight_decay`` are overridden.
    pair : int
        Index ``l`` of the pair ``(W_{l+1}, W_{l+2})`` in the 1-based notation of the book (``pair=1`` is ``(W2, W3)``).
    k : int, optional
        Subspace dimension of the Level scores (default: the output width for the last pair).
    null_draws : int
        Rotation-null draws for the z-score.
    burn_in : int
        Steps skipped before fitting the diagonal / off-diagonal slopes.
    fit_until : int, optional
        Last step (exclusive) of the slope fits; None fits to the end of the run.
    progress : callable, optional
        Wraps the iterable of trained runs while they are scored (e.g. ``tqdm``).

    Returns
    -------
    summary : DataFrame
        One row per run: activation, λ, final commutator and its null mean/sd/z, the data-dependent
        obstruction ``omega`` and the diagonal share of its forcing ``forcing_diag_rel``
        (:func:`~lsa.alignment.omega.obstruction_forcing` on the training batch), Level scores,
        diag/off-diag slopes and their relative error to ``2 ln(1 − ηλ)``.
    logs : dict
        ``(activation, λ) -> training log`` (pandas).
    flags : dict
        ``(activation, λ) -> flag_intersection_table`` of the final pair.
    """
    runs = [(a, lam) for a in activations for lam in lambdas]
    cfgs = [replace(base, activation=a, weight_decay=float(lam)) for a, lam in runs]
    trained = train_mlp_grid(X, Y, cfgs)
    rows, logs, flags = [], {}, {}
    items = list(zip(runs, cfgs, trained))
    for (act, lam), cfg, (model, log) in progress(items) if progress else items:
        W = [as_float64(w) for w in model.weights()]
        W1, W2 = W[pair], W[pair + 1]
        kk = k if k is not None else min(W2.shape[0], W1.shape[0])
        sc = level_scores(W1, W2, k=kk)
        null = rotation_null(W1, W2, n_draws=null_draws, seed=cfg.seed)
        forcing = obstruction_forcing(model, X, Y, pair, loss=cfg.loss)
        row = {
            "activation": act,
            "lam": float(lam),
            **sc,
            "null_mean": null["mean"],
            "null_sd": null["sd"],
            "z": null_zscore(sc["commutator"], null),
            "comm_init": float(log[f"comm_{pair + 1}"].iloc[0]),
            "omega": forcing["omega"],
            "forcing_diag_rel": forcing["forcing_diag"] / forcing["forcing_norm"]
            if forcing["forcing_norm"] > 0
            else 0.0,
            "final_loss": float(log["loss"].iloc[-1]),
        }
        if lam > 0:
            pred = predicted_slope(cfg.lr, lam, cfg.momentum)
            for part in ("diag", "offdiag", "total"):
                fit = fit_log_slope(log["step"], log[f"delta_{part}_{pair + 1}"], start=burn_in, stop=fit_until)
                row[f"slope_{part}"] = fit["slope"]
                row[f"slope_{part}_rel_err"] = abs(fit["slope"] / pred - 1)
            row["slope_pred"] = pred
        rows.append(row)
        logs[(act, lam)] = log
        flags[(act, lam)] = flag_intersection_table(W1, W2, ladder=[1, 2, 3, 4, 5][:kk] if kk <= 5 else None)
    return pd.DataFrame(rows), logs, flags


REGIMES = ("below Level 2", "Level 2, not 3", "in between", "Level 3")
"""Names returned by :func:`regime`, from least to most aligned."""


def regime(level2: float, matched: float, hungarian: float) -> str:
    """Which level a pair reached, with the thresholds of the chapter's claim C14.

    ``Level 3``: ``s̄ > 0.99`` and both basis scores ``≥ 0.99``; ``Level 2, not 3``: ``s̄ > 0.99`` with
    order-matched ``< 0.8`` and Hungarian ``< 0.95``; ``below Level 2``: ``s̄ ≤ 0.99``; otherwise
    ``in between`` (subspaces aligned, bases partly).
    """
    if not level2 > 0.99:
        return REGIMES[0]
    if matched >= 0.99 and hungarian >= 0.99:
        return REGIMES[3]
    if matched < 0.8 and hungarian < 0.95:
        return REGIMES[1]
    return REGIMES[2]


class LevelCheckpoints:
    """Training callback scoring the pair ``(W_{pair+1}, W_{pair+2})`` (0-based ``pair``) at the given steps."""

    def __init__(self, steps, pair: int = 1, k: int | None = None):
        self.steps, self.pair, self.k = set(int(s) for s in steps), pair, k

    def __call__(self, step: int, model) -> dict:
        if step not in self.steps:
            return {}
        W = [as_float64(w) for w in model.weights()]
        sc = level_scores(W[self.pair], W[self.pair + 1], k=self.k, commutator=True)
        return {k: sc[k] for k in ("level2_soft", "level3_matched", "level3_hungarian", "commutator")}


def tanh_regime_map(
    X, Y, base: TrainConfig, lambdas, hidden_widths, checkpoints, pair: int = 1, k: int | None = None
) -> pd.DataFrame:
    """Level reached by tanh MLPs ``d_in → w → w → d_out`` over λ × width × training length.

    Parameters
    ----------
    X, Y : Tensor
        Training data (MSE).
    base : TrainConfig
        Learning rate, seed and logging; widths, activation, λ and steps are set here.
    lambdas : sequence of float
        Weight decays.
    hidden_widths : sequence of int
        Width ``w`` of both hidden layers.
    checkpoints : sequence of int
        Training lengths at which the pair is scored (the runs last ``max(checkpoints)`` steps).
    pair, k : int
        Scored pair (0-based, ``1`` is ``(W2, W3)``) and subspace size (default: the output width).

    Returns
    -------
    DataFrame
        One row per (width, λ, steps): ``level2_soft``, ``level3_matched``, ``level3_hungarian``,
        ``commutator`` and ``regime`` (:func:`regime`).
    """
    checkpoints = sorted(int(c) for c in checkpoints)
    if not checkpoints or checkpoints[0] < 1:
        raise ValueError(f"checkpoints must be positive step counts, got {checkpoints}")
    k = k or Y.shape[1]
    log_every = int(np.gcd.reduce(checkpoints))
    rows = []
    for w in hidden_widths:
        cfg = replace(
            base, widths=(X.shape[1], w, w, Y.shape[1]), activation="tanh", steps=checkpoints[-1], log_every=log_every
        )
        cfgs = [replace(cfg, weight_decay=float(lam)) for lam in lambdas]
        trained = train_mlp_grid(X, Y, cfgs, callbacks=[LevelCheckpoints(checkpoints, pair, k) for _ in cfgs])
        for lam, (_, log) in zip(lambdas, trained):
            for _, r in log[log.step.isin(checkpoints)].iterrows():
                rows.append(
                    {
                        "width": int(w),
                        "lam": float(lam),
                        "steps": int(r.step),
                        "level2_soft": r.level2_soft,
                        "level3_matched": r.level3_matched,
                        "level3_hungarian": r.level3_hungarian,
                        "commutator": r.commutator,
                        "regime": regime(r.level2_soft, r.level3_matched, r.level3_hungarian),
                    }
                )
    return pd.DataFrame(rows)
