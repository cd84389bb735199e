"""Classifier training loop and NC snapshots (ResNet with and without BatchNorm, MLP callback)."""

import numpy as np
import pytest
import torch

from lsa.alignment.commutator import commutator_magnitude
from lsa.alignment.diagnose import weight_pairs
from lsa.alignment.nc_training import ClassifierConfig, nc_callback, nc_snapshot, resnet_features, train_classifier
from lsa.alignment.neural_collapse import nc_metrics
from lsa.alignment.training import TrainConfig, train_mlp
from lsa.data.mixtures import gaussian_mixture
from lsa.models.resnet import ResNet


@pytest.mark.parametrize("bn", [True, False])
def test_resnet_training_logs_and_learns(bn):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 1, 8, 8, generator=g)
    y = torch.arange(60) % 3
    X[y == 1, :, :4] += 2.0
    X[y == 2, :, 4:] += 2.0
    net = ResNet(1, 3, (4, 8), 1, batchnorm=bn)
    _, log = train_classifier(net, X, y, ClassifierConfig(steps=40, lr=0.05, log_every=20, batch_size=16, device="cpu"))
    assert list(log.step) == [0, 20, 40]
    assert log.loss.iloc[-1] < log.loss.iloc[0]
    snap = nc_snapshot(net, X, y, resnet_features)
    H, W, b = resnet_features(net.eval(), X)
    ref = nc_metrics(H.detach(), y, W.detach(), b.detach())
    assert snap["nc1"] == pytest.approx(ref["nc1"], rel=1e-6)
    pairs = weight_pairs(net)
    assert snap["comm_0"] == pytest.approx(commutator_magnitude(pairs[0][2], pairs[0][3]), rel=1e-6)


def test_mlp_callback_columns_and_config_errors():
    X, y = gaussian_mixture(3, 6, 10, seed=1)
    cfg = TrainConfig(widths=(6, 8, 8, 3), activation="relu", steps=20, lr=0.1, loss="ce", log_every=10, device="cpu")
    _, log = train_mlp(X, y, cfg, callback=nc_callback(X, y))
    for col in ("nc1", "nc3", "nc4", "level2_nc", "level2_0", "level3_1", "comm_1"):
        assert col in log.columns and np.isfinite(log[col]).all()
    with pytest.raises(ValueError, match="momentum"):
        ClassifierConfig(momentum=1.5)
    with pytest.raises(ValueError, match="samples"):
        train_classifier(
            ResNet(1, 3, (4,), 1),
            torch.zeros(5, 1, 8, 8),
            torch.zeros(4, dtype=torch.long),
            ClassifierConfig(device="cpu"),
        )
