"""Level scores, rotation null, reparameterisation invariance, balanced factorisation, flags (Part I)."""

import numpy as np
import pytest

from lsa.alignment.commutator import commutator_direct, commutator_fast, commutator_magnitude
from lsa.alignment.flags import dyadic_ladder, flag_intersection_table, flag_ladder
from lsa.alignment.imbalance import imbalance
from lsa.alignment.invariance import (
    balanced_factorisation,
    gl_invariants,
    im_row_angles,
    norm_descent,
    random_gl,
    reparameterise,
)
from lsa.alignment.levels import basis_scores, level_scores
from lsa.alignment.nulls import haar_block, null_zscore, rotation_null, rotation_null_direct
from lsa.linalg import random_orthogonal


def balanced_pair(rng, n=12, n_in=7, n_out=5, spectrum=None):
    """W_l = U Σ Aᵀ, W_next = B Σ Uᵀ with shared U: perfectly basis-aligned (Level 3)."""
    r = min(n_in, n_out)
    s = np.linspace(3, 1, r) if spectrum is None else spectrum
    U = random_orthogonal(n, rng)[:, :r]
    A = random_orthogonal(n_in, rng)[:, :r]
    B = random_orthogonal(n_out, rng)[:, :r]
    return U @ np.diag(s) @ A.T, B @ np.diag(s) @ U.T


def test_basis_scores_permutation_and_sign():
    rng = np.random.default_rng(0)
    Q = random_orthogonal(10, rng)[:, :4]
    perm = Q[:, [1, 0, 3, 2]] * np.array([1, -1, 1, -1])
    b = basis_scores(Q, perm)
    assert b["hungarian"] == pytest.approx(1.0, abs=1e-12)
    assert b["matched"] < 1e-12 + np.max(np.abs(np.diag(Q.T @ perm)))
    assert basis_scores(Q, Q)["matched"] == pytest.approx(1.0)


def test_level_scores_balanced_pair_is_level3():
    rng = np.random.default_rng(1)
    W1, W2 = balanced_pair(rng)
    out = level_scores(W1, W2, k=5)
    assert out["level2_soft"] == pytest.approx(1.0, abs=1e-10)
    assert out["level3_matched"] == pytest.approx(1.0, abs=1e-10)
    assert out["level2_dim_tau0.001"] == 5
    assert commutator_direct(W1, W2) < 1e-12
    assert out["commutator"] < 1e-7  # "auto" picks the fast formula here: cancellation floor ~ sqrt(eps)
    assert np.linalg.norm(imbalance(W1, W2)) < 1e-10


def test_level2_without_level3_when_rotated_inside_subspace():
    # same subspace, bases rotated within it and spectrum distinct -> Level 2 yes, Level 3 no, c > 0
    rng = np.random.default_rng(2)
    n, r = 10, 4
    U = random_orthogonal(n, rng)[:, :r]
    R = random_orthogonal(r, rng)
    A, B = random_orthogonal(6, rng)[:, :r], random_orthogonal(5, rng)[:, :r]
    s = np.array([4.0, 3.0, 2.0, 1.0])
    W1, W2 = U @ np.diag(s) @ A.T, B @ np.diag(s) @ (U @ R).T
    out = level_scores(W1, W2, k=r)
    assert out["level2_soft"] == pytest.approx(1.0, abs=1e-10)
    assert out["level3_matched"] < 0.95
    assert out["commutator"] > 1e-3


def test_level2_random_pair_near_chance():
    rng = np.random.default_rng(3)
    vals = [
        level_scores(rng.standard_normal((200, 50)), rng.standard_normal((50, 200)), k=10)["level2_soft"]
        for _ in range(20)
    ]
    assert np.mean(vals) == pytest.approx(10 / 200, rel=0.3)


def test_level_scores_bad_shapes():
    with pytest.raises(ValueError, match="adjacent"):
        level_scores(np.ones((4, 3)), np.ones((2, 5)))


