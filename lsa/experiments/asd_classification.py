"""Driver of the chapter ``asd_classification``: white-matter radiomics of a simulated cohort, classified.

The chapter measures every subject once (:func:`lsa.mri.measure.measure_cohort`) and runs, on those cached
measurements: nested CV against the effect size, permutation nulls at d = 0, a paper-style single split
with the CNN and McNemar's test, a site-confound protocol with a covariate-only baseline and leave-site-out
CV, and many random 80/20 splits (how much one test set of 38 subjects varies). Independent fits run in
parallel worker processes (joblib).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from lsa.mri import classify as C
from lsa.mri.measure import CohortMeasurements, MeasurementPlan, measure_cohort, site_cohort_features
from lsa.mri.simulate import participants


@dataclass(frozen=True)
class CVSettings:
    """Classifier settings shared by every analysis of the chapter.

    Parameters
    ----------
    grid : {"small", "full"}
        Hyper-parameter grid of the inner search.
    folds, repeats : int
        Outer stratified folds and repeats.
    seed : int
        Split and model seed.
    rf_trees : int
        Random-forest trees.
    n_jobs : int
        Worker processes for independent fits.
    """

    grid: str = "small"
    folds: int = 5
    repeats: int = 1
    seed: int = 0
    rf_trees: int = 100
    n_jobs: int = 1

    def __post_init__(self):
        if self.grid not in ("small", "full") or self.folds < 2 or self.repeats < 1 or self.n_jobs < 1:
            raise ValueError(
                f"need grid in (small, full), folds >= 2, repeats >= 1, n_jobs >= 1; got grid={self.grid!r}, "
                f"folds={self.folds}, repeats={self.repeats}, n_jobs={self.n_jobs}"
            )


def measure(
    config, d_values, d_table: float, delta_per_d: float, cnn_mm: int | None, shape: bool = False, n_jobs: int = 1
) -> CohortMeasurements:
    """Every subject rendered once: oracle radiomics at each d, the site-1 variant at d = 0, CNN inputs at d_table."""
    plan = MeasurementPlan(
        d_values=tuple(float(d) for d in d_values),
        delta_per_d=delta_per_d,
        site_variant=True,
        shape=shape,
        d_extra=float(d_table) if cnn_mm else None,
        cnn_target_mm=(int(cnn_mm),) if cnn_mm else (),
    )
    return measure_cohort(config, plan, n_jobs=n_jobs)


def features_at(meas: CohortMeasurements, d: float, shape: bool = False) -> pd.DataFrame:
    """Oracle-mask radiomics at effect size ``d`` (with the shape features when ``shape``)."""
    X = meas.features[("oracle", float(d))]
    return pd.concat([meas.features[("shape", None)], X], axis=1) if shape else X


def _cv_row(X, y, d, model, s: CVSettings) -> dict:
    r = C.nested_cv(X, y, model, grid=s.grid, n_splits=s.folds, n_repeats=s.repeats, seed=s.seed, rf_trees=s.rf_trees)
    return dict(
        d=d,
        model=model,
        accuracy=r["mean_fold_accuracy"],
        sd=r["sd_fold_accuracy"],
        auc=r["auc"],
        sensitivity=r["sensitivity"],
        specificity=r["specificity"],
        pooled_accuracy=r["accuracy"],
        pooled_lo=r["acc_lo"],
        pooled_hi=r["acc_hi"],
        n_ci=r["n"],
    )


def accuracy_vs_effect(meas: CohortMeasurements, d_values, s: CVSettings, shape: bool = False) -> pd.DataFrame:
    """Nested-CV metrics of every model at every effect size (one row per (d, model)); fits run in parallel."""
    jobs = [
        delayed(_cv_row)(features_at(meas, d, shape).values, meas.y, float(d), m, s) for d in d_values for m in C.MODELS
    ]
    return pd.DataFrame(Parallel(n_jobs=s.n_jobs)(jobs))


def permutation_nulls(meas: CohortMeasurements, s: CVSettings, n_permutations: int, shape: bool = False) -> dict:
    """Permutation null of each model's CV accuracy at d = 0 (permutations spread over ``s.n_jobs`` workers)."""
    X = features_at(meas, 0.0, shape).values
    return {
        m: C.permutation_null(
            X,
            meas.y,
            m,
            n_permutations=n_permutations,
            n_splits=s.folds,
            seed=s.seed,
            rf_trees=s.rf_trees,
            n_jobs=s.n_jobs,
        )
        for m in C.MODELS
    }


