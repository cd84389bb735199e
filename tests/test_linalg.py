"""Shared linear algebra against SciPy's dense reference and closed forms."""

import numpy as np
import pytest
import scipy.linalg as sl

from lsa.linalg import (
    chance_soft_overlap,
    effective_rank,
    generic_intersection_dim,
    intersection_dim,
    orthonormal_basis,
    principal_angles,
    random_orthogonal,
    randomized_svd,
    soft_overlap,
    top_subspace,
)


def _basis(rng, n, k):
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


@pytest.mark.parametrize("n,k,k2", [(10, 3, 3), (30, 5, 7), (50, 12, 4), (8, 8, 8)])
def test_principal_angles_match_scipy(n, k, k2):
    rng = np.random.default_rng(n + k + k2)
    U, V = _basis(rng, n, k), _basis(rng, n, k2)
    ours = principal_angles(U, V)
    ref = np.sort(sl.subspace_angles(U, V))
    assert ours.shape == (min(k, k2),)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_tiny_angles_are_accurate():
    """The sine formula resolves angles far below sqrt(eps), where arccos of the cosine cannot."""
    rng = np.random.default_rng(1)
    n, k = 40, 4
    U = _basis(rng, n, k)
    W = _basis(rng, n, n)[:, :k]
    W -= U @ (U.T @ W)
    W = np.linalg.qr(W)[0]
    theta = np.array([1e-10, 3e-9, 1e-7, 1e-5])
    V = U * np.cos(theta) + W * np.sin(theta)  # exact angles theta between span(U) and span(V)
    np.testing.assert_allclose(principal_angles(U, V), np.sort(theta), rtol=1e-6)


def test_intersection_dim_of_constructed_subspaces():
    """Two subspaces built to share exactly m directions (the rest orthogonal) have d_tau = m for every tau."""
    rng = np.random.default_rng(2)
    n, m = 30, 3
    Q = _basis(rng, n, n)
    U = Q[:, :7]  # shares Q[:, :3] with V
    V = np.concatenate([Q[:, :m], Q[:, 10:15]], axis=1)
    for tau in (1e-1, 1e-2, 1e-3):
        assert intersection_dim(U, V, tau) == m
    assert soft_overlap(U, V, normalise=False) == pytest.approx(m)
    assert soft_overlap(U, U) == pytest.approx(1.0)


def test_intersection_dim_tolerance_band():
    """An angle of 5 degrees counts at tau = 1e-1 and 1e-2 (theta <= 8.11 deg) but not at 1e-3 (2.56 deg)."""
    e = np.eye(3)
    U = e[:, :1]
    V = (np.cos(np.radians(5)) * e[:, 0] + np.sin(np.radians(5)) * e[:, 1])[:, None]
    assert [intersection_dim(U, V, t) for t in (1e-1, 1e-2, 1e-3)] == [1, 1, 0]


def test_generic_position_and_chance_level():
    rng = np.random.default_rng(3)
    n, k, k2 = 24, 6, 4
    vals = [soft_overlap(_basis(rng, n, k), _basis(rng, n, k2)) for _ in range(2000)]
    assert np.mean(vals) == pytest.approx(chance_soft_overlap(k, k2, n), rel=0.05)
    assert generic_intersection_dim(15, 14, n) == 5
    assert intersection_dim(_basis(rng, n, 15), _basis(rng, n, 14), 1e-6) == 5


def test_orthogonal_invariance_of_angles():
    rng = np.random.default_rng(4)
    U, V = _basis(rng, 20, 5), _basis(rng, 20, 6)
    O = random_orthogonal(20, rng)
    np.testing.assert_allclose(O.T @ O, np.eye(20), atol=1e-12)
    np.testing.assert_allclose(principal_angles(O @ U, O @ V), principal_angles(U, V), atol=1e-12)


