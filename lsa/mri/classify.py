"""Classical classifiers on radiomics features: pipelines, nested CV, metrics with CIs, permutation test.

Every data-dependent step (variance filter, correlation filter, scaling, feature selection, tuning) is
fitted inside the training fold (spec §5.5, §5.7). With sites, the outer CV can be grouped by site.

Used by the chapter ``asd_classification``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, roc_auc_score
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, StratifiedKFold, permutation_test_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

MODELS = ("SVM", "RF", "LR", "KNN")


class CorrelationFilter(BaseEstimator, TransformerMixin):
    """Drop the later feature of every pair whose absolute Pearson correlation exceeds ``threshold``.

    The pairs are found on the training fold only.
    """

    def __init__(self, threshold: float = 0.95):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = np.asarray(X, np.float64)
        if X.shape[1] < 2:
            self.keep_ = np.ones(X.shape[1], bool)
            return self
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.abs(np.corrcoef(X, rowvar=False))
        r = np.nan_to_num(r)
        keep = np.ones(X.shape[1], bool)
        for j in range(X.shape[1]):
            if keep[j]:
                later = np.arange(j + 1, X.shape[1])
                keep[later[r[j, j + 1 :] > self.threshold]] = False
        self.keep_ = keep
        return self

    def transform(self, X):
        return np.asarray(X)[:, self.keep_]


class KBest(SelectKBest):
    """``SelectKBest(f_classif)`` whose ``k`` is capped at the number of features reaching it."""

    def _get_support_mask(self):
        k = self.k
        if k != "all" and k >= len(self.scores_):
            self.k = "all"
            try:
                return super()._get_support_mask()
            finally:
                self.k = k
        return super()._get_support_mask()


def make_pipeline(model: str, seed: int = 0, rf_trees: int = 500, **params) -> Pipeline:
    """The spec's pipeline: variance filter -> correlation filter -> scaler -> SelectKBest -> classifier.

    ``params`` set pipeline parameters directly (e.g. ``clf__C=1``, ``select__k=20``).
    Used by the chapter ``asd_classification``.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    clf = {
        "SVM": SVC(kernel="rbf", class_weight="balanced", random_state=seed),
        "RF": RandomForestClassifier(n_estimators=rf_trees, class_weight="balanced", random_state=seed),
        "LR": LogisticRegression(max_iter=5000, class_weight="balanced", C=0.1, solver="newton-cg"),
        "KNN": KNeighborsClassifier(),
    }[model]
    pipe = Pipeline(
        [
            ("var", VarianceThreshold(1e-8)),
            ("corr", CorrelationFilter(0.95)),
            ("scale", StandardScaler()),
            ("select", KBest(f_classif, k="all")),
            ("clf", clf),
        ]
    )
    if params:
        pipe.set_params(**params)
    return pipe


def param_grid(model: str, size: str = "full") -> dict:
    """Tuning grid (spec §5.5) of ``model``; ``size="small"`` is the smoke grid. Used by ``asd_classification``."""
    if size not in ("full", "small"):
        raise ValueError(f"grid size must be 'full' or 'small', got {size!r}")
    full = {
        "SVM": {"clf__C": [0.1, 1, 10, 100], "clf__gamma": ["scale", 1e-3, 1e-2], "select__k": [10, 20, 50, "all"]},
        "RF": {"clf__max_depth": [None, 4, 8], "clf__min_samples_leaf": [1, 3, 5], "clf__max_features": ["sqrt", 0.2]},
        "LR": {"clf__C": [1e-3, 1e-2, 1e-1, 1, 10, 100], "select__k": [10, 20, 50, "all"]},
        "KNN": {
            "clf__n_neighbors": [3, 5, 7, 9, 11],
            "clf__weights": ["uniform", "distance"],
            "select__k": [10, 20, 50, "all"],
        },
    }
    small = {
        "SVM": {"clf__C": [0.1, 1, 10], "select__k": [10, "all"]},
        "RF": {"clf__max_depth": [None, 4]},
        "LR": {"clf__C": [1e-2, 1e-1, 1], "select__k": [10, "all"]},
        "KNN": {"clf__n_neighbors": [5, 9], "select__k": [10, "all"]},
    }
    return (full if size == "full" else small)[model]


def scores_of(est, X) -> np.ndarray:
    """Continuous scores for AUC: ``decision_function`` if present, else P(class 1)."""
    if hasattr(est, "decision_function"):
        try:
            return np.asarray(est.decision_function(X), float)
        except AttributeError:
            pass
    return np.asarray(est.predict_proba(X)[:, 1], float)


