"""NC1–NC4 against closed forms: a perfectly collapsed simplex-ETF configuration and a scrambled one."""

import numpy as np
import pytest
import torch

from lsa.alignment.neural_collapse import nc_metrics
from lsa.data.digits import load_digits_tensors
from lsa.data.mixtures import gaussian_mixture
from lsa.linalg import random_orthogonal


def etf(C, n, rng):
    M = np.sqrt(C / (C - 1)) * (np.eye(C) - np.ones((C, C)) / C)  # C×C simplex ETF, unit columns
    return random_orthogonal(n, rng)[:, :C] @ M  # n×C


def test_collapsed_etf_is_perfect():
    rng = np.random.default_rng(0)
    C, n = 5, 12
    Mt = etf(C, n, rng)
    y = np.repeat(np.arange(C), 8)
    H = Mt.T[y] + 1e-9 * rng.standard_normal((len(y), n))
    out = nc_metrics(H, y, 3.0 * Mt.T)  # self-dual classifier
    assert out["nc1"] < 1e-12
    assert out["nc2_equinorm"] < 1e-6 and out["nc2_equiangular"] < 1e-6 and out["nc2_maxangle"] < 1e-6
    assert out["nc3"] < 1e-12 and out["nc4"] == 0.0
    assert out["level2_nc"] == pytest.approx(1.0, abs=1e-10)
    assert out["level3_nc"] == pytest.approx(1.0, abs=1e-10)


def test_nc1_closed_form_and_scrambled_classifier():
    rng = np.random.default_rng(1)
    C, n = 3, 3
    Mt = etf(C, n, rng)
    y = np.repeat(np.arange(C), 2)
    eps = 0.1
    # each class: mean ± eps·e (along a direction inside the class-mean span): within-class var eps²
    e = Mt[:, 0] / np.linalg.norm(Mt[:, 0])
    H = np.concatenate([[Mt[:, c] + eps * e, Mt[:, c] - eps * e] for c in range(C)])
    Sigma_W = eps**2 * np.outer(e, e)
    Sigma_B = Mt @ Mt.T / C
    expected = np.trace(Sigma_W @ np.linalg.pinv(Sigma_B)) / C
    out = nc_metrics(H, y, Mt.T)
    assert out["nc1"] == pytest.approx(expected, rel=1e-10)
    W_bad = random_orthogonal(n, rng)[:C] * 2
    bad = nc_metrics(H, y, W_bad)
    assert bad["nc3"] > 0.1


def test_nc_bad_input():
    with pytest.raises(ValueError, match="classifier W"):
        nc_metrics(np.zeros((4, 3)), np.array([0, 0, 1, 1]), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="labels"):
        nc_metrics(np.zeros((4, 3)), np.array([0, 0, 2, 2]), np.zeros((3, 3)))


def test_data_generators():
    X, y = gaussian_mixture(4, 32, 100, seed=0)
    X2, _ = gaussian_mixture(4, 32, 100, seed=0)
    assert X.shape == (400, 32) and torch.equal(X, X2) and torch.bincount(y).tolist() == [100] * 4
    Xd, yd = load_digits_tensors(image=True)
    assert Xd.shape == (1797, 1, 8, 8) and int(yd.max()) == 9
    assert abs(float(Xd.mean())) < 1e-10
    with pytest.raises(ValueError):
        gaussian_mixture(1)
