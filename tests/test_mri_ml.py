"""Tests of segmentation, classifiers and the CNN of Part IV (lsa.mri.segment/unet/classify/cnn)."""

import numpy as np
import pytest
import torch
from scipy import stats

from lsa.mri import classify as C
from lsa.mri import segment as G
from lsa.mri.cnn import CNNConfig, WMNet3D, holdout_cnn, wm_input
from lsa.mri.seg_unet import UNet2D

# one torch thread and one BLAS thread: set for the whole session in tests/conftest.py


def test_dice_closed_forms():
    a = np.zeros((4, 4, 4), int)
    b = a.copy()
    a[:2] = 1
    b[1:3] = 1  # |A| = |B| = 32, overlap 16
    assert G.dice(a, a) == 1.0 and G.dice(a, 1 - a) == 0.0 and G.dice(a, b) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="equal shapes"):
        G.dice(a, b[:3])


def test_largest_component_keeps_biggest_blob():
    m = np.zeros((10, 10, 10), np.uint8)
    m[1:4, 1:4, 1:4] = 1  # 27 voxels
    m[6:8, 6:8, 6:8] = 1  # 8 voxels
    out = G.largest_component(m)
    assert out.sum() == 27 and out[2, 2, 2] == 1 and out[7, 7, 7] == 0


def test_intensity_baseline_recovers_bright_class():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (20, 20, 20))
    img = np.choose(truth, [100.0, 300.0, 500.0]) + rng.normal(0, 10, truth.shape)
    wm = G.intensity_wm(img, np.ones_like(truth, bool))
    assert G.dice(wm, truth == 2) > 0.99


def test_unet_shapes_and_divisibility():
    net = UNet2D(1, 2, (4, 8, 16))
    assert net(torch.zeros(2, 1, 16, 24)).shape == (2, 2, 16, 24)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(1, 1, 18, 24))


def test_multiunet_trains_and_fuses_to_binary_mask():
    rng = np.random.default_rng(0)
    vols, masks, brains = [], [], []
    for _ in range(2):
        m = np.zeros((16, 16, 16), np.int64)
        m[4:12, 4:12, 4:12] = 1
        vols.append((m * 2.0 + rng.normal(0, 0.3, m.shape)).astype(np.float32))
        masks.append(m)
        brains.append(np.ones(m.shape, bool))
    cfg = G.UNetConfig(channels=(4, 8), epochs=1, batch_size=8)
    mu = G.train_multiunet(vols, masks, brains, cfg, cache=False, progress=False)
    img = np.pad(vols[0], ((0, 1), (0, 2), (0, 3)))  # a shape that needs padding inside predict
    pred = mu.predict(img, np.ones(img.shape, bool))
    assert pred.shape == img.shape and set(np.unique(pred)) <= {0, 1}
    probas = mu.plane_proba(img, np.ones(img.shape, bool))
    assert set(probas) == set(G.PLANES) and all(p.shape == img.shape for p in probas.values())
    with pytest.raises(ValueError, match="plane"):
        G.train_plane_unet(vols, masks, "oblique", cfg)


def _cube_data(n=2, seed=0):
    rng = np.random.default_rng(seed)
    vols, masks, brains = [], [], []
    for _ in range(n):
        m = np.zeros((16, 16, 16), np.int64)
        m[4:12, 4:12, 4:12] = 1
        vols.append((m * 2.0 + rng.normal(0, 0.3, m.shape)).astype(np.float32))
        masks.append(m)
        brains.append(np.ones(m.shape, bool))
    return vols, masks, brains


def test_planes_trained_in_parallel_have_the_serial_weights():
    vols, masks, brains = _cube_data()
    cfg = G.UNetConfig(channels=(4, 8), epochs=2, batch_size=8)
    serial = G.train_multiunet(vols, masks, brains, cfg, cache=False, progress=False, n_jobs=1)
    parallel = G.train_multiunet(vols, masks, brains, cfg, cache=False, progress=False, n_jobs=2)
    for p in G.PLANES:
        a, b = serial.models[p].state_dict(), parallel.models[p].state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="n_jobs must be an integer >= 1"):
        G.train_multiunet(vols, masks, brains, cfg, cache=False, progress=False, n_jobs=0)


def test_empty_slices_are_skipped_and_the_rest_is_unchanged():
    torch.manual_seed(0)
    net = UNet2D(1, 2, (4, 8)).eval()
    img = np.zeros((12, 10, 8), np.float32)
    img[3:9, 2:8, 1:7] = np.random.default_rng(0).normal(size=(6, 6, 6))  # slices 0-2 and 9-11 of axis 0 empty
    for plane, ax in G.PLANES.items():
        prob = G.predict_plane_proba(net, img, plane, batch=4)
        assert prob.shape == img.shape
        padded, _ = G.pad_to(img, net.divisor)
        with torch.no_grad():  # every slice, empty ones included, through the network
            full = net(torch.from_numpy(np.moveaxis(padded, ax, 0)[:, None].copy())).softmax(1)[:, 1].numpy()
        full = np.moveaxis(full, 0, ax)[: img.shape[0], : img.shape[1], : img.shape[2]]
        nonempty = np.moveaxis(np.abs(img), ax, 0).reshape(img.shape[ax], -1).max(1) > 0
        np.testing.assert_allclose(np.compress(nonempty, prob, ax), np.compress(nonempty, full, ax), atol=1e-6)
        assert np.all(np.compress(~nonempty, prob, ax) == 0)
        assert np.any(np.compress(~nonempty, full, ax) > 0)  # so skipping really changes what is computed


