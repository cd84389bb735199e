"""Tests of lsa.gsa (Part II) against closed forms, dense references and properties that must hold.
Numbers in the comments refer to the numbered checks of the GSA reconstruction page of the book."""

import math

import numpy as np
import pytest
import torch

from lsa.gsa import gibbs_cartan as gc
from lsa.gsa.certificate import certify, certify_columns, constructive_flip, margins, perturbation_test
from lsa.gsa.config import GSAConfig
from lsa.gsa.factors import Factor, interfaces, jacobian_factors, static_factors
from lsa.gsa.jacobian import MeanChannelJacobian, per_sample_mean_jacobian
from lsa.gsa.labels import adversarial_label_perturbation, channel_labels, label_certificate, label_fragile_example
from lsa.gsa.pam import decompose, pam_structure, row_groups_argmax, row_groups_blocks, structure_diff
from lsa.gsa.protocol import run_protocol
from lsa.gsa.spectra import dense_spectrum, randomized_spectrum
from lsa.gsa.transport import physical_incidence, source_incidence, transport, truncation_bounds
from lsa.gsa.windows import dominant_window
from lsa.linalg import principal_angles, random_orthogonal
from lsa.models.resnet import ResNet

CFG = GSAConfig()


def orbit_matrix(r, alpha, rng, m=None):
    m = m or r
    s = np.sqrt(gc.orbit_lambda(r, alpha))
    U = random_orthogonal(m, rng)[:, :r]
    return U @ np.diag(s) @ random_orthogonal(r, rng).T


def structured_pam(rng, m=24, n=6, G=4, noise=0.05):
    """Block-sparse PAM: each column lives mostly in one or two row groups (so the radius is positive)."""
    groups = np.arange(m) % G
    P = noise * rng.standard_normal((m, n))
    for j in range(n):
        for g in [j % G] if j % 3 else [j % G, (j + 1) % G]:
            P[groups == g, j] += rng.standard_normal((groups == g).sum())
    return P, groups


# ---- claim 8: Gibbs–Cartan identities -----------------------------------------------------------
@pytest.mark.parametrize("r", [8, 64, 512])
@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5])
def test_gibbs_cartan_identities(r, alpha):
    h = 1e-4
    lam_p, lam_m = gc.orbit_lambda(r, alpha + h), gc.orbit_lambda(r, alpha - h)
    bw_fd = gc.bures_sq(lam_p, lam_m) / (2 * h) ** 2
    assert bw_fd == pytest.approx(r / 4 * gc.fisher(r, alpha), rel=1e-5)
    d_h1 = (gc.top_radial(r, alpha + h) - gc.top_radial(r, alpha - h)) / (2 * h)
    assert d_h1 == pytest.approx(0.5 * gc.mean_log_rank(r, alpha), rel=1e-6)
    lam = gc.orbit_lambda(r, alpha)
    assert lam[0] / lam[-1] == pytest.approx(r**alpha, rel=1e-9)
    assert lam.sum() == pytest.approx(r, rel=1e-12)
    rng = np.random.default_rng(r)
    p, q = rng.dirichlet(np.ones(r)), rng.dirichlet(np.ones(r))
    assert gc.bures_sq(r * p, r * q) == pytest.approx(2 * r * (1 - gc.hellinger_affinity(p, q)), rel=1e-10)


# ---- claim 9: effective-rank asymptotics and tail sandwich --------------------------------------
@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.0])
def test_effective_rank_asymptotics_and_tail_sandwich(alpha):
    r = 10**6
    for q in (0.5, 0.9):
        exact, pred = gc.orbit_effective_rank(r, alpha, q), gc.asymptotic_effective_rank(r, alpha, q)
        assert abs(exact - pred) <= max(0.02 * exact, 1.0)
    rs = 300
    tails = gc.orbit_tail(rs, alpha, np.arange(1, rs))
    for k in range(1, rs):
        lo, hi = gc.tail_bounds(rs, alpha, k)
        assert lo - 1e-12 <= tails[k - 1] <= hi + 1e-12


