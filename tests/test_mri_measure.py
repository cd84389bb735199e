"""Tests of the one-render-per-subject measurements of Part IV (lsa.mri.measure) and the site renders."""

import copy
import fcntl
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from lsa.mri.measure import MeasurementPlan, measure_cohort, measure_subject, site_cohort_features
from lsa.mri.radiomics import brain_zscore, extract_features, load_params, make_extractor
from lsa.mri.simulate import SimConfig, participants, render_subject, render_subject_sites

CFG = SimConfig(n_subjects=4, resolution_mm=6, n_pilot=3, seed=3)


def test_site_renders_equal_the_two_site_cohort():
    cfg2 = replace(CFG, n_sites=2, site_dx_agreement=0.6)
    for i in range(4):
        direct = render_subject(cfg2, i)  # drawn at its own site in the two-site cohort
        both = render_subject_sites(CFG, i, sites=(0, 1))
        shared = both[direct.site]
        for k in ("base", "effect", "noise1", "noise2", "brain", "wm_prob"):
            np.testing.assert_array_equal(getattr(direct, k), getattr(shared, k), err_msg=k)
        assert direct.sigma == shared.sigma and direct.age == shared.age
        np.testing.assert_array_equal(both[0].base, render_subject(CFG, i).base)  # one site: everyone at site 0
    assert not np.array_equal(both[0].base, both[1].base)  # the scanner differs between sites
    with pytest.raises(ValueError, match="sites must lie"):
        render_subject_sites(CFG, 0, sites=(2,))


def test_measurements_equal_direct_extraction_and_controls_are_d_invariant():
    plan = MeasurementPlan(d_values=(0.0, 2.0), delta_per_d=0.05, site_variant=True)
    params = load_params(shape=False)
    ext = make_extractor(params)
    for i in (0, 1):  # a control and an ASD subject
        row = measure_subject(CFG, i, plan)
        r0, r1 = render_subject_sites(CFG, i, sites=(0, 1))
        for d in plan.d_values:
            ref = extract_features(brain_zscore(r0.image(d * 0.05), r0.brain), r0.gt_wm, 6, params, ext)
            ref.pop("n_voxels")
            assert row["features"][("oracle", d)] == ref
        ref1 = extract_features(brain_zscore(r1.image(0.0), r1.brain), r0.gt_wm, 6, params, ext)
        ref1.pop("n_voxels")
        assert row["features"][("oracle_site1", 0.0)] == ref1
        same = row["features"][("oracle", 0.0)] == row["features"][("oracle", 2.0)]
        assert same == (r0.label == 0)  # only ASD subjects change with d


def test_extractor_without_diagnostics_gives_pyradiomics_own_features():
    """make_extractor switches Pyradiomics' diagnostics off and computes shape with lsa.mri.shape; every feature
    equals a stock extractor's (bit for bit outside shape, to 1e-10 relative for shape), same names, same order."""
    from radiomics import featureextractor

    r = render_subject(CFG, 1)
    img = brain_zscore(r.image(0.0), r.brain)
    for shape in (False, True):
        params = load_params(shape=shape)
        ours = extract_features(img, r.gt_wm, 6, params, make_extractor(params))
        stock = extract_features(img, r.gt_wm, 6, params, featureextractor.RadiomicsFeatureExtractor(params))
        assert list(ours) == list(stock) and len(ours) > 10
        for k, v in stock.items():
            if "_shape_" in k:
                assert ours[k] == pytest.approx(v, rel=1e-10, abs=1e-9), k
            else:
                assert ours[k] == v, k
        assert any("_shape_" in k for k in ours) == shape
    assert make_extractor(params).settings["additionalInfo"] is False


def test_site_cohort_features_pick_each_subjects_site(tmp_path, monkeypatch):
    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path))
    plan = MeasurementPlan(d_values=(0.0,), delta_per_d=0.05, site_variant=True)
    M = measure_cohort(CFG, plan, progress=False)
    M2 = measure_cohort(CFG, plan, progress=False)  # second call reads the per-subject cache
    pd.testing.assert_frame_equal(M.features[("oracle", 0.0)], M2.features[("oracle", 0.0)])
    sites = participants(replace(CFG, n_sites=2, site_dx_agreement=0.5)).site.to_numpy()
    Xs = site_cohort_features(M, sites)
    for i, s in enumerate(sites):
        src = M.features[("oracle", 0.0) if s == 0 else ("oracle_site1", 0.0)]
        pd.testing.assert_series_equal(Xs.iloc[i], src.iloc[i])
    with pytest.raises(ValueError, match="sites must be"):
        site_cohort_features(M, sites[:-1])