def test_fusion_is_mean_of_planes():
    brain = np.ones((5, 5, 5), bool)
    p = {"axial": np.full((5, 5, 5), 0.9), "coronal": np.full((5, 5, 5), 0.4), "sagittal": np.full((5, 5, 5), 0.1)}
    assert G.MultiUNet.fuse(p, brain).sum() == 0  # mean 0.467 < 0.5
    p["sagittal"] = np.full((5, 5, 5), 0.3)
    assert G.MultiUNet.fuse(p, brain).sum() == 125  # mean 0.533


def test_wilson_interval_solves_its_defining_equation():
    for k, n in ((34, 38), (33, 38), (0, 10), (10, 10)):
        lo, hi = C.wilson_ci(k, n)
        z, ph = stats.norm.ppf(0.975), k / n
        for p in (lo, hi):  # endpoints are the roots of (ph - p)^2 = z^2 p (1 - p) / n
            assert (ph - p) ** 2 == pytest.approx(z * z * p * (1 - p) / n, abs=1e-10)
        assert lo <= ph <= hi


def test_binary_metrics_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([1, 1, 0, 0, 0, 1, 0, 1])
    m = C.binary_metrics(y, p, score=p.astype(float))
    assert m["accuracy"] == 6 / 8 and m["sensitivity"] == 3 / 4 and m["specificity"] == 3 / 4
    assert m["correct"] == 6 and m["n"] == 8


def test_correlation_filter_drops_duplicates_only():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 1)), rng.normal(size=(50, 1))
    X = np.hstack([a, b, 2 * a + 1e-6 * rng.normal(size=(50, 1))])
    f = C.CorrelationFilter(0.95).fit(X)
    np.testing.assert_array_equal(f.keep_, [True, True, False])


def test_kbest_keeps_a_group_smaller_than_k_without_warning():
    import warnings

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), np.repeat([0, 1], 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sel = C.KBest(k=10).fit(X, y)
    assert sel.get_support().sum() == 3
    X[:, 2] += 3 * y  # with more features than k, the k best are kept
    X5 = np.column_stack([X, rng.normal(size=(40, 2))])
    assert list(np.flatnonzero(C.KBest(k=1).fit(X5, y).get_support())) == [2]


def test_outer_splits_never_leak():
    y = np.arange(30) % 2
    for tr, te in C.outer_splits(y, n_splits=5, n_repeats=2):
        assert not set(tr) & set(te) and len(tr) + len(te) == 30
    groups = np.repeat([0, 1, 2], 10)
    for tr, te in C.outer_splits(y, groups=groups):
        assert len(set(groups[te])) == 1 and not set(groups[tr]) & set(groups[te])
    tr, te = C.holdout_split(np.arange(40) % 2, 0.2, seed=1)
    assert len(te) == 8 and not set(tr) & set(te) and (np.arange(40)[te] % 2).sum() == 4


def _two_class(n=60, p=30, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, p))
    X[:, :5] += shift * y[:, None]
    return X, y


def test_strong_signal_is_learned_by_every_model():
    X, y = _two_class(shift=2.0)
    for m in C.MODELS:
        r = C.nested_cv(X, y, m, grid="small", n_splits=3, rf_trees=30)
        assert r["mean_fold_accuracy"] > 0.8, m
        assert r["auc"] > 0.85, m


def test_permutation_test_separates_signal_from_noise():
    X, y = _two_class(shift=2.0)
    sig = C.permutation_null(X, y, "LR", n_permutations=30, n_splits=3)
    assert sig["p_upper"] == pytest.approx(1 / 31)  # no permutation beats a real, strong signal
    Xn, yn = _two_class(shift=0.0, seed=1)
    null = C.permutation_null(Xn, yn, "LR", n_permutations=30, n_splits=3)
    assert null["p_upper"] > 1 / 31 and len(null["null"]) == 30
    assert 0 < null["p_lower"] <= 1


def test_bad_model_and_shapes_are_rejected():
    with pytest.raises(ValueError, match="model must be one of"):
        C.make_pipeline("XGB")
    with pytest.raises(ValueError, match="grid size"):
        C.param_grid("SVM", "huge")
    with pytest.raises(ValueError, match="n_subjects, n_features"):
        C.nested_cv(np.zeros(10), np.zeros(10), "LR")