# ---- claim 3: fit recovers exact orbits; T2 certification ----------------------------------------
@pytest.mark.parametrize("alpha", [0.4, 1.0, 1.7])
def test_fit_recovers_exact_orbit_and_gc_dominates(alpha):
    rng = np.random.default_rng(1)
    r = 48
    spec = dense_spectrum(orbit_matrix(r, alpha, rng))
    a_hat = gc.fit_alpha(spec.p)
    assert a_hat == pytest.approx(alpha, abs=1e-8)
    assert gc.fit_alpha_top(spec.p) == pytest.approx(alpha, abs=1e-8)
    assert gc.fitted_tail_error(spec.tail(np.arange(1, r + 1)), r, a_hat) < 1e-10
    # empirical (non-orbit) spectra: tau_emp <= tau_fit + eps* and delta^GC >= delta^emp
    A, B = rng.standard_normal((20, 16)), rng.standard_normal((12, 20))
    sa, sb = dense_spectrum(A), dense_spectrum(B)
    fa, fb = gc.fit_alpha(sa.p), gc.fit_alpha(sb.p)
    ea = gc.fitted_tail_error(sa.tail(np.arange(1, 17)), 16, fa)
    for k in range(1, 16):
        assert sa.tail(k) <= gc.orbit_tail(16, fa, k) + ea + 1e-15
    eb = gc.fitted_tail_error(sb.tail(np.arange(1, 13)), 12, fb)
    emp = truncation_bounds(sa, 5, sb, 4)
    gcb = truncation_bounds(sa, 5, sb, 4, gc.orbit_tail(16, fa, 5) + ea, gc.orbit_tail(12, fb, 4) + eb)
    for key in ("B_F", "Phi_F"):
        assert gcb[key] >= emp[key] - 1e-15


# ---- claim 10: drift bound (T7) -------------------------------------------------------------------
def test_drift_bound_and_near_identity():
    r, amax = 64, 3.0
    cmin = gc.drift_constant(r, amax)
    rng = np.random.default_rng(2)
    for a1, a2 in rng.uniform(0, amax, size=(50, 2)):
        dh = abs(gc.top_radial(r, a2) - gc.top_radial(r, a1))
        assert abs(a2 - a1) <= dh / cmin + 1e-12
    for eps in (0.05, 0.2):
        A = np.eye(r) + eps * random_orthogonal(r, rng) @ np.diag(rng.uniform(-1, 1, r)) @ random_orthogonal(r, rng).T
        lam = dense_spectrum(A).lam
        alpha_exact_orbit = math.log(lam[0] / lam[-1]) / math.log(r)  # the orbit identity lambda_1/lambda_r = r^alpha
        assert alpha_exact_orbit <= gc.near_identity_alpha_bound(r, eps) + 1e-12


# ---- claim 1: orthogonal decomposition --------------------------------------------------------------
@pytest.mark.parametrize("tau", [0.1, 0.3, 0.6])
def test_orthogonal_decomposition(tau):
    rng = np.random.default_rng(3)
    P = rng.standard_normal((30, 9))
    cfg = CFG.with_(tau=tau)
    st = pam_structure(P, row_groups_argmax(P), cfg)
    d = decompose(P, st)
    parts = [d["core"], d["overlap"], d["noise"]]
    nrm = np.sum(P**2)
    for i in range(3):
        for j in range(i + 1, 3):
            assert abs(np.sum(parts[i] * parts[j])) <= 1e-12 * nrm
    assert sum(np.sum(x**2) for x in parts) == pytest.approx(nrm, rel=1e-12)
    assert np.allclose(sum(parts), P)
    assert d["f_core"] + d["f_overlap"] + d["f_noise"] == pytest.approx(1.0, abs=1e-12)