def wilson_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (used for single-split accuracies)."""
    if n <= 0:
        raise ValueError("n must be positive")
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = float(c - h), float(c + h)
    return (0.0 if k == 0 else max(0.0, lo)), (1.0 if k == n else min(1.0, hi))


def binary_metrics(y, pred, score=None) -> dict:
    """Accuracy (with Wilson 95 % CI), balanced accuracy, sensitivity (ASD recall), specificity, AUC."""
    y, pred = np.asarray(y), np.asarray(pred)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    n, k = len(y), int(tp + tn)
    sens = tp / (tp + fn) if tp + fn else float("nan")
    spec = tn / (tn + fp) if tn + fp else float("nan")
    lo, hi = wilson_ci(k, n)
    auc = float(roc_auc_score(y, score)) if score is not None and len(np.unique(y)) == 2 else float("nan")
    return dict(
        accuracy=k / n,
        acc_lo=lo,
        acc_hi=hi,
        balanced_accuracy=(sens + spec) / 2,
        sensitivity=float(sens),
        specificity=float(spec),
        auc=auc,
        n=n,
        correct=k,
    )


def outer_splits(y, groups=None, n_splits: int = 5, n_repeats: int = 1, seed: int = 0):
    """Outer CV splits: repeated stratified K-fold, or leave-one-site-out when ``groups`` are given."""
    y = np.asarray(y)
    if groups is not None:
        return list(LeaveOneGroupOut().split(np.zeros(len(y)), y, groups))
    out = []
    for r in range(n_repeats):
        out += list(StratifiedKFold(n_splits, shuffle=True, random_state=seed + r).split(np.zeros(len(y)), y))
    return out


def nested_cv(
    X,
    y,
    model: str,
    grid: str = "small",
    groups=None,
    n_splits: int = 5,
    n_repeats: int = 1,
    inner_splits: int = 3,
    seed: int = 0,
    rf_trees: int = 500,
) -> dict:
    """Nested CV of one model: inner ``GridSearchCV`` (ROC AUC), outer stratified or site-grouped folds.

    Returns per-fold accuracies and the metrics of the pooled out-of-fold predictions (first repeat's
    predictions are pooled with the others: every subject appears ``n_repeats`` times).
    Used by the chapter ``asd_classification``.
    """
    X, y = np.asarray(X, np.float64), np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be (n_subjects, n_features) matching y, got {X.shape} and {y.shape}")
    fold_acc, ys, preds, scs = [], [], [], []
    for tr, te in outer_splits(y, groups, n_splits, n_repeats, seed):
        if set(tr) & set(te):  # leakage guard: a subject never sits in both parts
            raise RuntimeError("outer split puts a subject in both train and test")
        minority = int(np.bincount(y[tr], minlength=2).min())
        if minority >= inner_splits:
            gs = GridSearchCV(
                make_pipeline(model, seed, rf_trees),
                param_grid(model, grid),
                scoring="roc_auc",
                cv=StratifiedKFold(inner_splits, shuffle=True, random_state=seed),
                n_jobs=1,
            )
            best = gs.fit(X[tr], y[tr]).best_estimator_
        elif minority >= 1:  # e.g. leave-site-out with a site of (almost) one class: no inner tuning possible
            best = make_pipeline(model, seed, rf_trees).fit(X[tr], y[tr])
            if model == "KNN":
                best.set_params(clf__n_neighbors=min(5, len(tr))).fit(X[tr], y[tr])
        else:
            raise ValueError(f"a training fold of {model} holds a single class; cannot train")
        p = best.predict(X[te])
        fold_acc.append(float(np.mean(p == y[te])))
        ys.append(y[te]), preds.append(p), scs.append(scores_of(best, X[te]))
    m = binary_metrics(np.concatenate(ys), np.concatenate(preds), np.concatenate(scs))
    m.update(
        fold_accuracy=fold_acc,
        mean_fold_accuracy=float(np.mean(fold_acc)),
        sd_fold_accuracy=float(np.std(fold_acc, ddof=1)) if len(fold_acc) > 1 else 0.0,
    )
    return m


def holdout_split(y, test_fraction: float = 0.2, seed: int = 0):
    """Stratified single train/test split (the paper-style view), disjoint subject indices."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    return np.sort(tr), np.sort(te)


def holdout_eval(X, y, model: str, train, test, grid: str = "small", seed: int = 0, rf_trees: int = 500) -> dict:
    """Tune on the training part (inner 3-fold CV), test once on the held-out part; metrics with Wilson CI."""
    X, y = np.asarray(X, np.float64), np.asarray(y)
    if set(train) & set(test):
        raise ValueError("train and test share subjects")
    gs = GridSearchCV(
        make_pipeline(model, seed, rf_trees),
        param_grid(model, grid),
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=seed),
        n_jobs=1,
    ).fit(X[train], y[train])
    return binary_metrics(y[test], gs.predict(X[test]), scores_of(gs.best_estimator_, X[test]))


def permutation_null(
    X,
    y,
    model: str,
    n_permutations: int = 200,
    n_splits: int = 5,
    seed: int = 0,
    rf_trees: int = 500,
    groups=None,
    n_jobs: int = 1,
) -> dict:
    """Permutation test of the fixed-hyperparameter pipeline (``sklearn.permutation_test_score``).

    Returns the observed CV accuracy, the null accuracies, and the one-sided p-values
    ``p_upper = (1 + #{null >= obs}) / (n + 1)`` and ``p_lower = (1 + #{null <= obs}) / (n + 1)``.
    Used by the chapter ``asd_classification``.
    """
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    score, null, _ = permutation_test_score(
        make_pipeline(model, seed, rf_trees),
        np.asarray(X, np.float64),
        np.asarray(y),
        cv=cv,
        n_permutations=n_permutations,
        random_state=seed,
        scoring="accuracy",
        n_jobs=n_jobs,
        groups=groups,
    )
    n = len(null)
    return dict(
        accuracy=float(score),
        null=np.asarray(null, float),
        p_upper=float((1 + np.sum(null >= score)) / (n + 1)),
        p_lower=float((1 + np.sum(null <= score)) / (n + 1)),
    )


def feature_importance(X, y, names, seed: int = 0, rf_trees: int = 500) -> list[tuple[str, float]]:
    """Mean-decrease-in-impurity importances of a random forest on standardised features, sorted.

    Used by the chapter ``asd_classification``.
    """
    Xs = StandardScaler().fit_transform(np.asarray(X, np.float64))
    rf = RandomForestClassifier(n_estimators=rf_trees, random_state=seed, class_weight="balanced").fit(Xs, y)
    order = np.argsort(rf.feature_importances_)[::-1]
    return [(str(names[i]), float(rf.feature_importances_[i])) for i in order]
