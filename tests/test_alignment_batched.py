"""Batched grid training (stacked weights) against the one-at-a-time reference ``train_mlp``."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from lsa.alignment.training import (
    TrainConfig,
    pair_log,
    stacked_pair_log,
    teacher_regression,
    train_mlp,
    train_mlp_grid,
)
from lsa.data.mixtures import gaussian_mixture
from lsa.models.mlp import MLP, StackedMLP

ACTS = ["identity", "relu", "tanh", "leaky_relu", "gelu"]


def _max_diff(ref, got):
    """Largest absolute difference between two lists of (model, log) over weights and every log column."""
    worst = 0.0
    for (m, log), (m2, log2) in zip(ref, got):
        assert list(log.columns) == list(log2.columns) and len(log) == len(log2)
        for w, w2 in zip(m.weights(), m2.weights()):
            worst = max(worst, float((w - w2).detach().abs().max()))
        worst = max(worst, float(np.abs(log.to_numpy(float) - log2.to_numpy(float)).max()))
    return worst


@pytest.mark.parametrize(
    "variant",
    [
        {},  # full-batch GD, MSE
        {"momentum": 0.9, "lr": 0.01},
        {"batch_size": 32},
    ],
    ids=["gd", "momentum", "minibatch"],
)
def test_grid_matches_one_at_a_time_regression(variant):
    X, Y = teacher_regression(n=60, seed=3)
    base = TrainConfig(widths=(20, 12, 10, 5), steps=80, log_every=10, device="cpu", **variant)
    cfgs = [replace(base, activation=a, weight_decay=lam, seed=s) for a in ACTS for lam in (0.0, 0.03) for s in (0, 1)]
    ref = [train_mlp(X, Y, c) for c in cfgs]
    got = train_mlp_grid(X, Y, cfgs)
    assert _max_diff(ref, got) < 1e-10


def test_grid_matches_one_at_a_time_cross_entropy_with_callbacks():
    X, y = gaussian_mixture(3, 8, 20, 0.8, seed=1)
    base = TrainConfig(widths=(8, 16, 16, 3), steps=60, log_every=20, loss="ce", init_gain=2.0, device="cpu")
    cfgs = [replace(base, activation=a, weight_decay=lam) for a in ("relu", "identity", "relu") for lam in (0.0, 5e-3)]

    def cb(step, model):  # a callback that reads the member it is given
        return {"w_norm": float(sum((w**2).sum() for w in model.weights()))}

    ref = [train_mlp(X, y, c, callback=cb) for c in cfgs]
    got = train_mlp_grid(X, y, cfgs, callbacks=[cb] * len(cfgs))
    assert "w_norm" in got[0][1].columns
    assert _max_diff(ref, got) < 1e-10


def test_stacked_pair_log_equals_pair_log():
    gen = torch.Generator().manual_seed(0)
    models = [MLP((6, 9, 7, 4), a, generator=gen) for a in ("relu", "tanh", "relu")]
    stacked = stacked_pair_log(StackedMLP.from_members(models).weights())
    for g, m in enumerate(models):
        for k, v in pair_log(m).items():
            assert stacked[k][g] == pytest.approx(v, rel=1e-12, abs=1e-15)


def test_stacked_mlp_forward_and_member_equal_the_members():
    gen = torch.Generator().manual_seed(1)
    models = [MLP((5, 8, 3), a, generator=gen) for a in ("tanh", "tanh", "gelu", "relu")]
    stacked = StackedMLP.from_members(models)
    x = torch.randn(11, 5, dtype=torch.float64, generator=gen)
    out = stacked(x)
    for g, m in enumerate(models):
        torch.testing.assert_close(out[g], m(x), rtol=0, atol=1e-14)
        torch.testing.assert_close(stacked.member(g)(x), m(x), rtol=0, atol=0)


def test_grid_rejects_bad_input():
    X, Y = teacher_regression(n=20)
    base = TrainConfig(widths=(20, 8, 5), steps=5, device="cpu")
    with pytest.raises(ValueError, match="differs from config 0 in \\['lr'\\]"):
        train_mlp_grid(X, Y, [base, replace(base, lr=0.1)])
    with pytest.raises(ValueError, match="SGD only"):
        train_mlp_grid(X, Y, [replace(base, optimizer="adamw")])
    with pytest.raises(ValueError, match="at least one"):
        train_mlp_grid(X, Y, [])
    with pytest.raises(ValueError, match="one callback"):
        train_mlp_grid(X, Y, [base, base], callbacks=[None])
    with pytest.raises(ValueError, match="do not fit widths"):
        train_mlp_grid(X[:, :10], Y, [base])
    with pytest.raises(ValueError, match="expected shape"):
        StackedMLP((3, 4), ["relu"], [torch.zeros(2, 4, 3)])
    with pytest.raises(ValueError, match="activations must be among"):
        StackedMLP((3, 4), ["swish"], [torch.zeros(1, 4, 3)])
