"""Driver of the commutator chapter: the regime map of where tanh networks stop at Level 2.

:func:`tanh_regime_map` trains tanh MLPs over weight decay λ × hidden width (one batched training per width)
and scores the pair ``(W2, W3)`` at several training lengths; :func:`regime` names the level each point reached.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from lsa.alignment.levels import level_scores
from lsa.alignment.training import TrainConfig, train_mlp_grid
from lsa.linalg import as_float64

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