def test_top_subspace_and_effective_rank():
    rng = np.random.default_rng(5)
    A, B = _basis(rng, 12, 12), _basis(rng, 9, 9)
    s = np.array([10.0, 5.0, 1.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0])
    W = A[:, :9] @ np.diag(s) @ B.T
    assert [effective_rank(s, e) for e in (0.75, 0.8, 0.99, 0.9999, 1.0)] == [1, 2, 2, 3, 4]
    left, k = top_subspace(W, "left", energy=0.99)
    assert k == 2
    np.testing.assert_allclose(principal_angles(left, A[:, :2]), 0, atol=1e-7)
    right, _ = top_subspace(W, "right", k=3)
    np.testing.assert_allclose(principal_angles(right, B[:, :3]), 0, atol=1e-7)
    assert orthonormal_basis(W).shape == (12, 4)
    with pytest.raises(ValueError, match="side"):
        top_subspace(W, "middle")
    with pytest.raises(ValueError, match="same n"):
        principal_angles(np.eye(3), np.eye(4))


def test_randomized_svd_matches_dense_on_decaying_spectrum():
    rng = np.random.default_rng(6)
    m, n, k = 300, 200, 8
    s = 0.7 ** np.arange(min(m, n))
    M = _basis(rng, m, n) @ np.diag(s) @ _basis(rng, n, n).T
    U, sv, Vt = randomized_svd(M, k, seed=1)
    Ud, sd, Vtd = np.linalg.svd(M)
    np.testing.assert_allclose(sv, sd[:k], rtol=1e-8)
    assert principal_angles(U, Ud[:, :k]).max() < 1e-6
    assert principal_angles(Vt.T, Vtd[:k].T).max() < 1e-6
    from scipy.sparse.linalg import LinearOperator

    op = LinearOperator(
        M.shape,
        matvec=lambda x: M @ x,
        rmatvec=lambda y: M.T @ y,
        matmat=lambda X: M @ X,
        rmatmat=lambda Y: M.T @ Y,
        dtype=float,
    )
    _, sv_op, _ = randomized_svd(op, k, seed=1)
    np.testing.assert_allclose(sv_op, sd[:k], rtol=1e-8)
    with pytest.raises(ValueError, match="k="):
        randomized_svd(M, 0)


def _counting_operator(M):
    from scipy.sparse.linalg import LinearOperator

    count = {"cols": 0}

    def mm(X):
        count["cols"] += X.shape[1]
        return M @ X

    def rmm(Y):
        count["cols"] += Y.shape[1]
        return M.T @ Y

    op = LinearOperator(M.shape, matvec=lambda x: M @ x, rmatvec=lambda y: M.T @ y, matmat=mm, rmatmat=rmm, dtype=float)
    return op, count


def test_block_krylov_beats_subspace_iteration_at_equal_products():
    """Slow decay (σ_i = i^-1.5, gap 9 % at k): the Krylov space contains the subspace-iteration range."""
    rng = np.random.default_rng(3)
    m, n, k, p, q = 400, 300, 12, 8, 2
    s = np.arange(1, n + 1, dtype=float) ** -1.5
    M = _basis(rng, m, n) @ np.diag(s) @ _basis(rng, n, n).T
    Ud, _, Vtd = np.linalg.svd(M)
    angle, cols = {}, {}
    for method in ("krylov", "subspace"):
        op, count = _counting_operator(M)
        U, sv, Vt = randomized_svd(op, k, oversample=p, n_iter=q, seed=0, method=method)
        cols[method] = count["cols"]
        angle[method] = max(principal_angles(U, Ud[:, :k]).max(), principal_angles(Vt.T, Vtd[:k].T).max())
        assert np.all(sv <= s[:k] * (1 + 1e-12))  # Ritz values never exceed the true ones
    assert cols["krylov"] == cols["subspace"] == (2 * q + 2) * (k + p)
    assert angle["krylov"] < 0.1 * angle["subspace"]


def test_block_krylov_when_the_space_exhausts_the_matrix():
    rng = np.random.default_rng(4)
    M = rng.standard_normal((30, 20))
    U, sv, Vt = randomized_svd(M, 5, oversample=10, n_iter=6, seed=0)
    np.testing.assert_allclose(sv, np.linalg.svd(M, compute_uv=False)[:5], rtol=1e-10)
    Ud, sd, Vtd = np.linalg.svd(M, full_matrices=False)
    np.testing.assert_allclose((U * sv) @ Vt, (Ud[:, :5] * sd[:5]) @ Vtd[:5], atol=1e-10)  # rank-5 truncation
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-12)
    with pytest.raises(ValueError, match="method"):
        randomized_svd(M, 2, method="lanczos")
    with pytest.raises(ValueError, match="n_iter"):
        randomized_svd(M, 2, n_iter=-1)