def test_haar_block_moments_match_full_haar():
    # E[C_ij²] = 1/n; compare Bartlett sampler against explicit Haar blocks
    rng = np.random.default_rng(4)
    n, r1, r2 = 30, 6, 5
    C = np.array([haar_block(n, r1, r2, rng) for _ in range(3000)])
    assert np.mean(C**2) == pytest.approx(1 / n, rel=0.03)
    assert np.mean(np.sum(C**2, axis=(1, 2))) == pytest.approx(r1 * r2 / n, rel=0.03)
    # singular values at most 1 (block of an orthogonal matrix)
    assert np.max(np.linalg.svd(C, compute_uv=False)) <= 1 + 1e-12


def test_rotation_null_matches_direct_reference():
    rng = np.random.default_rng(5)
    W1, W2 = rng.standard_normal((16, 6)) * np.linspace(2, 0.5, 6), rng.standard_normal((4, 16))
    fast = rotation_null(W1, W2, n_draws=400, seed=0)
    ref = rotation_null_direct(W1, W2, n_draws=400, seed=1)
    assert fast["mean"] == pytest.approx(ref.mean(), rel=0.05)
    assert fast["sd"] == pytest.approx(ref.std(ddof=1), rel=0.2)
    assert np.all((fast["values"] >= 0) & (fast["values"] <= np.sqrt(2)))


def test_rotation_null_zscore_of_balanced_pair_negative():
    rng = np.random.default_rng(6)
    W1, W2 = balanced_pair(rng, n=20)
    null = rotation_null(W1, W2, n_draws=50)
    assert null_zscore(commutator_magnitude(W1, W2), null) < -2


def test_gl_invariance_and_o_only_angles():
    rng = np.random.default_rng(7)
    n = 12
    W1 = rng.standard_normal((n, 5)) @ rng.standard_normal((5, 9))  # rank 5
    W2 = rng.standard_normal((6, 4)) @ rng.standard_normal((4, n))  # rank 4
    inv0, ang0 = gl_invariants(W1, W2), im_row_angles(W1, W2)
    # closed form for generic pairs: dim(im ∩ ker) = max(0, 5 + (12-4) - 12) = 1
    assert inv0["dim_im_cap_ker"] == 1 and inv0["rank_product"] == 4
    assert inv0["defect_a"] == inv0["dim_im_cap_ker"]
    g = random_gl(n, rng, cond=50)
    G1, G2 = reparameterise(W1, W2, g)
    np.testing.assert_allclose(G2 @ G1, W2 @ W1, atol=1e-9)
    assert gl_invariants(G1, G2) == inv0
    assert np.max(np.abs(np.degrees(im_row_angles(G1, G2) - ang0))) > 1.0
    O = random_orthogonal(n, rng)
    O1, O2 = reparameterise(W1, W2, O)
    np.testing.assert_allclose(im_row_angles(O1, O2), ang0, atol=1e-9)


def test_balanced_factorisation_nuclear_norm():
    rng = np.random.default_rng(8)
    M = rng.standard_normal((5, 3)) @ rng.standard_normal((3, 7))
    W1, W2 = balanced_factorisation(M, 10, rng)
    np.testing.assert_allclose(W2 @ W1, M, atol=1e-10)
    assert np.linalg.norm(imbalance(W1, W2)) < 1e-10
    nuc = np.linalg.svd(M, compute_uv=False).sum()
    assert np.sum(W1**2) + np.sum(W2**2) == pytest.approx(2 * nuc, rel=1e-10)
    with pytest.raises(ValueError, match="exceeds"):
        balanced_factorisation(M, 2)


def test_norm_descent_reaches_balance_on_closed_orbit():
    rng = np.random.default_rng(9)
    n = 6
    W1, W2 = rng.standard_normal((n, 8)), rng.standard_normal((7, n))  # full rank: polystable
    W1, W2 = reparameterise(W1, W2, random_gl(n, rng, cond=5))
    out = norm_descent(W1, W2, steps=3000, lr=0.5)
    assert out["imbalance"][-1] < 1e-9
    assert np.all(np.diff(out["norms"]) <= 1e-9 * out["norms"][0])
    np.testing.assert_allclose(out["W_next"] @ out["W_l"], W2 @ W1, atol=1e-8)
    # the balanced point of this orbit has norm 2 tr((M Mᵀ)^{1/2}) only when n >= rank; here also equal
    nuc = np.linalg.svd(W2 @ W1, compute_uv=False).sum()
    assert out["norms"][-1] == pytest.approx(2 * nuc, rel=1e-6)


