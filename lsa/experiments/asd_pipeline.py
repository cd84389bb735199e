"""Driver of the chapter ``asd_pipeline``: the paper's pipeline end to end on the simulated cohort.

MultiUNet masks (trained as in the chapter ``asd_segmentation``, on its segmentation cohort) → Pyradiomics →
SVM / RF / LR / KNN, beside oracle and intensity-baseline masks (E7); the same pipeline on a grey-matter mask
and on feature groups (E8); and the CNN on the segmented white matter against the radiomics SVM on the same
outer folds (E9). Every subject is rendered once (:func:`lsa.mri.measure.measure_cohort`), and every model
fit of the chapter runs in one worker pool (:func:`evaluate`).
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


def segment_and_measure(
    config,
    d_eval: float,
    delta_per_d: float,
    cnn_mm: int,
    seg_config,
    seg_delta: float,
    seg_n_train: int,
    seg_n_test: int,
    unet_config,
    device=None,
    n_jobs: int = 1,
):
    """The MultiUNet of the chapter ``asd_segmentation`` for these settings, and every subject measured once.

    Measurements: radiomics inside the oracle, MultiUNet, intensity and grey-matter masks at ``d_eval``, oracle
    shape features, and CNN inputs (oracle and MultiUNet masks) at ``cnn_mm``. When the MultiUNet's weights are
    not cached yet, its three planes train first in the same ``n_jobs`` worker processes, and the workers left
    free meanwhile measure what does not need its masks (see :func:`lsa.mri.measure.measure_cohort`).

    Returns
    -------
    segmenter : MultiUNet
        On the CPU.
    measurements : CohortMeasurements
    """
    from lsa.experiments.asd_segmentation import segmentation_cohort, training_data
    from lsa.mri.segment import MultiUNet, multiunet_training

    plan = MeasurementPlan(
        d_values=(float(d_eval),),
        delta_per_d=delta_per_d,
        shape=True,
        d_extra=float(d_eval),
        extra_masks=("intensity", "gm", "multiunet"),
        cnn_target_mm=(int(cnn_mm),),
        cnn_masks=("multiunet",),
    )
    cohort = segmentation_cohort(seg_config, seg_delta, seg_n_train, seg_n_test)
    with multiunet_training(*training_data(cohort), unet_config, device) as seg:
        if isinstance(seg, MultiUNet):  # cached, or trained on a GPU: the worker processes predict on the CPU
            seg = MultiUNet({p: m.cpu() for p, m in seg.models.items()})
        meas = measure_cohort(config, plan, segmenter=seg, n_jobs=n_jobs)
    return (seg if isinstance(seg, MultiUNet) else seg.result), meas


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


def _cnn_fold(X, y, train, test, cnn_config) -> np.ndarray:
    import torch

    from lsa.mri.cnn import predict_proba, train_cnn

    torch.set_num_threads(1)
    model = train_cnn(X[train], y[train], cnn_config)
    return (predict_proba(model, X[test]) >= 0.5).astype(int)


def evaluate(
    meas: CohortMeasurements, inputs: dict, s: CVSettings, cnn_input: tuple | None = None, cnn_config=None
) -> tuple[dict, dict | None]:
    """Every model fit of the chapter in one pool of ``s.n_jobs`` workers: the nested CV of the four
    classifiers on each named feature table of ``inputs``, and the CNN on the outer folds that nested CV uses.

    The CNN folds are the longest tasks and go first, so that the shorter fits fill the workers' idle time
    (five folds on two workers would otherwise leave one worker idle for a whole fold). Every task is seeded
    on its own, so the results do not depend on ``s.n_jobs`` or on the order.

    Parameters
    ----------
    inputs : dict
        ``{name: DataFrame}`` of feature tables (rows are ``meas``'s subjects).
    cnn_input : (mask, target_mm), optional
        The key of ``meas.cnn`` the CNN trains on; ``None`` for no CNN.

    Returns
    -------
    cv : dict
        The result of :func:`lsa.mri.classify.nested_cv` keyed by ``(input name, model)``.
    cnn : dict or None
        The CNN's per-fold accuracies (``fold_accuracy``) and every subject's out-of-fold prediction
        (``oof_pred``), on the same outer folds (same seed, same subjects per fold) as the nested CV.
    """
    y = meas.y
    keys = [(name, m) for name in inputs for m in C.MODELS]
    tasks = [delayed(_cv)(inputs[name].values, y, s, m) for name, m in keys]
    folds = []
    if cnn_input is not None:
        X = meas.cnn[(cnn_input[0], int(cnn_input[1]))]
        folds = C.outer_splits(y, None, s.folds, 1, s.seed)
        tasks = [delayed(_cnn_fold)(X, y, tr, te, cnn_config) for tr, te in folds] + tasks
    res = Parallel(n_jobs=s.n_jobs)(tasks)
    cv = dict(zip(keys, res[len(folds) :]))
    if cnn_input is None:
        return cv, None
    preds = res[: len(folds)]
    oof = np.full(len(y), -1)
    for (_, te), p in zip(folds, preds):
        oof[te] = p
    acc = [float(np.mean(p == y[te])) for (_, te), p in zip(folds, preds)]
    return cv, dict(fold_accuracy=acc, oof_pred=oof)


def accuracy_table(cv: dict, names: dict) -> pd.DataFrame:
    """Tidy table (input, model, accuracy, sd, auc) of the nested-CV results ``cv`` of :func:`evaluate`, for
    the inputs ``names`` maps to the labels shown (``{label: input name}``)."""
    return pd.DataFrame(
        [
            dict(input=label, model=m, accuracy=r["mean_fold_accuracy"], sd=r["sd_fold_accuracy"], auc=r["auc"])
            for label, name in names.items()
            for m in C.MODELS
            for r in [cv[(name, m)]]
        ]
    )