def test_plan_rejects_inconsistent_requests():
    with pytest.raises(ValueError, match="extra_masks"):
        MeasurementPlan(extra_masks=("csf",), d_extra=1.0)
    with pytest.raises(ValueError, match="d_extra"):
        MeasurementPlan(extra_masks=("gm",))
    with pytest.raises(ValueError, match="cnn_masks"):
        MeasurementPlan(d_extra=1.0, cnn_target_mm=(8,), cnn_masks=("gm",))
    with pytest.raises(ValueError, match="segmenter"):
        measure_subject(CFG, 0, MeasurementPlan(d_extra=0.0, extra_masks=("multiunet",)))


def _segmentation_data(n=2):
    from lsa.mri.simulate import SEG_OFFSET

    rs = [render_subject(CFG, SEG_OFFSET + j) for j in range(n)]
    return [r.image(0.0) for r in rs], [r.gt_wm for r in rs], [r.brain for r in rs]


def _assert_rows_equal(M, rows):
    for i, row in enumerate(rows):
        for k, v in row["features"].items():
            assert M.features[k].iloc[i].to_dict() == v, (i, k)
        for m, v in row["dice"].items():
            assert M.dice[m][i] == v
        for k, v in row["cnn"].items():
            np.testing.assert_array_equal(M.cnn[k][i], v)


def _assert_unlocked(entry):
    with open(entry.with_name(f".{entry.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while another holder has it
        fcntl.flock(handle, fcntl.LOCK_UN)


def test_multiunet_trained_beside_the_measurements_gives_the_trained_multiunets_measurements(tmp_path, monkeypatch):
    import torch

    from lsa.mri import measure
    from lsa.mri.segment import MultiUNet, MultiUNetTraining, UNetConfig, multiunet_training

    monkeypatch.setenv("LSA_CACHE_DIR", str(tmp_path))
    data = _segmentation_data()
    ucfg = UNetConfig(channels=(2, 4), epochs=1, batch_size=8)
    plan = MeasurementPlan(
        d_values=(1.0,),
        delta_per_d=0.05,
        d_extra=1.0,
        extra_masks=("intensity", "multiunet"),
        cnn_target_mm=(12,),
        cnn_masks=("multiunet",),
    )
    with multiunet_training(*data, ucfg) as training:
        assert isinstance(training, MultiUNetTraining) and len(training.jobs) == 3
        M = measure_cohort(CFG, plan, segmenter=training, n_jobs=2, progress=False)
        unet = training.result
        assert isinstance(unet, MultiUNet)
        entry = next((tmp_path / "mri" / "unet").glob("*.pt"))
        _assert_unlocked(entry)  # written, so other processes may load it while this block goes on
    _assert_rows_equal(M, [measure_subject(CFG, i, plan, unet) for i in range(CFG.n_subjects)])  # serial, no cache
    assert set(M.dice) == {"intensity", "multiunet"} and ("multiunet", 12) in M.cnn and ("oracle", 12) in M.cnn

    with multiunet_training(*data, ucfg) as again:  # the weights were written by finish()
        assert isinstance(again, MultiUNet) and again.digest() == unet.digest()
        _assert_unlocked(entry)  # loaded: not locked while the caller uses it

    # another MultiUNet re-measures only its own masks: the segmenter-free part comes from the cache
    other = MultiUNet(copy.deepcopy(unet.models))
    with torch.no_grad():
        next(other.models["axial"].parameters()).view(-1)[0] += 0.5
    fixed_calls = []
    real = measure._measure_fixed
    monkeypatch.setattr(measure, "_measure_fixed", lambda *a: fixed_calls.append(a) or real(*a))
    M2 = measure_cohort(CFG, plan, segmenter=other, n_jobs=1, progress=False)
    assert fixed_calls == []
    monkeypatch.setattr(measure, "_measure_fixed", real)
    _assert_rows_equal(M2, [measure_subject(CFG, i, plan, other) for i in range(CFG.n_subjects)])
    with pytest.raises(ValueError, match="segmenter"):
        measure_cohort(CFG, plan, progress=False)
