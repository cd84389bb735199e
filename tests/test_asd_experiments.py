"""Tests of the Part IV chapter drivers (lsa.experiments.asd_classification / asd_pipeline / asd_segmentation)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from lsa.experiments import asd_classification as AC
from lsa.experiments import asd_pipeline as AP
from lsa.experiments import asd_segmentation as AS
from lsa.mri import classify as C
from lsa.mri.measure import CohortMeasurements
from lsa.mri.simulate import SimConfig, participants

N = 60


def _fake(shift_site: float = 0.0, shift_d: float = 0.0, seed: int = 0) -> CohortMeasurements:
    """A measurement table with known structure: d = 1 shifts five features of the ASD subjects by ``shift_d``,
    the site-1 render shifts every feature by ``shift_site``."""
    rng = np.random.default_rng(seed)
    y = np.arange(N) % 2
    cols = [f"original_firstorder_f{i}" for i in range(6)] + [f"original_glcm_t{i}" for i in range(6)]
    base = rng.normal(size=(N, len(cols)))
    eff = base.copy()
    eff[:, :5] += shift_d * y[:, None]
    f = {
        ("oracle", 0.0): pd.DataFrame(base, columns=cols),
        ("oracle", 1.0): pd.DataFrame(eff, columns=cols),
        ("oracle_site1", 0.0): pd.DataFrame(base + shift_site, columns=cols),
        ("shape", None): pd.DataFrame(rng.normal(size=(N, 3)), columns=[f"original_shape_s{i}" for i in range(3)]),
    }
    return CohortMeasurements(
        y=y,
        age=rng.uniform(6, 18, N),
        summary={0.0: rng.normal(size=N), 1.0: rng.normal(size=N)},
        n_voxels={"oracle": rng.normal(1000, 10, N)},
        features=f,
    )


S = AC.CVSettings(folds=3, rf_trees=10, n_jobs=1)


def test_accuracy_vs_effect_has_one_row_per_d_and_model_and_follows_the_signal():
    curve = AC.accuracy_vs_effect(_fake(shift_d=2.5), [0.0, 1.0], S)
    assert len(curve) == 2 * len(C.MODELS) and set(curve.model) == set(C.MODELS)
    acc = curve.groupby("d").accuracy.mean()
    assert acc[1.0] > 0.8 and acc[1.0] - acc[0.0] > 0.25
    assert (curve.n_ci == N).all()  # each subject counted once in the interval


def test_site_confound_reads_each_subjects_site_and_the_covariate_baseline_tracks_agreement():
    cfg = SimConfig(n_subjects=N, resolution_mm=6, n_pilot=3)
    meas = _fake(shift_site=3.0)
    out = AC.site_confound(cfg, meas, [0.5, 0.95], S)
    site = out["site"].groupby("agreement").accuracy.mean()
    assert site[0.95] > site[0.5] + 0.2  # the scanner shift is learnable once site tracks diagnosis
    sites = participants(replace(cfg, n_sites=2, site_dx_agreement=0.95)).site.to_numpy()
    cov = out["covariate"].set_index("agreement").accuracy
    assert abs(cov[0.95] - np.mean(sites == meas.y)) < 0.15
    assert set(out["leave_site_out"].model) <= set(C.MODELS)


def test_random_splits_summaries_agree_with_the_table():
    R = AC.random_splits(_fake(shift_d=1.0), 1.0, S, n_splits=12, threshold=0.9)
    df = R["splits"]
    assert len(df) == 12 and R["n_test"] == 12
    np.testing.assert_allclose(df.best, df[list(C.MODELS)].max(axis=1))
    for m in list(C.MODELS) + ["best"]:
        assert R["summary"].loc[m, "P(acc >= threshold)"] == pytest.approx(np.mean(df[m] >= 0.9 - 1e-9))
        assert R["summary"].loc[m, "q2.5"] <= R["summary"].loc[m, "median"] <= R["summary"].loc[m, "q97.5"]
    assert (df.best >= df.SVM).all()


def test_feature_groups_partition_the_columns():
    meas = _fake()
    groups = {g: set(AP.feature_group(meas, 1.0, g).columns) for g in AP.GROUPS}
    assert groups["shape"] == {f"original_shape_s{i}" for i in range(3)}
    assert all("_firstorder_" in c for c in groups["first-order"]) and len(groups["first-order"]) == 6
    assert all("_glcm_" in c for c in groups["texture"]) and len(groups["texture"]) == 6
    assert groups["all"] == groups["shape"] | groups["first-order"] | groups["texture"]
    with pytest.raises(ValueError, match="group must be one of"):
        AP.feature_group(meas, 1.0, "wavelet")


def test_one_pool_gives_the_direct_fits_and_cnn_folds_match_the_radiomics_folds():
    meas = _fake(shift_d=2.0)
    y = meas.y
    vol = np.random.default_rng(0).normal(size=(N, 8, 8, 8)).astype(np.float32) + 4.0 * y[:, None, None, None]
    meas.cnn[("multiunet", 8)] = vol
    from lsa.mri.cnn import CNNConfig

    tables = {"oracle": meas.features[("oracle", 1.0)], "shape": AP.feature_group(meas, 1.0, "shape")}
    cnn_cfg = CNNConfig(channels=(4, 8), epochs=8, batch_size=8)
    cv, cnn = AP.evaluate(meas, tables, replace(S, n_jobs=2), cnn_input=("multiunet", 8), cnn_config=cnn_cfg)
    assert set(cv) == {(t, m) for t in tables for m in C.MODELS}
    for (t, m), r in cv.items():  # each pooled fit is the fit made on its own
        direct = C.nested_cv(tables[t].values, y, m, grid=S.grid, n_splits=S.folds, seed=S.seed, rf_trees=S.rf_trees)
        np.testing.assert_array_equal(r["oof_pred"], direct["oof_pred"])
    svm = cv[("oracle", "SVM")]
    assert (cnn["oof_pred"] >= 0).all() and (svm["oof_pred"] >= 0).all()  # every subject predicted once
    folds = C.outer_splits(y, None, S.folds, 1, S.seed)
    for (_, te), acc, cacc in zip(folds, svm["fold_accuracy"], cnn["fold_accuracy"]):  # the same folds
        assert acc == pytest.approx(np.mean(svm["oof_pred"][te] == y[te]))
        assert cacc == pytest.approx(np.mean(cnn["oof_pred"][te] == y[te]))
    assert np.mean(cnn["oof_pred"] == y) > 0.8
    cv_only, none = AP.evaluate(meas, {"oracle": tables["oracle"]}, S)
    assert none is None
    np.testing.assert_array_equal(cv_only[("oracle", "SVM")]["oof_pred"], svm["oof_pred"])
    tab = AP.accuracy_table(cv, {"WM": "oracle"})
    assert list(tab.input.unique()) == ["WM"] and list(tab.model) == list(C.MODELS)
    assert tab.accuracy.tolist() == [cv[("oracle", m)]["mean_fold_accuracy"] for m in C.MODELS]


def test_segmentation_cohort_round_trip_and_multiunet_digest():
    cfg = SimConfig(resolution_mm=8, n_pilot=3)
    co = AS.segmentation_cohort(cfg, 0.0, n_train=2, n_test=1)
    assert len(co.train) == 2 and len(co.test) == 1
    for rec, s in zip(co.records, co.loaded):
        np.testing.assert_array_equal(rec["wm_mask"], s.wm_mask)

    from lsa.mri.seg_unet import UNet2D
    from lsa.mri.segment import PLANES, MultiUNet

    torch.manual_seed(0)
    a = MultiUNet({p: UNet2D(1, 2, (2, 4)) for p in PLANES})
    d0 = a.digest()
    with torch.no_grad():
        next(a.models["axial"].parameters()).view(-1)[0] += 1.0
    assert a.digest() != d0
    with pytest.raises(ValueError, match="n_train"):
        AS.segmentation_cohort(cfg, 0.0, n_train=0, n_test=1)