# ---- claim 2: T1 truncation bounds hold on random and network interfaces ---------------------------
def _check_t1(A, B, k, k2):
    sa, sb = dense_spectrum(A), dense_spectrum(B)
    b = truncation_bounds(sa, k, sb, k2)
    Btr, Bfull = source_incidence(sa, k, sb, k2, B)
    Ptr, Pfull = physical_incidence(sa, k, sb, k2, A, B)
    dB = Bfull - Btr
    assert np.all(np.linalg.norm(dB, axis=0) <= b["delta_cols"] * (1 + 1e-10) + 1e-14)
    assert np.linalg.norm(dB) <= b["B_F"] * (1 + 1e-10) + 1e-14
    assert np.linalg.norm(Pfull - Ptr, 2) <= b["Phi_2"] * (1 + 1e-10) + 1e-14
    assert np.linalg.norm(Pfull - Ptr) <= b["Phi_F"] * (1 + 1e-10) + 1e-14
    # (c): the mode-level transport error equals the physical one
    W_full = sb.U.T @ (B @ A) @ sa.Vt.T
    W_tr = np.zeros_like(W_full)
    W_tr[:k2, :k] = transport(sa, k, sb, k2)["W"]
    assert np.linalg.norm(W_full - W_tr) == pytest.approx(np.linalg.norm(Pfull - Ptr), rel=1e-9)


def test_truncation_bounds_random_and_resnet():
    rng = np.random.default_rng(4)
    for _ in range(5):
        _check_t1(rng.standard_normal((15, 10)), rng.standard_normal((12, 15)), 4, 6)
    torch.manual_seed(0)
    net = ResNet(1, 10, (8, 16), 1).eval()
    for fs in (static_factors(net), jacobian_factors(net, torch.randn(6, 1, 8, 8))):
        for l, l2 in interfaces(fs):
            A, B = fs[l].dense(), fs[l2].dense()
            _check_t1(A, B, 3, 4)


# ---- claim 4: source-mode vs physical incidence ------------------------------------------------------
def test_source_mode_changes_under_degenerate_rotation_physical_does_not():
    rng = np.random.default_rng(5)
    d = 10
    s = np.array([5, 3, 3, 3, 2, 1, 0.5, 0.3, 0.2, 0.1])
    U0, V0 = random_orthogonal(d, rng), random_orthogonal(d, rng)
    A = U0 @ np.diag(s) @ V0.T
    Bm = rng.standard_normal((8, d))
    sa, sb = dense_spectrum(A), dense_spectrum(Bm)
    k, k2 = 5, 4
    B1, _ = source_incidence(sa, k, sb, k2)
    P1, _ = physical_incidence(sa, k, sb, k2)
    # rotate inside the degenerate block (modes 2..4) of the source basis: still an SVD of A
    R = random_orthogonal(3, rng)
    sa.U[:, 1:4] = sa.U[:, 1:4] @ R
    sa.Vt[1:4] = R.T @ sa.Vt[1:4]
    assert np.allclose(sa.dense(), A)
    B2, _ = source_incidence(sa, k, sb, k2)
    P2, _ = physical_incidence(sa, k, sb, k2)
    assert np.linalg.norm(B2 - B1) > 0.1 * np.linalg.norm(B1)
    assert np.linalg.norm(P2 - P1) <= 1e-10 * np.linalg.norm(P1)
    # a sign flip of (u_j, v_j) flips column j of B and leaves amplitudes, supports and masks unchanged
    g = row_groups_blocks(8, 2)
    st1 = pam_structure(B2, g)
    sa.U[:, 2] *= -1
    sa.Vt[2] *= -1
    B3, _ = source_incidence(sa, k, sb, k2)
    assert np.allclose(B3[:, 2], -B2[:, 2]) and np.allclose(np.delete(B3, 2, 1), np.delete(B2, 2, 1))
    st3 = pam_structure(B3, g)
    assert np.allclose(st1.a, st3.a) and not structure_diff(st1, st3)


# ---- claims 5, 6: soundness inside the radius, near-tightness beyond it --------------------------------
def test_soundness_inside_radius_and_constructive_flip():
    rng = np.random.default_rng(6)
    n_cert = 0
    for trial in range(6):
        P, groups = structured_pam(rng)
        st = pam_structure(P, groups)
        m = margins(st)
        if m["rho"] <= 0:
            continue
        n_cert += 1
        rates = perturbation_test(P, groups, m["rho"], n_draws=40, seed=trial)
        assert all(v == 1.0 for v in rates.values()), rates
        D, info = constructive_flip(P, groups)
        assert info["norm"] <= (1 + CFG.tau) / (1 - CFG.tau) * m["rho_act"] * (1 + 1e-6) + 1e-12
        assert structure_diff(st, pam_structure(P + D, groups)).get("support")
        # certify() agrees with the radius and never certifies a change
        assert certify(st, 0.9 * m["rho"], CFG, m) and not certify(st, 1.01 * m["rho"], CFG, m)
    assert n_cert >= 3


