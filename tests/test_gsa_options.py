"""Tests of the optional GSA-II tools : Hutch++ Frobenius estimates, the Gram-average
spectrum diagnostic and spectral-clustering row groups. Each test checks a closed form, a dense reference or a
property that must hold."""

import numpy as np
import pytest
import torch
from scipy.sparse.linalg import aslinearoperator

from lsa.gsa.config import GSAConfig
from lsa.gsa.jacobian import (
    MeanChannelJacobian,
    gram_average_spectrum,
    per_sample_channel_jacobians,
    per_sample_mean_jacobian,
)
from lsa.gsa.pam import row_groups, row_groups_argmax, row_groups_spectral
from lsa.gsa.spectra import hutchinson_fro2, hutchpp_fro2, randomized_spectrum
from lsa.linalg import random_orthogonal, randomized_svd


def decaying_matrix(m, n, rng, power=1.0):
    """A = U diag(i^-power) V^T with Haar U, V: a known spectrum whose tail decays."""
    r = min(m, n)
    s = np.arange(1, r + 1, dtype=float) ** -power
    return random_orthogonal(m, rng)[:, :r] @ np.diag(s) @ random_orthogonal(n, rng)[:, :r].T


# ---- Hutch++ (protocol step P1) ------------------------------------------------------------------------------
def test_hutchpp_exact_when_basis_spans_row_space():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 6)) @ rng.standard_normal((6, 30))  # rank 6
    truth = float(np.sum(A**2))
    V, _ = np.linalg.qr(A.T @ rng.standard_normal((40, 6)))  # an orthonormal basis of the row space
    est, upper = hutchpp_fro2(aslinearoperator(A), n_samples=10, seed=3, basis=V)
    assert est == pytest.approx(truth, rel=1e-12) and upper == pytest.approx(truth, rel=1e-12)
    # without a basis, a sketch of n_samples // 3 >= rank products captures the row space: exact again
    est, upper = hutchpp_fro2(A, n_samples=24, seed=3)
    assert est == pytest.approx(truth, rel=1e-12) and upper == pytest.approx(truth, rel=1e-12)


def test_hutchpp_interval_covers_truth_and_is_much_narrower_than_hutchinson():
    rng = np.random.default_rng(100)
    A = decaying_matrix(120, 100, rng)
    op = aslinearoperator(A)
    truth = float(np.sum(A**2))
    budget, k, seeds = 60, 20, range(200)
    _, _, Vt = randomized_svd(op, k, oversample=10, n_iter=2, seed=0)
    for basis, max_ratio in ((Vt.T, 0.1), (None, 0.3)):
        covered, ratios = [], []
        for seed in seeds:  # the same number of products for both estimators
            est, up = hutchpp_fro2(op, budget, seed, basis=basis)
            plain_est, plain_up = hutchinson_fro2(op, budget, seed)
            covered.append(2 * est - up <= truth <= up)
            ratios.append((up - est) / (plain_up - plain_est))
        assert np.mean(covered) >= 0.85  # a 95 % interval (normal approximation over 40 or 20 probes)
        assert np.max(ratios) < max_ratio


def test_randomized_spectrum_uses_deflated_estimate():
    rng = np.random.default_rng(7)
    A = decaying_matrix(80, 60, rng)
    truth = float(np.sum(A**2))
    spec = randomized_spectrum(aslinearoperator(A), 8, oversample=10, n_iter=2, seed=0, n_hutch=32)
    assert not spec.exact
    assert truth <= spec.fro2 <= truth * 1.02  # upper end of a narrow interval (plain Hutchinson: 10-45 %)
    assert np.allclose(spec.s, np.arange(1, 9) ** -1.0, rtol=1e-6)


def test_hutchpp_bad_input():
    A = aslinearoperator(np.eye(5))
    with pytest.raises(ValueError, match="orthonormal"):
        hutchpp_fro2(A, 10, basis=np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"\(n, k\) matrix with n = 5"):
        hutchpp_fro2(A, 10, basis=np.eye(4)[:, :2])
    with pytest.raises(ValueError, match="n_samples must be an integer >= 5"):
        hutchpp_fro2(A, 4, basis=np.eye(5)[:, :3])
    with pytest.raises(ValueError, match="n_samples must be an integer >= 4"):
        hutchpp_fro2(A, 3)


# ---- Gram-average spectrum (diagnostic) -----------------------------------------------------------
def _mlp_block(d, seed):
    torch.manual_seed(seed)
    lin1, lin2 = torch.nn.Linear(d, 2 * d).double(), torch.nn.Linear(2 * d, d).double()
    return lambda h: h + lin2(torch.nn.functional.gelu(lin1(h)))


