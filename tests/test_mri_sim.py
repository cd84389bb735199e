"""Tests of the simulated MRI cohort (lsa.mri.simulate) and the radiomics wrapper, against independent truth."""

import numpy as np
import pytest

from lsa.mri import simulate as S

RES = 6  # 34 x 40 x 33 voxels: fast, same code path as 2 mm


@pytest.fixture(scope="module")
def cfg():
    return S.SimConfig(resolution_mm=RES, n_subjects=60, n_pilot=12)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="effect_extent"):
        S.SimConfig(effect_extent="global")
    with pytest.raises(ValueError, match="resolution_mm"):
        S.SimConfig(resolution_mm=2.5)
    with pytest.raises(ValueError, match="site_dx_agreement"):
        S.SimConfig(site_dx_agreement=1.5)


def test_template_is_offline_and_consistent():
    t = S.load_template(RES)
    assert t["t1"].shape == t["wm"].shape == t["gm"].shape == t["brain"].shape
    assert 0 <= t["wm"].min() and t["wm"].max() <= 1
    # WM is brighter than GM in a T1w template
    assert t["t1"][t["wm"] > 0.8].mean() > t["t1"][t["gm"] > 0.8].mean()


def test_render_is_deterministic_and_subject_specific(cfg):
    a, b, c = S.render_subject(cfg, 3), S.render_subject(cfg, 3), S.render_subject(cfg, 4)
    np.testing.assert_array_equal(a.image(0.05), b.image(0.05))
    np.testing.assert_array_equal(a.gt_wm, b.gt_wm)
    assert not np.array_equal(a.image(0.0), c.image(0.0))
    # a different cohort seed changes the subject
    d = S.render_subject(S.SimConfig(resolution_mm=RES, seed=1), 3)
    assert not np.array_equal(a.image(0.0), d.image(0.0))


def test_effect_only_in_asd_and_only_darkens_wm(cfg):
    td, asd = S.render_subject(cfg, 0), S.render_subject(cfg, 1)
    assert td.label == 0 and asd.label == 1
    np.testing.assert_array_equal(td.image(0.0), td.image(0.2))  # TD subjects never carry the effect
    i0, i1 = asd.image(0.0), asd.image(0.2)
    assert np.all(i0[~asd.brain] == 0) and np.all(i1[~asd.brain] == 0)  # skull-stripped
    wm = asd.gt_wm > 0
    # hypo-intensity I <- I (1 - delta w): the mean relative drop in WM is delta x mean weight (noise aside)
    drop = 1 - i1[wm].mean() / i0[wm].mean()
    expected = 0.2 * np.average(asd.weight[wm], weights=i0[wm])
    assert drop == pytest.approx(expected, abs=0.01)
    # the change at a voxel is bounded by delta x (T <= 1000) x (nuisance gains < 2) x local weight
    assert np.all(np.abs(i1 - i0) <= 0.2 * 1000 * 2 * asd.weight + 1e-2)


def test_participants_table_matches_renders():
    cfg2 = S.SimConfig(resolution_mm=RES, n_subjects=6, n_sites=2, site_dx_agreement=0.8)
    tab = S.participants(cfg2)
    for i in range(6):
        r = S.render_subject(cfg2, i)
        assert tab.site[i] == r.site and tab.label[i] == r.label and tab.age[i] == pytest.approx(r.age)
        assert tab.participant_id[i] == r.subject_id


def test_site_agreement_one_ties_site_to_diagnosis():
    tab = S.participants(S.SimConfig(resolution_mm=RES, n_subjects=40, n_sites=2, site_dx_agreement=1.0))
    np.testing.assert_array_equal(tab.site.values, tab.label.values)


