"""Shared intervals against closed forms and simulation."""

import math

import numpy as np
import pytest
from scipy import stats as st

from lsa.stats import mean_ci, wilson_ci


def test_wilson_matches_its_closed_form_and_the_edges():
    lo, hi = wilson_ci(34, 38)
    z = st.norm.ppf(0.975)
    p, n = 34 / 38, 38
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert (lo, hi) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert wilson_ci(0, 10)[0] == 0.0 and wilson_ci(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="n must be positive"):
        wilson_ci(1, 0)


def test_mean_ci_t_and_normal_against_scipy_and_coverage():
    x = np.array([0.1, 0.4, 0.35, 0.2, 0.3])
    m, lo, hi, n = mean_ci(x)
    ref = st.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=st.sem(x))
    assert (m, lo, hi, n) == pytest.approx((x.mean(), *ref, 5))
    assert mean_ci([1.0, None, float("nan")]) == (1.0, 1.0, 1.0, 1)
    assert mean_ci([])[3] == 0
    rng = np.random.default_rng(0)
    hits = sum(lo <= 0 <= hi for lo, hi in (mean_ci(rng.standard_normal(4))[1:3] for _ in range(2000)))
    assert 0.93 <= hits / 2000 <= 0.97  # Student-t covers at its level even with n = 4
    with pytest.raises(ValueError, match="method"):
        mean_ci(x, method="bootstrap")
