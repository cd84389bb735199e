"""The paper's published numbers (abstract of arXiv 2405.16248) and what can be inferred from them.

Only the abstract could be read: SVM 89.47 % accuracy (best of four radiomics classifiers), every one of
SVM, random forest, logistic regression and KNN above 80 %, and a CNN at 86.84 %. The test-set size is not
stated; :func:`consistent_test_sizes` infers which sizes make both percentages whole counts. That
inference is ours, not the paper's, and chapters label it so.
"""

from __future__ import annotations

PAPER_ACCURACY = {"SVM": 0.8947, "CNN": 0.8684}
"""Accuracies stated in the abstract (fractions), rounded there to two decimals of a percent."""

PAPER_FLOOR = 0.80
"""The abstract's "above 80 %" for every radiomics classifier (RF, LR and KNN values are not given)."""


def consistent_test_sizes(accuracies=None, max_n: int = 200) -> list[tuple[int, dict]]:
    """Test-set sizes ``n <= max_n`` at which every stated accuracy is a whole count ``k / n``.

    A percentage stated to two decimals fits ``n`` when some ``k`` gives ``round(100 k / n, 2)`` equal to
    it. Returns ``[(n, {model: k}), ...]`` in increasing ``n``.

    >>> consistent_test_sizes()[0]
    (38, {'SVM': 34, 'CNN': 33})
    """
    accuracies = PAPER_ACCURACY if accuracies is None else accuracies
    if not accuracies or any(not 0 <= a <= 1 for a in accuracies.values()):
        raise ValueError(f"accuracies must be fractions in [0, 1], got {accuracies!r}")
    if max_n < 1:
        raise ValueError(f"max_n must be >= 1, got {max_n}")
    out = []
    for n in range(1, max_n + 1):
        ks = {}
        for model, a in accuracies.items():
            k = round(a * n)
            if round(100 * k / n, 2) == round(100 * a, 2):
                ks[model] = k
        if len(ks) == len(accuracies):
            out.append((n, ks))
    return out


def smallest_mcnemar_p(correct_a: int, correct_b: int, n: int) -> float:
    """The smallest two-sided exact McNemar p-value two classifiers with these counts on ``n`` subjects allow.

    Only the discordant subjects count: ``b`` right for A only, ``c`` right for B only, with
    ``b - c = correct_a - correct_b`` and ``c`` at most the number A gets wrong. The paper's 34 vs 33 of 38
    (our inference) allows no p-value below 1.
    """
    from scipy import stats

    if not (0 <= correct_a <= n and 0 <= correct_b <= n):
        raise ValueError(f"counts must lie in 0..n, got {correct_a}, {correct_b} of {n}")
    diff = abs(correct_a - correct_b)
    ps = []
    for c in range(0, n - max(correct_a, correct_b) + 1):
        b = c + diff
        ps.append(1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue))
    return min(ps)