def test_calibration_gives_requested_d(cfg):
    cal = S.calibrate(cfg)
    assert cal.delta(0) == 0 and cal.delta(2) == pytest.approx(2 * cal.delta(1))
    rs = [S.render_subject(cfg, i) for i in range(cfg.n_subjects)]
    y = np.array([r.label for r in rs])
    s0 = np.array([S.wm_summary(r.image(0.0), r) for r in rs])
    for d in (0.0, 1.0):
        s = np.array([S.wm_summary(r.image(cal.delta(d)), r) for r in rs])
        # paired shift of the ASD summaries, in control-SD units, is d (calibration of the sensitivity)
        shift = np.mean(s0[y == 1] - s[y == 1]) / cal.sd_controls
        assert abs(shift - d) <= 0.15 * max(d, 0.1)
        # empirical Cohen's d between groups within 3 standard errors of the requested d (the simulator promises ±0.5)
        emp = S.cohens_d(s[y == 0], s[y == 1])
        se = np.sqrt(4 / len(y) + d**2 / (2 * len(y)))
        assert abs(emp - d) < max(0.5, 3 * se), (d, emp)


def test_cohens_d_closed_form():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0, 5.0])
    assert S.cohens_d(b, a) == pytest.approx(2.0)  # means differ by 2, pooled SD 1


def test_radiomics_template_wm_gives_106_finite_features():
    from lsa.mri.radiomics import brain_zscore, extract_features, load_params

    t = S.load_template(4)
    params = load_params(shape=True)
    feats = extract_features(brain_zscore(t["t1"], t["brain"] > 0.5), (t["wm"] >= 0.5).astype(np.uint8), 4, params)
    feats.pop("n_voxels")
    assert len(feats) == 106 and all(np.isfinite(list(feats.values())))
    no_shape = load_params(shape=False)
    assert "shape" not in no_shape["featureClass"] and "shape" in params["featureClass"]


def test_radiomics_rejects_bad_input(tmp_path):
    from lsa.mri.radiomics import brain_zscore, extract_features, load_params

    with pytest.raises(ValueError, match="shape"):
        brain_zscore(np.zeros((4, 4, 4)), np.ones((4, 4, 3), bool))
    with pytest.raises(ValueError, match="equal 3D shapes"):
        extract_features(np.zeros((4, 4, 4)), np.ones((4, 4, 3)), 4, {})
    with pytest.raises(FileNotFoundError):
        load_params(path=tmp_path / "nope.yaml")


def test_brain_zscore_moments():
    from lsa.mri.radiomics import brain_zscore

    rng = np.random.default_rng(0)
    img, brain = rng.normal(50, 7, (10, 10, 10)), rng.random((10, 10, 10)) > 0.3
    z = brain_zscore(img, brain)
    assert z[brain].mean() == pytest.approx(0, abs=1e-3) and z[brain].std() == pytest.approx(100, rel=1e-4)
    assert np.all(z[~brain] == 0)


def test_measure_cohort_caches_per_subject_and_the_effect_lowers_asd_wm_only(tmp_path, monkeypatch):
    from lsa.mri.measure import MeasurementPlan, measure_cohort

    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path))
    monkeypatch.delenv("LSA_CACHE_DIR", raising=False)
    cfg = S.SimConfig(resolution_mm=RES, n_subjects=4, n_pilot=3)
    plan = MeasurementPlan(d_values=(0.0, 4.0), delta_per_d=0.05)
    first = measure_cohort(cfg, plan, progress=False)
    files = list((tmp_path / "cache" / "mri" / "measurements").rglob("*.joblib"))
    assert len(files) == 4  # one cache entry per subject, holding every effect size
    stamps = {f: f.stat().st_mtime_ns for f in files}
    again = measure_cohort(cfg, plan, progress=False)  # reads the cache: no entry is rewritten
    assert {f: f.stat().st_mtime_ns for f in files} == stamps
    for d in (0.0, 4.0):
        assert first.features[("oracle", d)].equals(again.features[("oracle", d)])
    np.testing.assert_array_equal(first.y, [0, 1, 0, 1])
    # the WM hypo-intensity lowers the brain-z-scored WM mean of ASD subjects only (paired subjects)
    m0, m4 = (first.features[("oracle", d)]["original_firstorder_Mean"].values for d in (0.0, 4.0))
    np.testing.assert_allclose(m4[[0, 2]], m0[[0, 2]])
    assert np.all(m4[[1, 3]] < m0[[1, 3]])
