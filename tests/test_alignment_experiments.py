"""Part I drivers and the subspace-rate quantities they log, against independent references."""

import numpy as np
import pytest
import torch

from lsa.alignment.levels import davis_kahan_bound, sin_theta_norm
from lsa.alignment.training import TrainConfig
from lsa.data.regression import digits_regression, random_targets, teacher_classification, teacher_regression
from lsa.experiments.alignment_commutator import REGIMES, regime, tanh_regime_map
from lsa.experiments.alignment_ridge import LOSS_DATA, SinThetaLog, loss_data_problem, subspace_rate_rows
from lsa.experiments.neural_collapse_levels import block_pair_alignment
from lsa.linalg import principal_angles, top_subspace
from lsa.models.mlp import MLP
from lsa.models.resnet import ResNet


def test_sin_theta_matches_principal_angles_and_is_tiny_for_aligned_pairs():
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((12, 7)), rng.standard_normal((5, 12))
    U, _ = top_subspace(W1, "left", k=4)
    V, _ = top_subspace(W2, "right", k=4)
    ref = np.sqrt(np.sum(np.sin(principal_angles(U, V)) ** 2))
    assert sin_theta_norm(W1, W2, 4) == pytest.approx(ref, rel=1e-10)
    # balanced pair: W2 = B Σ Uᵀ, W1 = U Σ Aᵀ share the hidden basis → angle 0 to machine precision
    Q, _ = np.linalg.qr(rng.standard_normal((12, 4)))
    S = np.diag([4.0, 3.0, 2.0, 1.0])
    A, _ = np.linalg.qr(rng.standard_normal((7, 4)))
    B, _ = np.linalg.qr(rng.standard_normal((5, 4)))
    assert sin_theta_norm(Q @ S @ A.T, B @ S @ Q.T, 4) < 1e-12


def test_davis_kahan_bound_holds_on_random_pairs_and_is_inf_without_gap():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n, k = int(rng.integers(4, 12)), int(rng.integers(1, 4))
        W1 = rng.standard_normal((n, n + 2)) * rng.lognormal(0, 1, size=n + 2)
        W2 = W1.T[: n - 1] + 0.3 * rng.standard_normal((n - 1, n))
        assert sin_theta_norm(W1, W2, k) <= davis_kahan_bound(W1, W2, k) + 1e-12
    assert davis_kahan_bound(np.eye(4), np.eye(4), 2) == np.inf  # q_2 = q_3: no gap
    with pytest.raises(ValueError, match="k must lie"):
        sin_theta_norm(np.eye(3), np.eye(3), 4)


def test_loss_data_problems():
    X, y = teacher_classification(n=50, seed=2)
    _, T = teacher_regression(n=50, seed=2)
    assert torch.equal(y, T.argmax(1))
    Xr, Yr = random_targets(n=50, seed=2)
    assert torch.equal(Xr, X) and abs(float(torch.corrcoef(torch.stack([Yr[:, 0], T[:, 0]]))[0, 1])) < 0.5
    Xd, yd = digits_regression(n=30, labels=True)
    assert Xd.shape == (30, 64) and yd.dtype == torch.int64 and int(yd.max()) <= 9
    for cond in LOSS_DATA:
        X, Y, loss = loss_data_problem(cond, n=20)
        assert len(X) == len(Y) == 20 and loss in ("mse", "ce")
    with pytest.raises(ValueError, match="condition"):
        loss_data_problem("teacher-hinge")


def test_subspace_rates_of_exact_exponentials():
    import pandas as pd

    steps = np.arange(0, 3000, 50)
    pred = 2 * np.log1p(-0.05 * 0.02)
    log = pd.DataFrame({"step": steps, "delta_total_1": 3 * np.exp(pred * steps), "sin_theta_1": np.exp(pred * steps)})
    (row,) = subspace_rate_rows(log, 0.05, 0.02, burn_in=500)
    assert row["rel_err_pred"] < 1e-9 and row["rel_err_delta"] < 1e-9
    cb = SinThetaLog(2)(0, MLP((6, 5, 4, 3), "tanh", generator=torch.Generator().manual_seed(0)))
    assert set(cb) == {"sin_theta_1", "sin_theta_2", "dk_bound_1", "dk_bound_2"}


def test_regime_thresholds_and_small_map():
    assert regime(0.5, 1.0, 1.0) == REGIMES[0]
    assert regime(0.995, 0.5, 0.9) == REGIMES[1]
    assert regime(0.995, 0.9, 0.97) == REGIMES[2]
    assert regime(0.995, 0.995, 0.999) == REGIMES[3]
    X, Y = teacher_regression(n=40)
    base = TrainConfig(widths=(20, 8, 8, 5), lr=0.05, device="cpu")
    rmap = tanh_regime_map(X, Y, base, [0.0, 0.03], [8, 10], [20, 40], k=3)
    assert len(rmap) == 2 * 2 * 2 and set(rmap.regime) <= set(REGIMES)
    assert set(rmap.steps) == {20, 40}


def test_block_pair_alignment_scores_conv_pairs_only():
    torch.manual_seed(0)
    net = ResNet(1, 10, (4, 8), 1, batchnorm=True)
    rows = block_pair_alignment(net)
    assert list(rows.pair) == ["block0.conv1-conv2", "block1.conv1-conv2"]
    assert ((rows.soft_overlap >= 0) & (rows.soft_overlap <= 1 + 1e-12)).all()
    assert (rows.commutator <= np.sqrt(2)).all()
    assert len(block_pair_alignment(ResNet(1, 10, (4, 8), 1, batchnorm=False))) == 0  # zero-initialised conv2


def test_mlp_write_read_ratios_and_missing_rows():
    import pandas as pd

    from lsa.experiments.head_overlap import mlp_write_read

    diag = pd.DataFrame(
        {
            "kind": ["mlp_write_read"] * 4 + ["head_overlap"],
            "layer": [0, 0, 0, 1, 0],
            "metric": ["chance", "read_energy_on_write", "read_energy_on_write", "chance", "overlap"],
            "pair": ["mlp->q(next)", "mlp->q(next)", "mlp->mlp_in(next)", "mlp->q(next)", "q"],
            "value": [0.25, 0.5, 0.125, 0.3, 0.9],
        }
    )
    out = mlp_write_read(diag, "pretrained")
    assert out.ratio.tolist() == [2.0, 0.5] and out.read.tolist() == ["q", "mlp_in"]
    with pytest.raises(ValueError, match="mlp_write_read"):
        mlp_write_read(diag[diag.kind != "mlp_write_read"], "x")
