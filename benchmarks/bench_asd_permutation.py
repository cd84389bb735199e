"""Permutation null of ``asd_classification``: sklearn's ``permutation_test_score`` vs reused preprocessing.

``sklearn.model_selection.permutation_test_score`` refits the whole pipeline (variance filter, correlation
filter, scaler, selector, classifier) for every permutation and fold. :func:`lsa.mri.classify.permutation_null`
fits the label-free steps once per fold and refits only the classifier. This script times both for each model
on random features of the default cohort's shape (190 subjects × 92 features, 5 folds) and prints seconds per
permutation and the ratio. Cost per permutation is constant, so a few permutations give the ratio.

Timings are wall-clock on whatever else the machine is doing: on a shared CPU, read the ratio, not the
seconds.

Usage: python benchmarks/bench_asd_permutation.py [--permutations 10] [--subjects 190] [--rf-trees 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold, permutation_test_score

from lsa.mri import classify as C


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--permutations", type=int, default=10)
    ap.add_argument("--subjects", type=int, default=190)
    ap.add_argument("--rf-trees", type=int, default=100)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(args.subjects, 92)), np.arange(args.subjects) % 2
    n = args.permutations
    print(f"{args.subjects} subjects x 92 features, 5 folds, {n} permutations (seconds per permutation)")
    for m in C.MODELS:
        t0 = time.perf_counter()
        permutation_test_score(
            C.make_pipeline(m, 0, args.rf_trees),
            X,
            y,
            cv=StratifiedKFold(5, shuffle=True, random_state=0),
            n_permutations=n,
            random_state=0,
            scoring="accuracy",
        )
        t_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        C.permutation_null(X, y, m, n_permutations=n, n_splits=5, seed=0, rf_trees=args.rf_trees)
        t_new = time.perf_counter() - t0
        print(f"{m:4s}  sklearn {t_old / n:6.3f}   reused preprocessing {t_new / n:6.3f}   ratio {t_old / t_new:5.2f}")


if __name__ == "__main__":
    main()
