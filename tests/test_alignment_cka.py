"""Spearman permutation null of the head-overlap chapter against closed forms and the Monte-Carlo path."""

import math

import numpy as np
import pytest

from lsa.alignment.cka import spearman_permutation_p


def test_exact_permutation_p_closed_forms():
    x = np.arange(6.0)
    assert spearman_permutation_p(x, x) == pytest.approx(1 / math.factorial(6))  # only the identity order ties ρ = 1
    assert spearman_permutation_p(x, -x) == pytest.approx(1.0)  # every order has ρ ≥ −1
    y = np.array([0.0, 5, 1, 4, 2, 3])
    assert 0.0 < spearman_permutation_p(x, y) < 1.0


def test_monte_carlo_path_agrees_with_exact():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(7), rng.standard_normal(7)
    exact = spearman_permutation_p(x, y)
    mc = spearman_permutation_p(x, y, max_exact=0, n_perm=20000, seed=1)
    assert mc == pytest.approx(exact, abs=0.015)


def test_bad_input():
    with pytest.raises(ValueError, match="same length"):
        spearman_permutation_p([1, 2, 3], [1, 2])