def test_cert_implies_verify_on_protocol_interfaces():
    rng = np.random.default_rng(7)
    fs = []
    for i in range(4):  # factors with a clear dominant window -> certifiable interfaces
        Q1, Q2 = random_orthogonal(12, rng), random_orthogonal(12, rng)
        s = np.r_[np.linspace(6, 4, 3), 0.02 * rng.uniform(size=9)]
        fs.append(Factor(f"f{i}", Q1 @ np.diag(s) @ Q2.T, "x", "x", "S"))
    rep = run_protocol(fs, CFG.with_(eps_max=1.0), labels=False)
    for r in rep["interfaces"]:
        for tag in ("B", "Phi"):
            if r[tag]["CERT_emp"]:
                assert r[tag]["VERIFY"] is True
            assert r[tag]["actual_F"] <= r[tag]["delta_F_emp"] * (1 + 1e-10) + 1e-14
    assert rep["summary"]["bugs"] == 0
    assert rep["summary"]["CERT_emp"] >= 1  # the CERT => VERIFY check above is not vacuous


# ---- claim 7: labels need more than rho ------------------------------------------------------------------
def test_label_flips_inside_static_radius_and_t5_detects_it():
    Phi, groups = label_fragile_example()
    cfg = CFG.with_(row_groups="blocks")
    st = pam_structure(Phi, groups, cfg)
    rho = margins(st, cfg)["rho"]
    assert rho > 0
    lab = channel_labels(Phi, Phi, groups, cfg)
    D, info = adversarial_label_perturbation(Phi, groups, cfg)
    assert info["norm"] < rho
    assert not structure_diff(st, pam_structure(Phi + D, groups, cfg))
    lab2 = channel_labels(Phi + D, Phi, groups, cfg)
    flipped = [c for c in range(len(groups)) if lab["labels"][c] != lab2["labels"][c]]
    assert flipped == [info["channel"]]
    ok = label_certificate(lab, groups, np.full(16, info["norm"]), np.zeros(16), cfg)
    assert not ok[info["channel"]]


# ---- claim 11: JVP/VJP operators and randomized SVD vs dense -----------------------------------------------
def test_mean_jacobian_operator_and_randomized_svd():
    torch.manual_seed(0)
    net = ResNet(1, 10, (8, 16), 1).double().eval()
    x = torch.randn(3, 1, 8, 8, dtype=torch.double)
    fs = jacobian_factors(net, x)
    blk = net.blocks[0]
    x0 = fs[0].op.x
    A = fs[0].dense()
    assert np.allclose(A, per_sample_mean_jacobian(blk, x0, 1), atol=1e-6, rtol=0)
    w, v = np.random.default_rng(0).standard_normal((2, 8))
    assert w @ fs[0].op.matvec(v) == pytest.approx(fs[0].op.rmatvec(w) @ v, rel=1e-10)
    # randomized vs dense on a factor with a decaying spectrum
    lin = torch.nn.Linear(24, 24, bias=False).double()
    rng = np.random.default_rng(1)
    with torch.no_grad():
        lin.weight.copy_(
            torch.as_tensor(random_orthogonal(24, rng) @ np.diag(0.6 ** np.arange(24)) @ random_orthogonal(24, rng).T)
        )
    op = MeanChannelJacobian(lambda h: torch.tanh(lin(h)), torch.randn(4, 5, 24, dtype=torch.double) * 0.1, -1)
    dense = dense_spectrum(op.dense())
    rnd = randomized_spectrum(op, 6, oversample=10, n_iter=2, fro2=dense.fro2)
    assert np.allclose(rnd.s, dense.s[:6], rtol=1e-4)
    assert principal_angles(dense.U[:, :6], rnd.U).max() < 1e-3
    assert principal_angles(dense.Vt[:6].T, rnd.Vt.T).max() < 1e-3