def test_commutator_bounds_random_inputs():
    rng = np.random.default_rng(10)
    for _ in range(20):
        n = rng.integers(2, 20)
        W1, W2 = rng.standard_normal((n, rng.integers(1, 20))), rng.standard_normal((rng.integers(1, 20), n))
        c = commutator_direct(W1, W2)
        assert 0 <= c <= np.sqrt(2) + 1e-12
        assert commutator_fast(W1, W2) == pytest.approx(c, rel=1e-8, abs=1e-12)


def test_flag_table_aligned_and_generic():
    rng = np.random.default_rng(11)
    W1, W2 = balanced_pair(rng, n=16, n_in=8, n_out=8, spectrum=np.array([8, 7, 6, 5, 4, 3, 2, 1.0]))
    out = flag_intersection_table(W1, W2, ladder=[1, 2, 4, 8])
    np.testing.assert_array_equal(out["table"], out["aligned"])
    R1, R2 = rng.standard_normal((16, 16)), rng.standard_normal((16, 16))
    out = flag_intersection_table(R1, R2, ladder=[2, 4, 8, 12], tau=1e-8)  # exact generic counts
    np.testing.assert_array_equal(out["table"], out["generic"])
    assert dyadic_ladder(9) == [1, 2, 4, 8]
    assert flag_ladder(np.ones(10)) == [5, 8, 9, 10]
    with pytest.raises(ValueError, match="ladder"):
        flag_intersection_table(R1, R2, ladder=[4, 2])


def test_gram_path_equals_direct_svd_path():
    from lsa.alignment.levels import level_scores_gram

    rng = np.random.default_rng(12)
    W1 = rng.standard_normal((60, 12)) * np.linspace(3, 0.2, 12)
    W2 = (rng.standard_normal((10, 60)).T * np.linspace(2, 0.5, 10)).T
    for k in (None, 4):
        a, b = level_scores(W1, W2, k=k), level_scores_gram(W1, W2, k=k)
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-8, abs=1e-10), key
    Wa, Wb = balanced_pair(rng, n=40, n_in=6, n_out=6)
    g = level_scores_gram(Wa, Wb)
    assert g["level3_matched"] == pytest.approx(1.0, abs=1e-8) and g["level2_dim_tau0.001"] == g["k"]


def test_rotation_null_many_matches_single():
    from lsa.alignment.nulls import gram_spectra, rotation_null_many

    rng = np.random.default_rng(13)
    pairs = [(rng.standard_normal((8, 30)), rng.standard_normal((30, 8))) for _ in range(3)]
    many = rotation_null_many([gram_spectra(a, b)[:2] for a, b in pairs], n=8, n_draws=600, seed=0)
    for (a, b), m in zip(pairs, many):
        single = rotation_null(a, b, n_draws=600, seed=1)
        assert m["mean"] == pytest.approx(single["mean"], rel=0.05)
        assert m["sd"] == pytest.approx(single["sd"], rel=0.2)


def test_float32_null_matches_float64():
    from lsa.alignment.nulls import gram_spectra, rotation_null_spectra

    rng = np.random.default_rng(14)
    p, q, n = gram_spectra(rng.standard_normal((40, 10)), rng.standard_normal((8, 40)))
    a = rotation_null_spectra(p, q, n, 200, seed=3)
    b = rotation_null_spectra(p, q, n, 200, seed=3, dtype=np.float32)
    assert b["mean"] == pytest.approx(a["mean"], rel=1e-4)


def test_obstruction_checks_small():
    from lsa.experiments.alignment_commutator import commutator_agreement, factorisation_checks, invariance_trials

    inv = invariance_trials(n_trials=4, n=10, seed=1)
    assert inv.gl_invariants_equal.all() and inv.o_angle_change_deg.max() < 1e-6
    assert (inv.defect_a == inv.dim_im_cap_ker).all()
    f = factorisation_checks(n_trials=2, seed=1, descent_steps=2000)
    assert f["imbalance"] < 1e-10 and f["descent_monotone"] and f["descent_final_imbalance"] < 1e-6
    a = commutator_agreement(widths=(64,), n_random=20)
    assert a["fast_direct_rel_err"] < 1e-10 and 0 <= a["c_min"] <= a["c_max"] <= np.sqrt(2)