def test_cnn_shapes_and_holdout():
    net = WMNet3D()
    assert net(torch.zeros(2, 1, 12, 14, 12)).shape == (2, 2)
    assert sum(p.numel() for p in net.parameters()) == 73282  # the parameter count of our reconstruction
    img = np.random.default_rng(0).normal(size=(16, 16, 16)).astype(np.float32)
    z = wm_input(img, np.ones(img.shape, bool), np.ones(img.shape), resolution_mm=2, target_mm=8)
    assert z.shape == (4, 4, 4)
    with pytest.raises(ValueError, match="multiple"):
        wm_input(img, np.ones(img.shape, bool), np.ones(img.shape), resolution_mm=3, target_mm=4)
    rng = np.random.default_rng(0)
    y = np.arange(16) % 2
    X = rng.normal(size=(16, 12, 12, 12)).astype(np.float32) + 3 * y[:, None, None, None]
    r = holdout_cnn(X, y, np.arange(12), np.arange(12, 16), CNNConfig(epochs=10, batch_size=4))
    assert r["accuracy"] == 1.0
    with pytest.raises(ValueError, match="share subjects"):
        holdout_cnn(X, y, np.arange(12), np.arange(10, 16), CNNConfig(epochs=1))


def test_repeated_cv_interval_counts_each_subject_once():
    X, y = _two_class(n=40, shift=1.0)
    r1 = C.nested_cv(X, y, "LR", n_splits=4, n_repeats=1)
    r3 = C.nested_cv(X, y, "LR", n_splits=4, n_repeats=3)
    assert r1["n"] == r3["n"] == 40 and r3["n_repeats"] == 3 and len(r3["fold_accuracy"]) == 12
    assert r3["accuracy"] == pytest.approx(np.mean(r3["fold_accuracy"]))  # equal folds: same mean
    lo, hi = C.wilson_ci(r3["correct"], 40)
    assert (r3["acc_lo"], r3["acc_hi"]) == (lo, hi)
    # an interval that pooled 3 x 40 predictions as 120 subjects would be narrower by about sqrt(3)
    lo120, hi120 = C.wilson_ci(3 * r3["correct"], 120)
    assert hi - lo > 1.5 * (hi120 - lo120)
    rep = dict(correct=30, n=40, balanced_accuracy=0.75, sensitivity=0.7, specificity=0.8, auc=0.8)
    with pytest.raises(ValueError, match="same subjects"):
        C.pooled_over_repeats([rep, rep | dict(n=39)])


def test_paper_test_size_inference():
    from lsa.mri.reference import consistent_test_sizes

    sizes = consistent_test_sizes()
    n, k = sizes[0]
    assert (n, k) == (38, {"SVM": 34, "CNN": 33})
    assert all(n2 % 38 == 0 for n2, _ in sizes)  # 86.84 % only fits multiples of 38 below 200
    assert consistent_test_sizes({"SVM": 0.8947})[0][0] == 19
    with pytest.raises(ValueError, match="fractions"):
        consistent_test_sizes({"SVM": 89.47})


def test_smallest_mcnemar_p_by_enumeration():
    from lsa.mri.reference import smallest_mcnemar_p

    assert smallest_mcnemar_p(34, 33, 38) == 1.0  # a one-subject gap can never be significant
    # 30 vs 20 of 40: b - c = 10, smallest p at c = 0 (b = 10): 2 * 0.5 ** 10
    assert smallest_mcnemar_p(30, 20, 40) == pytest.approx(2 * 0.5**10)
    assert C.mcnemar(np.r_[np.ones(10, bool), np.zeros(30, bool)], np.zeros(40, bool))["p"] == pytest.approx(
        2 * 0.5**10
    )
    with pytest.raises(ValueError, match="counts"):
        smallest_mcnemar_p(41, 3, 40)


def test_permutation_null_reuses_preprocessing_without_changing_the_observed_score():
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X, y = _two_class(n=40, shift=1.0, seed=2)
    cv = StratifiedKFold(4, shuffle=True, random_state=3)
    for m in C.MODELS:
        ref = cross_val_score(C.make_pipeline(m, 3, 20), X, y, cv=cv, scoring="accuracy").mean()
        r = C.permutation_null(X, y, m, n_permutations=8, n_splits=4, seed=3, rf_trees=20)
        assert r["accuracy"] == pytest.approx(ref), m  # the whole pipeline refitted per fold gives the same score
    a = C.permutation_null(X, y, "LR", n_permutations=9, n_splits=4, seed=3)
    b = C.permutation_null(X, y, "LR", n_permutations=9, n_splits=4, seed=3, n_jobs=2)
    np.testing.assert_array_equal(a["null"], b["null"])  # workers change nothing
    groups = np.repeat([0, 1], 20)
    g = C.permutation_null(X, y, "LR", n_permutations=5, n_splits=4, seed=3, groups=groups)
    assert len(g["null"]) == 5
