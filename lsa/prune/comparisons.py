"""Metric names and method-vs-method comparisons of a pruning grid, for a chapter's ``metrics.json``.

A grid result is a mapping ``(method, pattern) -> value`` (perplexity, accuracy, cosine ...). The ledger
refers to its cells by flat names such as ``ppl_cvr_ec_50pct`` or ``ratio_cvr_ec_over_wanda_2_4``; this module
is the one place that spells those names, so that a chapter never builds them by string manipulation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from lsa.prune.masks import parse_pattern


def pattern_key(pattern: str) -> str:
    """The metric-name form of a sparsity pattern: ``"50%"`` → ``"50pct"``, ``"2:4"`` → ``"2_4"``.

    Parameters
    ----------
    pattern : str
        A pattern accepted by :func:`lsa.prune.masks.parse_pattern` (``"50%"``, ``"0.5"``, ``"2:4"``).
    """
    label = parse_pattern(pattern).label
    return label.replace("%", "pct").replace(":", "_")


def method_key(method: str) -> str:
    """The metric-name form of a method label: ``"cvr+ec"`` → ``"cvr_ec"``."""
    if not method or not all(c.isalnum() or c in "+_" for c in method):
        raise ValueError(f"method label must be letters, digits, '+' or '_', got {method!r}")
    return method.replace("+", "_")


def metric_name(stem: str, method: str, pattern: str) -> str:
    """``{stem}_{method}_{pattern}`` in metric-name form, e.g. ``metric_name("ppl", "cvr+ec", "50%")`` →
    ``"ppl_cvr_ec_50pct"``."""
    return f"{stem}_{method_key(method)}_{pattern_key(pattern)}"


def cell_metrics(values: Mapping[tuple[str, str], float], stem: str) -> dict:
    """One metric per grid cell: ``{metric_name(stem, method, pattern): value}``."""
    return {metric_name(stem, m, p): float(v) for (m, p), v in values.items()}


def comparison_metrics(
    values: Mapping[tuple[str, str], float],
    patterns: Iterable[str],
    subject: str = "cvr+ec",
    references: Iterable[str] = ("wanda", "ria", "sparsegpt", "cvr"),
    worst: str = "magnitude",
) -> dict:
    """Ratios of ``subject`` to each reference and whether ``worst`` is the worst method, per pattern.

    Parameters
    ----------
    values : mapping (method, pattern) -> float
        A grid of a lower-is-better quantity (perplexity).
    patterns : iterable of str
        The patterns to compare.
    subject : str
        The method whose ratios are reported (``ratio_{subject}_over_{ref}_{pattern}`` = subject / ref).
    references : iterable of str
        The denominators.
    worst : str
        The method tested for being the worst (``{worst}_worst_{pattern}``: its value ≥ every other method's
        value at that pattern).

    Returns
    -------
    dict
        Only the comparisons whose cells exist in ``values``.
    """
    out = {}
    for p in patterns:
        here = {m: v for (m, q), v in values.items() if q == p}
        others = [v for m, v in here.items() if m != worst]
        if worst in here and others:
            out[f"{method_key(worst)}_worst_{pattern_key(p)}"] = bool(here[worst] >= max(others))
        if subject in here:
            for ref in references:
                if ref in here and ref != subject:
                    ratio = here[subject] / here[ref] if here[ref] else math.inf
                    out[f"ratio_{method_key(subject)}_over_{method_key(ref)}_{pattern_key(p)}"] = float(ratio)
    return out
