"""The planted-structure interface (lsa.gsa.planted) and the certificate-domain decision (P12)."""

import numpy as np
import pytest

from lsa.gsa.config import GSAConfig
from lsa.gsa.pam import pam_structure
from lsa.gsa.planted import (
    PlantedDesign,
    critical_noise,
    expected_pam,
    planted_chain,
    planted_config,
    planted_pam,
    planted_sweep,
    support_noise,
)
from lsa.gsa.protocol import domain_membership, first_failure, run_protocol
from lsa.gsa.spectra import dense_spectrum


def test_noise_free_pam_has_the_planted_energies():
    d = PlantedDesign()
    groups, share = d.layout()
    C = planted_pam(d, 0.0, np.random.default_rng(0))
    np.testing.assert_allclose(C.T @ C, np.eye(d.k), atol=1e-12)  # disjoint rows, unit columns
    for g in range(d.n_groups):
        np.testing.assert_allclose((C[groups == g] ** 2).sum(0), share[groups == g].sum(0), atol=1e-12)
    st = pam_structure(C, groups, planted_config(d))
    assert st.support.sum(0).tolist() == [1] * d.n_core + [2] * d.n_overlap


def test_full_source_incidence_is_the_planted_pam():
    d = PlantedDesign()
    (f1, f2), C = planted_chain(d, 0.03, np.random.default_rng(1))
    sa = dense_spectrum(f1.dense())
    B = f2.dense() @ (sa.U[:, : d.k] * sa.s[: d.k])
    np.testing.assert_allclose(B * np.sign(np.sum(B * C, axis=0)), C, atol=1e-10)  # up to the SVD's column signs


def test_support_noise_closed_form():
    d, cfg = PlantedDesign(), GSAConfig()
    # an 8-row inactive group of a core column reaches tau^2 of the column energy 1 + 28 sigma^2
    expect = np.sqrt(cfg.tau**2 / (8 - 28 * cfg.tau**2))
    assert support_noise(d, planted_config(d, cfg)) == pytest.approx(expect, rel=1e-12)


def test_critical_noise_closed_form():
    d, cfg = PlantedDesign(), GSAConfig()
    # 4 core columns x 24 + 2 overlap columns x 16 noise-mask entries; 160 noise entries; 6 units of energy
    expect = np.sqrt(cfg.nu**2 * 6 / (4 * 24 + 2 * 16 - cfg.nu**2 * 160))
    assert critical_noise(d, planted_config(d, cfg)) == pytest.approx(expect, rel=1e-12)
    P, g = expected_pam(d, 0.0)
    assert P.shape == (d.n_groups, d.k) and np.allclose((P**2).sum(0), 1.0)


def test_sweep_certifies_clean_and_rejects_noisy_interfaces_soundly():
    out = planted_sweep([0.0, 0.1], n_draws=2, n_perturb=5, seed=0)
    rows = out["rows"]
    assert all(r["CERT_emp"] for r in rows if r["noise"] == 0.0)
    assert not any(r["CERT_emp"] for r in rows if r["noise"] == 0.1)
    assert all(r["soundness"] == 1.0 for r in rows if r["rho"] > 0)


def test_planted_design_is_validated():
    with pytest.raises(ValueError, match="invalid planted design"):
        PlantedDesign(d=4)


def test_domain_names_the_first_failing_check():
    d = PlantedDesign()
    clean = run_protocol(planted_chain(d, 0.0, np.random.default_rng(2))[0], planted_config(d), labels=False)
    noisy = run_protocol(planted_chain(d, 0.1, np.random.default_rng(3))[0], planted_config(d), labels=False)
    rc, rn = clean["interfaces"][0], noisy["interfaces"][0]
    assert rn["B"]["N"] is False and first_failure(rn) in ("G", "N")
    dm = domain_membership([rc, rn])
    assert dm["inside"] is False and sum(dm["counts"].values()) == 2 and dm["first_fail"] in dm["counts"]
    passing = dict(rc, W=True, G=True, B=dict(rc["B"], N=True, CERT_GC=True))
    assert first_failure(passing) is None and domain_membership([passing])["inside"] is True
    assert first_failure(dict(passing, labels={"LABEL_CERT": False})) == "labels"
    assert first_failure(dict(passing, B=dict(passing["B"], CERT_GC=False))).startswith("radius (")
    rc_w = dict(rc, W=False)
    assert first_failure(rc_w) == "W"
    with pytest.raises(ValueError, match="at least one"):
        domain_membership([])
