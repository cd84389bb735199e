"""Part I ridge alignment: imbalance, commutator, slopes and training against closed forms."""

import math

import numpy as np
import pytest
import torch

from lsa.alignment.commutator import commutator_direct, commutator_fast, commutator_magnitude
from lsa.alignment.imbalance import imbalance, imbalance_norms
from lsa.alignment.ridge import ImbalanceDrift, conservation_change, final_alignment, slope_rows
from lsa.alignment.slopes import fit_log_slope, fit_through_origin, predicted_line, predicted_slope
from lsa.alignment.training import TrainConfig, teacher_regression, train_mlp


def test_predicted_slope_closed_forms():
    assert predicted_slope(0.05, 0.01) == pytest.approx(2 * math.log(1 - 5e-4), rel=1e-15)
    assert predicted_slope(0.01, 1e-3, beta=0.9) == pytest.approx(-2e-4)
    with pytest.raises(ValueError, match="momentum"):
        predicted_slope(0.1, 0.1, beta=1.0)
    with pytest.raises(ValueError):
        predicted_slope(1.0, 2.0)


def test_fits_recover_exact_lines():
    steps = np.arange(0, 1000, 10)
    fit = fit_log_slope(steps, 3.0 * np.exp(-2e-3 * steps), start=100)
    assert fit["slope"] == pytest.approx(-2e-3, rel=1e-10) and fit["r2"] == pytest.approx(1.0)
    line = fit_through_origin([0.01, 0.02, 0.03], [-1e-3, -2e-3, -3e-3])
    assert line["gradient"] == pytest.approx(-0.1) and line["r2"] == pytest.approx(1.0)


def test_balanced_factorisation_has_zero_imbalance_and_commutator():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((5, 4)) @ rng.standard_normal((4, 7))  # rank 4 product
    A, s, Bt = np.linalg.svd(M, full_matrices=False)
    r = 4
    W_l = np.diag(np.sqrt(s[:r])) @ Bt[:r]
    W_next = A[:, :r] @ np.diag(np.sqrt(s[:r]))
    np.testing.assert_allclose(W_next @ W_l, M, atol=1e-12)
    assert np.linalg.norm(imbalance(W_l, W_next)) < 1e-12
    assert commutator_direct(W_l, W_next) < 1e-12
    assert np.sum(W_l**2) + np.sum(W_next**2) == pytest.approx(2 * s.sum())  # 2‖M‖_* at the balanced point


@pytest.mark.parametrize("shape", [(5, 40, 7), (30, 30, 30), (64, 300, 16)])
def test_commutator_fast_equals_direct_and_obeys_bound(shape):
    rng = np.random.default_rng(sum(shape))
    n_prev, n_l, n_next = shape
    W_l, W_next = rng.standard_normal((n_l, n_prev)), rng.standard_normal((n_next, n_l))
    c = commutator_direct(W_l, W_next)
    assert commutator_fast(W_l, W_next) == pytest.approx(c, rel=1e-10)
    assert 0 <= c <= math.sqrt(2)
    assert commutator_magnitude(3 * W_l, 0.1 * W_next) == pytest.approx(c, rel=1e-10)  # scale invariant
    with pytest.raises(ValueError, match="method"):
        commutator_magnitude(W_l, W_next, method="dense")


def test_imbalance_split_is_pythagorean():
    rng = np.random.default_rng(1)
    W_l, W_next = rng.standard_normal((6, 4)), rng.standard_normal((3, 6))
    n = imbalance_norms(W_l, W_next)
    assert n["total"] ** 2 == pytest.approx(n["diag"] ** 2 + n["offdiag"] ** 2)
    assert 0 <= n["relative"] <= 1
    with pytest.raises(ValueError, match="adjacent"):
        imbalance(W_l, rng.standard_normal((3, 5)))


def _capture():
    snaps = {}

    def cb(step, model):
        snaps[step] = [w.detach().clone() for w in model.weights()]
        return {}

    return snaps, cb