def paper_holdout(meas: CohortMeasurements, d_table: float, s: CVSettings, cnn=None, cnn_mm=None, device=None) -> dict:
    """The paper-style single stratified 80/20 split at ``d_table``: four radiomics models and the CNN.

    Returns ``{"train", "test", "models": {name: metrics with "pred"}, "mcnemar": SVM vs CNN or None}``.
    ``cnn`` is a :class:`lsa.mri.cnn.CNNConfig` (None skips the CNN).
    """
    from lsa.mri.cnn import holdout_cnn

    X, y = features_at(meas, d_table).values, meas.y
    train, test = C.holdout_split(y, 0.2, seed=s.seed)
    jobs = [
        delayed(C.holdout_eval)(X, y, m, train, test, grid=s.grid, seed=s.seed, rf_trees=s.rf_trees) for m in C.MODELS
    ]
    models = dict(zip(C.MODELS, Parallel(n_jobs=s.n_jobs)(jobs)))
    test_result = None
    if cnn is not None:
        models["CNN"] = holdout_cnn(meas.cnn[("oracle", int(cnn_mm))], y, train, test, cnn, device)
        test_result = C.mcnemar(models["SVM"]["pred"] == y[test], models["CNN"]["pred"] == y[test])
    return dict(train=train, test=test, models=models, mcnemar=test_result)


def site_confound(config, meas: CohortMeasurements, agreements, s: CVSettings) -> dict:
    """Two sites, no disease effect: radiomics accuracy, covariate-only baseline and leave-site-out CV.

    For agreement ``a`` the cohort is ``config`` with two sites and ``P(site = diagnosis) = a``; each subject's
    features are those of its render at the drawn site (identical to rendering that cohort directly).
    Returns ``{"site": DataFrame (agreement, model, cv, accuracy, site_dx_observed), "covariate": DataFrame,
    "leave_site_out": DataFrame}``; leave-site-out runs at the highest agreement when both sites hold both
    classes (fixed hyper-parameters where a site is too unbalanced to tune).
    """
    jobs, meta = [], []
    cov_jobs = []
    for a in agreements:
        cfg_s = replace(config, n_sites=2, site_dx_agreement=float(a))
        sites = participants(cfg_s).site.to_numpy()
        X = site_cohort_features(meas, sites).values
        obs = float(np.mean(sites == meas.y))
        for m in C.MODELS:
            jobs.append(
                delayed(C.nested_cv)(
                    X, meas.y, m, grid=s.grid, n_splits=s.folds, n_repeats=s.repeats, seed=s.seed, rf_trees=s.rf_trees
                )
            )
            meta.append(dict(agreement=float(a), model=m, cv="stratified", site_dx_observed=obs))
        cov = np.column_stack([sites, meas.age, meas.n_voxels["oracle"]]).astype(float)
        cov_jobs.append(
            delayed(C.nested_cv)(cov, meas.y, "LR", grid=s.grid, n_splits=s.folds, n_repeats=s.repeats, seed=s.seed)
        )
        both = all(len(set(meas.y[sites == k])) == 2 for k in (0, 1))
        if a == max(agreements) and both:
            for m in C.MODELS:
                jobs.append(
                    delayed(C.nested_cv)(X, meas.y, m, grid=s.grid, groups=sites, seed=s.seed, rf_trees=s.rf_trees)
                )
                meta.append(dict(agreement=float(a), model=m, cv="leave-site-out", site_dx_observed=obs))
    res = Parallel(n_jobs=s.n_jobs)(jobs + cov_jobs)
    rows = [
        mt | dict(accuracy=r["mean_fold_accuracy"] if mt["cv"] == "stratified" else r["accuracy"])
        for mt, r in zip(meta, res[: len(jobs)])
    ]
    site = pd.DataFrame(rows)
    covariate = pd.DataFrame(
        [dict(agreement=float(a), accuracy=r["mean_fold_accuracy"]) for a, r in zip(agreements, res[len(jobs) :])]
    )
    return dict(
        site=site[site.cv == "stratified"].reset_index(drop=True),
        covariate=covariate,
        leave_site_out=site[site.cv == "leave-site-out"].reset_index(drop=True),
    )


def random_splits(meas: CohortMeasurements, d: float, s: CVSettings, n_splits: int, threshold: float) -> dict:
    """Test accuracy over ``n_splits`` random stratified 80/20 splits at effect size ``d`` (fixed hyper-parameters).

    Returns the per-split table and, per model and for the best of four, the 2.5 / 50 / 97.5 % quantiles and
    the fraction of splits reaching ``threshold`` (e.g. the paper's 89.47 %).
    """
    df = C.random_split_accuracies(
        features_at(meas, d).values, meas.y, n_splits=n_splits, seed=s.seed, rf_trees=s.rf_trees, n_jobs=s.n_jobs
    )
    cols = list(C.MODELS) + ["best"]
    summary = pd.DataFrame(
        {
            c: {
                "q2.5": float(df[c].quantile(0.025)),
                "median": float(df[c].median()),
                "q97.5": float(df[c].quantile(0.975)),
                "P(acc >= threshold)": float(np.mean(df[c] >= threshold - 1e-9)),
            }
            for c in cols
        }
    ).T
    return dict(splits=df, summary=summary, n_test=df.attrs["n_test"])
