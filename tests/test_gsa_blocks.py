"""Degenerate source modes as column blocks of the PAM (our convention): invariance, reduction, certificate."""

import numpy as np
import pytest

from lsa.gsa.certificate import certify, constructive_flip, margins, perturbation_test
from lsa.gsa.config import GSAConfig
from lsa.gsa.pam import amplitudes, column_blocks, pam_structure, row_groups_argmax, structure_diff
from lsa.gsa.spectra import degenerate_clusters
from lsa.linalg import random_orthogonal

CLUSTERS = [np.array([0]), np.array([1, 2, 3]), np.array([4])]


def _pam(seed=0, m=24):
    rng = np.random.default_rng(seed)
    P = 0.05 * rng.standard_normal((m, 5))
    for j, rows in enumerate(np.array_split(np.arange(m), 5)):  # a planted dominant block per column
        P[rows, j] += 1.0 + rng.random(len(rows))
    return P


def _rotate_cluster(P, cols, seed):
    Q = P.copy()
    Q[:, cols] = P[:, cols] @ random_orthogonal(len(cols), np.random.default_rng(seed))
    return Q


def test_rotation_inside_a_cluster_leaves_the_block_structure_unchanged():
    P = _pam()
    for seed in range(5):
        Q = _rotate_cluster(P, CLUSTERS[1], seed)
        groups = row_groups_argmax(P, col_clusters=CLUSTERS)
        np.testing.assert_array_equal(groups, row_groups_argmax(Q, col_clusters=CLUSTERS))
        aP, cP = amplitudes(P, groups, CLUSTERS)
        aQ, cQ = amplitudes(Q, groups, CLUSTERS)
        np.testing.assert_allclose(aQ, aP, rtol=1e-12)
        np.testing.assert_allclose(cQ, cP, rtol=1e-12)
        assert (
            structure_diff(
                pam_structure(P, groups, col_clusters=CLUSTERS), pam_structure(Q, groups, col_clusters=CLUSTERS)
            )
            == {}
        )
        # the column-level objects are not defined up to that rotation: they move
        g1 = row_groups_argmax(P)
        assert np.max(np.abs(amplitudes(Q, g1)[0] - amplitudes(P, g1)[0])) > 1e-2


def test_singleton_blocks_reduce_to_columns_and_blocks_are_validated():
    P = _pam(1)
    g = row_groups_argmax(P)
    a1, c1 = amplitudes(P, g)
    a2, c2 = amplitudes(P, g, [np.array([j]) for j in range(5)])
    np.testing.assert_allclose(a2, a1, rtol=1e-14)
    np.testing.assert_allclose(c2, c1, rtol=1e-14)
    s1, s2 = pam_structure(P, g), pam_structure(P, g, col_clusters=[np.array([j]) for j in range(5)])
    for k in s1.masks:
        np.testing.assert_array_equal(s1.masks[k], s2.masks[k])
    # block energy adds up: sum over a block's columns of a_{g,j}^2 is a_{g,J}^2
    aB, _ = amplitudes(P, g, CLUSTERS)
    np.testing.assert_allclose(aB[:, 1] ** 2, np.sum(a1[:, 1:4] ** 2, axis=1), rtol=1e-12)
    for bad in (
        [np.array([0, 1]), np.array([3, 4])],
        [np.array([1]), np.array([0, 2, 3, 4])],
        [np.array([0, 1, 2, 3, 4]), np.array([], dtype=int)],
    ):
        with pytest.raises(ValueError, match="column clusters"):
            column_blocks(5, bad)
    assert [list(c) for c in degenerate_clusters([3.0, 2.0, 2.0, 2.0 * (1 - 1e-4), 1.0])] == [[0], [1, 2, 3], [4]]


def test_certificate_is_sound_and_nearly_tight_with_blocks():
    cfg = GSAConfig()
    P = _pam(2)
    g = row_groups_argmax(P, col_clusters=CLUSTERS)
    st = pam_structure(P, g, cfg, CLUSTERS)
    m = margins(st, cfg)
    assert st.N and m["rho"] > 0 and certify(st, 0.5 * m["rho"], cfg, m)
    assert min(perturbation_test(P, g, m["rho"], n_draws=100, cfg=cfg, col_clusters=CLUSTERS).values()) == 1.0
    D, info = constructive_flip(P, g, cfg, col_clusters=CLUSTERS)
    assert structure_diff(st, pam_structure(P + D, g, cfg, CLUSTERS)).get("support")
    assert info["norm"] <= info["bound"] * (1 + 1e-6)