@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_one_gd_step_matches_the_imbalance_recursion(activation):
    """Δ' = (1−ηλ)²Δ + η²(G_{l+1}ᵀG_{l+1} − G_l G_lᵀ) exactly for linear nets; on the diagonal for ReLU."""
    X, Y = teacher_regression(n=50, d_in=6, d_out=3, seed=2)
    eta, lam = 0.05, 0.02
    cfg = TrainConfig(widths=(6, 8, 7, 3), activation=activation, steps=1, lr=eta, weight_decay=lam, log_every=1)
    snaps, cb = _capture()
    train_mlp(X, Y, cfg, callback=cb)
    W0 = [w.clone().requires_grad_(True) for w in snaps[0]]
    act = (lambda z: z) if activation == "identity" else torch.relu
    h = X
    for i, w in enumerate(W0):
        h = h @ w.T
        if i < len(W0) - 1:
            h = act(h)
    (0.5 * ((h - Y) ** 2).sum(1).mean()).backward()
    G = [w.grad.numpy() for w in W0]
    W0 = [w.detach().numpy() for w in W0]
    W1 = [w.numpy() for w in snaps[1]]
    for l in range(2):
        lhs = imbalance(W1[l], W1[l + 1])
        rhs = (1 - eta * lam) ** 2 * imbalance(W0[l], W0[l + 1]) + eta**2 * (G[l + 1].T @ G[l + 1] - G[l] @ G[l].T)
        if activation == "identity":
            np.testing.assert_allclose(lhs, rhs, atol=1e-12)
        else:
            np.testing.assert_allclose(np.diag(lhs), np.diag(rhs), atol=1e-12)
            assert np.abs(lhs - rhs).max() > 1e-6  # the off-diagonal is driven by the commutator term


def test_linear_net_slope_and_conservation():
    X, Y = teacher_regression(seed=0)
    cfg = TrainConfig(activation="identity", steps=1200, weight_decay=0.03, log_every=20)
    _, log = train_mlp(X, Y, cfg)
    rows = slope_rows(log, cfg.lr, cfg.weight_decay, burn_in=200)
    assert max(r["rel_err_total"] for r in rows) < 0.02
    # λ = 0: gradient flow conserves Δ; GD drifts by O(η²) per step, i.e. O(η) per unit of flow time t = kη,
    # so halving η over the same flow time halves the drift.
    drift = [
        conservation_change(
            train_mlp(
                X, Y, TrainConfig(activation="identity", steps=k, lr=eta, log_every=30), callback=ImbalanceDrift()
            )[1]
        )
        for eta, k in ((1e-3, 300), (5e-4, 600))
    ]
    assert drift[0] < 1e-3 and drift[0] / drift[1] == pytest.approx(2.0, rel=0.1)
    rows = final_alignment(train_mlp(X, Y, cfg)[0])
    assert [r["layer"] for r in rows] == [1, 2] and all(0 <= r["soft_overlap"] <= 1 for r in rows)


def test_train_config_rejects_bad_input():
    with pytest.raises(ValueError, match="activation"):
        TrainConfig(activation="relu6")
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="adam")
    X, Y = teacher_regression(n=10)
    with pytest.raises(ValueError, match="do not fit"):
        train_mlp(X, Y, TrainConfig(widths=(7, 4, 5)))


def test_predicted_line_is_anchored_after_burn_in():
    steps = np.arange(0, 100, 10)
    t, y = predicted_line(steps, np.exp(-0.01 * steps) * 5, -0.01, burn_in=25)
    np.testing.assert_array_equal(t, np.arange(30, 100, 10))
    np.testing.assert_allclose(y, np.log(5) - 0.01 * t)
    with pytest.raises(ValueError, match="burn_in"):
        predicted_line(steps, np.ones(10), -0.01, burn_in=1000)


def test_minibatch_order_draws_without_replacement_within_an_epoch():
    from lsa.alignment.training import MinibatchOrder

    X = torch.arange(10.0)[:, None]
    full = MinibatchOrder(10, None, torch.Generator().manual_seed(0), "cpu")
    assert full.next(X, X)[0] is X
    mb = MinibatchOrder(10, 3, torch.Generator().manual_seed(0), "cpu")
    for _ in range(4):  # each epoch: three disjoint batches of 3 (the leftover index waits for the reshuffle)
        seen = torch.cat([mb.next(X, X)[0][:, 0] for _ in range(3)])
        assert len(set(seen.tolist())) == 9
