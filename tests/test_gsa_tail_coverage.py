"""The tail-coverage measurement of the fitted-tail certificate (lsa.gsa.tail_coverage)."""

import numpy as np
import pytest

from lsa.gsa import gibbs_cartan as gc
from lsa.gsa.tail_coverage import jittered_orbit_spectrum, tail_coverage


def test_unjittered_spectrum_is_the_orbit():
    s = jittered_orbit_spectrum(40, 1.2, 0.0, np.random.default_rng(0))
    np.testing.assert_allclose(s**2, gc.orbit_lambda(40, 1.2), rtol=1e-12)


def test_covered_frobenius_implies_covered_tail():
    # Ritz values never exceed the true singular values, so an upper Frobenius bound makes the empirical
    # tail an upper bound of the true one, and eps* lifts the fitted tail above the empirical one.
    out = tail_coverage(r=48, alphas=(0.8,), K=12, jitter=0.5, n_draws=12, n_hutch=4, seed=1)
    assert out["n"] == 12 and 0 <= out["window_cover"] <= 1
    for row in out["rows"]:
        if row["fro_covered"]:
            assert row["window_excess"] <= 1e-12
    assert out["window_cover"] >= out["fro_cover"]


def test_bad_window_is_refused():
    with pytest.raises(ValueError, match="K must satisfy"):
        tail_coverage(r=10, K=10)