def test_per_sample_jacobians_match_jacrev_reference_and_mean_operator():
    fn = _mlp_block(6, 0)
    x = torch.randn(4, 5, 6, dtype=torch.double)
    J = per_sample_channel_jacobians(fn, x, -1, chunk=4)
    assert J.shape == (4, 6, 6)
    for n in range(4):  # independent reference: torch.func.jacrev on one sample
        assert np.allclose(J[n], per_sample_mean_jacobian(fn, x[n : n + 1], -1), atol=1e-12, rtol=0)
    assert np.allclose(J.mean(0), MeanChannelJacobian(fn, x, -1).dense(), atol=1e-12, rtol=0)
    # NCHW layout: a conv block, channels on axis 1
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(3, 5, 3, padding=1).double()
    xc = torch.randn(3, 3, 6, 6, dtype=torch.double)
    Jc = per_sample_channel_jacobians(lambda h: torch.tanh(conv(h)), xc, 1)
    for n in range(3):
        ref = per_sample_mean_jacobian(lambda h: torch.tanh(conv(h)), xc[n : n + 1], 1)
        assert np.allclose(Jc[n], ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_gram_average_spectrum_dominates_mean_jacobian(seed):
    fn = _mlp_block(8, seed)
    x = 1.5 * torch.randn(6, 4, 8, dtype=torch.double, generator=torch.Generator().manual_seed(seed))
    J = per_sample_channel_jacobians(fn, x, -1)
    g = gram_average_spectrum(fn, x, -1)
    s = np.linalg.svd(MeanChannelJacobian(fn, x, -1).dense(), compute_uv=False)
    assert np.all(np.diff(g) <= 0) and g.shape == (8,)
    assert np.all(g >= s - 1e-10 * s[0])
    # the excess energy is exactly the sample variance of the Jacobians (and positive for a nonlinear block)
    excess = np.sum(g**2) - np.sum(s**2)
    assert excess == pytest.approx(np.mean(np.sum((J - J.mean(0)) ** 2, axis=(1, 2))), rel=1e-8)
    assert excess > 1e-3 * np.sum(s**2)
    assert np.allclose(gram_average_spectrum(None, None, jacobians=J), g, rtol=1e-13, atol=0)


def test_gram_average_spectrum_equals_mean_spectrum_for_a_linear_block():
    torch.manual_seed(2)
    lin = torch.nn.Linear(7, 5).double()  # same Jacobian (the weight) at every sample
    x = torch.randn(9, 3, 7, dtype=torch.double)
    g = gram_average_spectrum(lin, x, -1)
    s = np.linalg.svd(lin.weight.detach().numpy(), compute_uv=False)
    assert g.shape == (7,) and np.allclose(g[:5], s, rtol=1e-12, atol=0) and np.all(g[5:] <= 1e-12 * s[0])


def test_gram_average_spectrum_bad_input():
    with pytest.raises(ValueError, match=r"\(N, C_out, C_in\)"):
        gram_average_spectrum(None, None, jacobians=np.ones((3, 4)))
    with pytest.raises(ValueError, match="probe batch"):
        per_sample_channel_jacobians(lambda h: h, np.ones((3, 4)))


# ---- spectral-clustering row groups (PAM, rule 3) ----------------------------------------------------
def planted_pam(rng, rows_per_group=6, noise=0.03):
    """Rows of group g carry equal energy on the columns of pattern g (shuffled rows, random row scales): the
    dominant-mode argmax splits the two-column groups by noise, the energy profiles do not. The patterns are
    linearly independent, so the four groups are separable in the top eigenspace of the affinity."""
    patterns = [(0, 1), (1, 2), (2, 3), (3,)]
    truth = rng.permutation(np.repeat(np.arange(4), rows_per_group))
    P = noise * rng.standard_normal((truth.size, 4))
    for c, g in enumerate(truth):
        P[c, list(patterns[g])] += rng.choice([-1.0, 1.0], size=len(patterns[g]))
    P *= rng.uniform(0.2, 5.0, size=(truth.size, 1))
    return P, truth


def _first_appearance(labels):
    _, first = np.unique(labels, return_index=True)
    remap = {int(labels[i]): r for r, i in enumerate(np.sort(first))}
    return np.array([remap[int(x)] for x in labels])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spectral_row_groups_recover_planted_blocks(seed):
    rng = np.random.default_rng(seed)
    P, truth = planted_pam(rng)
    P = np.vstack([P, np.zeros((1, 4))])  # a null row
    g = row_groups_spectral(P, 4, seed=seed)
    assert g[-1] == -1 and np.array_equal(g[:-1], _first_appearance(truth))
    assert np.array_equal(row_groups(P, GSAConfig(row_groups="spectral", seed=seed)), g)  # 4 columns -> 4 groups
    assert not np.array_equal(row_groups_argmax(P)[:-1], _first_appearance(truth))  # argmax cannot see pairs
    assert np.array_equal(row_groups_spectral(P, 1), np.r_[np.zeros(P.shape[0] - 1, int), -1])


def test_spectral_row_groups_bad_input():
    P, _ = planted_pam(np.random.default_rng(0), rows_per_group=2)
    for m in (0, 9, 2.5, True):
        with pytest.raises(ValueError, match=r"m \(number of row clusters\) must be an integer in \[1, 8\]"):
            row_groups_spectral(P, m)
    with pytest.raises(ValueError, match="row_groups"):
        GSAConfig(row_groups="kmeans")
