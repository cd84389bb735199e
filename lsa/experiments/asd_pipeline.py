"""Driver of the chapter ``asd_pipeline``: the paper's pipeline end to end on the simulated cohort.

MultiUNet masks (trained as in the chapter ``asd_segmentation``, on its segmentation cohort) → Pyradiomics →
SVM / RF / LR / KNN, beside oracle and intensity-baseline masks (E7); the same pipeline on a grey-matter mask
and on feature groups (E8); and the CNN on the segmented white matter against the radiomics SVM on the same
outer folds (E9). Every subject is rendered once (:func:`lsa.mri.measure.measure_cohort`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from lsa.experiments.asd_classification import CVSettings
from lsa.mri import classify as C
from lsa.mri.measure import CohortMeasurements, MeasurementPlan, measure_cohort

MASKS = ("oracle", "multiunet", "intensity")
GROUPS = ("shape", "first-order", "texture", "all")
TEXTURE = ("glcm", "glrlm", "glszm", "gldm", "ngtdm")


def segmenter(
    config, delta: float, n_train: int, n_test: int, unet_config, device=None, progress: bool = True, n_jobs: int = 1
):
    """The MultiUNet of the chapter ``asd_segmentation`` for these settings (cached; trained when new, its planes
    in ``n_jobs`` processes)."""
    from lsa.experiments.asd_segmentation import segmentation_cohort, train_segmenter

    cohort = segmentation_cohort(config, delta, n_train, n_test)
    return train_segmenter(cohort, unet_config, device, progress, n_jobs)


def measure(config, d_eval: float, delta_per_d: float, seg, seg_digest: str, cnn_mm: int, n_jobs: int = 1):
    """Every subject rendered once: radiomics inside the oracle, MultiUNet, intensity and grey-matter masks at
    ``d_eval``, oracle shape features, and CNN inputs (oracle and MultiUNet masks) at ``cnn_mm``."""
    plan = MeasurementPlan(
        d_values=(float(d_eval),),
        delta_per_d=delta_per_d,
        shape=True,
        d_extra=float(d_eval),
        extra_masks=("intensity", "gm", "multiunet"),
        cnn_target_mm=(int(cnn_mm),),
        cnn_masks=("multiunet",),
    )
    return measure_cohort(config, plan, segmenter=seg, segmenter_digest=seg_digest, n_jobs=n_jobs)


def feature_group(meas: CohortMeasurements, d: float, group: str) -> pd.DataFrame:
    """Oracle-mask features of one group: ``shape`` (mask only), ``first-order``, ``texture`` or ``all``."""
    X = meas.features[("oracle", float(d))]
    if group == "shape":
        return meas.features[("shape", None)]
    if group == "first-order":
        return X[[c for c in X.columns if "_firstorder_" in c]]
    if group == "texture":
        return X[[c for c in X.columns if c.split("_")[1] in TEXTURE]]
    if group == "all":
        return pd.concat([meas.features[("shape", None)], X], axis=1)
    raise ValueError(f"group must be one of {GROUPS}, got {group!r}")


def _cv(X, y, s: CVSettings, model: str) -> dict:
    return C.nested_cv(X, y, model, grid=s.grid, n_splits=s.folds, n_repeats=1, seed=s.seed, rf_trees=s.rf_trees)


def compare_inputs(meas: CohortMeasurements, inputs: dict, s: CVSettings) -> tuple[pd.DataFrame, dict]:
    """Nested CV of the four models on each named feature table of ``inputs``, all fits in parallel.

    Returns a tidy table (input, model, accuracy, sd, auc) and the raw results keyed by (input, model).
    """
    keys = [(name, m) for name in inputs for m in C.MODELS]
    res = Parallel(n_jobs=s.n_jobs)(delayed(_cv)(inputs[name].values, meas.y, s, m) for name, m in keys)
    raw = dict(zip(keys, res))
    tab = pd.DataFrame(
        [
            dict(input=name, model=m, accuracy=r["mean_fold_accuracy"], sd=r["sd_fold_accuracy"], auc=r["auc"])
            for (name, m), r in raw.items()
        ]
    )
    return tab, raw


def _cnn_fold(X, y, train, test, cnn_config) -> np.ndarray:
    import torch

    from lsa.mri.cnn import predict_proba, train_cnn

    torch.set_num_threads(1)
    model = train_cnn(X[train], y[train], cnn_config)
    return (predict_proba(model, X[test]) >= 0.5).astype(int)


def cnn_matched_folds(meas: CohortMeasurements, cnn_mm: int, mask: str, s: CVSettings, cnn_config) -> dict:
    """The CNN on the outer folds the radiomics nested CV uses (same seed, same subjects per fold), CPU workers.

    Returns per-fold accuracies and every subject's out-of-fold prediction.
    """
    X, y = meas.cnn[(mask, int(cnn_mm))], meas.y
    folds = C.outer_splits(y, None, s.folds, 1, s.seed)
    preds = Parallel(n_jobs=s.n_jobs)(delayed(_cnn_fold)(X, y, tr, te, cnn_config) for tr, te in folds)
    oof = np.full(len(y), -1)
    for (_, te), p in zip(folds, preds):
        oof[te] = p
    return dict(fold_accuracy=[float(np.mean(p == y[te])) for (_, te), p in zip(folds, preds)], oof_pred=oof)
