"""Classical classifiers on radiomics features: pipelines, nested CV, metrics with CIs, permutation test.

Every data-dependent step (variance filter, correlation filter, scaling, feature selection, tuning) is
fitted inside the training fold. With sites, the outer CV can be grouped by site.

"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, roc_auc_score
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from lsa.stats import wilson_ci

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
    """``SelectKBest(f_classif)`` whose ``k`` is capped at the number of features reaching it.

    A feature group smaller than ``k`` (e.g. three shape features) keeps all its features, by design, so the
    warning scikit-learn raises for ``k > n_features`` is not raised.
    """

    def _check_params(self, X, y):
        pass  # k > n_features is the capped case handled below, not a mistake

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
    """The pipeline: variance filter -> correlation filter -> scaler -> SelectKBest -> classifier.

    ``params`` set pipeline parameters directly (e.g. ``clf__C=1``, ``select__k=20``).
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
    """Tuning grid of ``model``; ``size="small"`` is the smoke grid."""
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

    Returns the per-fold accuracies, the out-of-fold prediction of every subject in the first repeat
    (``oof_pred``), and the metrics of the out-of-fold predictions. Each repeat of the
    outer CV predicts every subject once; the metrics are computed per repeat and averaged, and the Wilson
    interval counts each subject once (``n`` = number of subjects, ``k`` = mean number correct over the
    repeats), so repeats never pose as extra subjects.
    """
    X, y = np.asarray(X, np.float64), np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be (n_subjects, n_features) matching y, got {X.shape} and {y.shape}")
    splits = outer_splits(y, groups, n_splits, n_repeats, seed)
    per_repeat = len(splits) if groups is not None else n_splits
    fold_acc, repeats, cur = [], [], ([], [], [])
    oof = np.full(len(y), -1)
    for f, (tr, te) in enumerate(splits):
        if set(tr) & set(te):  # leakage guard: a subject never sits in both parts
            raise RuntimeError("outer split puts a subject in both train and test")
        best = _fit_tuned(X[tr], y[tr], model, grid, inner_splits, seed, rf_trees)
        p = best.predict(X[te])
        fold_acc.append(float(np.mean(p == y[te])))
        cur[0].append(y[te]), cur[1].append(p), cur[2].append(scores_of(best, X[te]))
        if f < per_repeat:
            oof[te] = p
        if (f + 1) % per_repeat == 0:
            repeats.append(binary_metrics(*(np.concatenate(c) for c in cur)))
            cur = ([], [], [])
    m = pooled_over_repeats(repeats)
    m.update(
        fold_accuracy=fold_acc,
        mean_fold_accuracy=float(np.mean(fold_acc)),
        sd_fold_accuracy=float(np.std(fold_acc, ddof=1)) if len(fold_acc) > 1 else 0.0,
        oof_pred=oof,
    )
    return m


def _fit_tuned(X, y, model: str, grid: str, inner_splits: int, seed: int, rf_trees: int):
    """The pipeline tuned by inner grid search, or untuned when a class is too rare to tune (leave-site-out)."""
    minority = int(np.bincount(y, minlength=2).min())
    if minority >= inner_splits:
        gs = GridSearchCV(
            make_pipeline(model, seed, rf_trees),
            param_grid(model, grid),
            scoring="roc_auc",
            cv=StratifiedKFold(inner_splits, shuffle=True, random_state=seed),
            n_jobs=1,
        )
        return gs.fit(X, y).best_estimator_
    if minority >= 1:  # e.g. leave-site-out with a site of (almost) one class: no inner tuning possible
        best = make_pipeline(model, seed, rf_trees)
        if model == "KNN":
            best.set_params(clf__n_neighbors=min(5, len(y)))
        return best.fit(X, y)
    raise ValueError(f"a training fold of {model} holds a single class; cannot train")


def pooled_over_repeats(repeats: list[dict]) -> dict:
    """Average the out-of-fold metrics of several CV repeats, each of which predicted every subject once.

    The Wilson interval uses ``n`` = subjects (not subjects x repeats) and ``k`` = mean number correct.
    """
    if not repeats:
        raise ValueError("need the metrics of at least one CV repeat")
    n = repeats[0]["n"]
    if any(r["n"] != n for r in repeats):
        raise ValueError(f"every repeat must predict the same subjects, got sizes {[r['n'] for r in repeats]}")
    k = float(np.mean([r["correct"] for r in repeats]))
    lo, hi = wilson_ci(k, n)
    out = {
        key: float(np.mean([r[key] for r in repeats]))
        for key in ("balanced_accuracy", "sensitivity", "specificity", "auc")
    }
    return dict(accuracy=k / n, acc_lo=lo, acc_hi=hi, n=n, correct=k, n_repeats=len(repeats), **out)


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
    pred = gs.predict(X[test])
    return binary_metrics(y[test], pred, scores_of(gs.best_estimator_, X[test])) | dict(pred=pred)


def mcnemar(correct_a, correct_b) -> dict:
    """Exact two-sided McNemar test of two classifiers scored on the same subjects.

    ``correct_a`` and ``correct_b`` are boolean arrays (one entry per subject). Only the discordant
    subjects count: ``b`` = A right and B wrong, ``c`` = A wrong and B right; under the null each
    discordant subject goes either way with probability 1/2, so ``p = binomtest(b, b + c, 1/2)``
    (two-sided; 1.0 when there is no discordant subject).
    """
    a, b_ = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b_.shape or a.ndim != 1:
        raise ValueError(f"need two equal-length 1-D boolean arrays, got shapes {a.shape} and {b_.shape}")
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    p = 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)
    return dict(a_only=b, b_only=c, both=int(np.sum(a & b_)), neither=int(np.sum(~a & ~b_)), p=p)


def _permuted_scores(folds, y, model, seed, rf_trees, perms) -> list[float]:
    """Mean fold accuracy of the classifier step for each label vector in ``perms`` on pre-transformed folds."""
    from sklearn.base import clone

    clf = make_pipeline(model, seed, rf_trees)[-1]
    out = []
    for yp in perms:
        acc = [np.mean(clone(clf).fit(Xtr, yp[tr]).predict(Xte) == yp[te]) for tr, te, Xtr, Xte in folds]
        out.append(float(np.mean(acc)))
    return out


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
    """Permutation test of the fixed-hyperparameter pipeline on fixed stratified folds.

    The folds are those of the observed score (stratified on the true labels, ``seed``); each permutation
    shuffles the labels of the whole cohort (within ``groups`` when given) and refits the classifier on every
    fold. The steps before the classifier (variance filter, correlation filter, scaler, ``SelectKBest`` with
    ``k="all"``) do not depend on the labels, so they are fitted once per fold and reused by every
    permutation. Returns the observed CV accuracy, the null accuracies, and the one-sided p-values
    ``p_upper = (1 + #{null >= obs}) / (n + 1)`` and ``p_lower = (1 + #{null <= obs}) / (n + 1)``.
    """
    from joblib import Parallel, delayed

    X, y = np.asarray(X, np.float64), np.asarray(y)
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    pipe = make_pipeline(model, seed, rf_trees)
    if pipe.named_steps["select"].k != "all":
        raise ValueError("the permutation null reuses label-free preprocessing; it needs SelectKBest(k='all')")
    folds = []
    for tr, te in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, y):
        pre = make_pipeline(model, seed, rf_trees)[:-1].fit(X[tr], y[tr])
        folds.append((tr, te, pre.transform(X[tr]), pre.transform(X[te])))
    rng = np.random.default_rng(seed)
    perms = []
    for _ in range(n_permutations):
        if groups is None:
            perms.append(rng.permutation(y))
        else:
            yp = y.copy()
            for g in np.unique(groups):
                idx = np.flatnonzero(np.asarray(groups) == g)
                yp[idx] = y[rng.permutation(idx)]
            perms.append(yp)
    score = _permuted_scores(folds, y, model, seed, rf_trees, [y])[0]
    chunks = [perms[i::n_jobs] for i in range(n_jobs)] if n_jobs > 1 else [perms]
    parts = Parallel(n_jobs=n_jobs)(delayed(_permuted_scores)(folds, y, model, seed, rf_trees, c) for c in chunks)
    null = np.empty(n_permutations)
    for i, part in enumerate(parts):
        null[i :: len(chunks)] = part
    n = len(null)
    return dict(
        accuracy=float(score),
        null=null,
        p_upper=float((1 + np.sum(null >= score)) / (n + 1)),
        p_lower=float((1 + np.sum(null <= score)) / (n + 1)),
    )


def feature_importance(X, y, names, seed: int = 0, rf_trees: int = 500) -> list[tuple[str, float]]:
    """Mean-decrease-in-impurity importances of a random forest on standardised features, sorted."""
    Xs = StandardScaler().fit_transform(np.asarray(X, np.float64))
    rf = RandomForestClassifier(n_estimators=rf_trees, random_state=seed, class_weight="balanced").fit(Xs, y)
    order = np.argsort(rf.feature_importances_)[::-1]
    return [(str(names[i]), float(rf.feature_importances_[i])) for i in order]


def _split_accuracies(X, y, train, test, seed: int, rf_trees: int) -> dict:
    """Test accuracy of the four fixed-hyperparameter pipelines on one split (preprocessing fitted once)."""
    pre = make_pipeline("LR", seed, rf_trees)[:-1].fit(X[train], y[train])  # var -> corr -> scale -> select(all)
    Xtr, Xte = pre.transform(X[train]), pre.transform(X[test])
    out = {}
    for m in MODELS:
        clf = make_pipeline(m, seed, rf_trees)[-1]
        out[m] = float(np.mean(clf.fit(Xtr, y[train]).predict(Xte) == y[test]))
    return out


def random_split_accuracies(
    X, y, n_splits: int = 200, test_fraction: float = 0.2, seed: int = 0, rf_trees: int = 500, n_jobs: int = 1
):
    """Test accuracy of each model over ``n_splits`` random stratified train/test splits, and the best of four.

    Every split fits the shared preprocessing (variance filter, correlation filter, scaler) on its training
    part once and the four classifiers with fixed hyper-parameters (those of :func:`make_pipeline`), so the
    spread shows how much one held-out test set of this size varies. Returns a DataFrame with one row per
    split: ``split``, one column per model and ``best`` (the highest of the four on that split).
    """
    import pandas as pd
    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedShuffleSplit

    X, y = np.asarray(X, np.float64), np.asarray(y)
    if n_splits < 1 or not 0 < test_fraction < 1:
        raise ValueError(f"need n_splits >= 1 and 0 < test_fraction < 1, got {n_splits}, {test_fraction}")
    splits = list(StratifiedShuffleSplit(n_splits, test_size=test_fraction, random_state=seed).split(X, y))
    rows = Parallel(n_jobs=n_jobs)(delayed(_split_accuracies)(X, y, tr, te, seed, rf_trees) for tr, te in splits)
    df = pd.DataFrame(rows)
    df["best"] = df[list(MODELS)].max(axis=1)
    df.insert(0, "split", np.arange(n_splits))
    df.attrs["n_test"] = len(splits[0][1])
    return df