# ---- claim 12: invariances ----------------------------------------------------------------------------------
def test_permutation_and_scale_invariance():
    rng = np.random.default_rng(8)
    P, groups = structured_pam(rng)
    st = pam_structure(P, groups)
    m = margins(st)
    perm = np.concatenate([rng.permutation(np.flatnonzero(groups == g)) for g in range(groups.max() + 1)])
    order = np.concatenate([np.flatnonzero(groups == g) for g in range(groups.max() + 1)])
    Pp, gp = P[order], groups[order]
    Pq = P[perm]
    s1, s2 = pam_structure(Pp, gp), pam_structure(Pq, gp)
    assert not structure_diff(s1, s2) and np.allclose(s1.a, st.a)
    for c in (0.01, 7.0):
        sc = pam_structure(c * P, groups)
        mc = margins(sc)
        assert not structure_diff(st, sc)
        assert mc["rho"] == pytest.approx(c * m["rho"], rel=1e-10)
        for delta in (0.5 * m["rho"], 2 * m["rho"]):
            assert certify(st, delta, CFG, m) == certify(sc, c * delta, CFG, mc)
            dcols = np.full(P.shape[1], delta / 3)
            assert certify_columns(st, dcols, delta, CFG, m) == certify_columns(sc, c * dcols, c * delta, CFG, mc)


# ---- claim 14: determinism ---------------------------------------------------------------------------------
def test_protocol_is_deterministic_and_json():
    import json

    torch.manual_seed(0)
    net = ResNet(1, 10, (8,), 2).eval()
    reps = []
    for _ in range(2):
        r = run_protocol(static_factors(net), n_label_draws=8)
        r.pop("_analysis")
        reps.append(json.dumps(r, sort_keys=True))
    assert reps[0] == reps[1]


# ---- windows and bad input -------------------------------------------------------------------------------
def test_window_rule_and_bad_inputs():
    rng = np.random.default_rng(9)
    spec = dense_spectrum(orbit_matrix(40, 1.2, rng))
    w = dominant_window(spec)
    assert w.r_q[0.85] <= w.k <= w.r_q[0.95] or w.capped
    with pytest.raises(ValueError, match="larger than the rank"):
        dominant_window(spec, k=41)
    with pytest.raises(ValueError, match="no option"):
        CFG.with_(tua=0.3)
    with pytest.raises(ValueError, match="row_groups"):
        GSAConfig(row_groups="kmeans")
    with pytest.raises(TypeError, match="cannot map the blocks"):
        static_factors(torch.nn.Linear(3, 3))
    net = ResNet(1, 10, (8,), 1)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        jacobian_factors(net, torch.randn(4, 3, 8, 8))
    with pytest.raises(ValueError, match="interface mismatch"):
        transport(dense_spectrum(np.ones((4, 3))), 1, dense_spectrum(np.ones((2, 5))), 1)
    with pytest.raises(ValueError, match="one label per row"):
        pam_structure(np.ones((4, 3)), np.zeros(5, int))


def test_hutchinson_exact_for_diagonal_and_randomized_spectrum_bounds_tail():
    from scipy.sparse.linalg import aslinearoperator

    from lsa.gsa.spectra import hutchinson_fro2

    d = 3 * 0.6 ** np.arange(30)
    A = np.diag(d)  # for diagonal A and Rademacher z, ||A z||^2 = ||A||_F^2 exactly
    mean, upper = hutchinson_fro2(aslinearoperator(A), 16, seed=1)
    assert mean == pytest.approx(np.sum(d**2), rel=1e-12) and upper == pytest.approx(mean, rel=1e-12)
    spec = randomized_spectrum(aslinearoperator(A), 5, oversample=10, n_iter=2)
    assert not spec.exact and np.allclose(spec.s, d[:5], rtol=1e-8)
    assert spec.tail(5) == pytest.approx(np.sum(d[5:] ** 2) / np.sum(d**2), rel=1e-10)
