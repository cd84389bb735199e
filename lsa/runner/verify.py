"""``lsa verify RUN``: re-execute a recorded run with its recorded parameters and compare every metric.

A reader who doubts a number reruns it. :func:`verify_run` reads a run folder (``runs/<chapter>/<key>`` or an
archived ``results/<profile>/<chapter>``), executes the chapter again at the recorded profile with the recorded
parameters in a scratch folder (its own runs folder and, unless asked otherwise, its own empty library cache, so
that trained models are trained again), and compares the two ``metrics.json`` leaf by leaf:

* integers, strings, booleans and ``null``: exactly;
* floats: ``|a - b| <= rtol * max(|a|, |b|)`` (default :data:`DEFAULT_RTOL`) or ``|a - b| <= atol`` (default 0;
  NaN equals NaN, infinities must match exactly). ``atol`` is for metrics that are themselves round-off, such as
  a reconstruction error of 4e-16 whose rerun gives 7e-16: relative to itself it moved by 40 %, in absolute
  terms both are zero to double precision;
* lists and dicts: element by element (a changed length or key set is a difference).

Wall-clock measurements (names matching :data:`WALL_CLOCK`, plus ``--ignore`` patterns) cannot repeat and are
listed as not compared. The run being verified is only read, never written.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

DEFAULT_RTOL = 1e-9
"""Default relative tolerance for floats: tight enough that only floating-point reassociation passes."""

WALL_CLOCK = ("*_s", "*_seconds", "*seconds*", "*_s_per_*", "time_*", "*_time", "wall*")
"""Metric-name patterns of wall-clock measurements, which no rerun reproduces (compared only with ``--ignore``
cleared by the caller)."""

RENAMED = {"torch_threads": "cpu_threads"}
"""Parameters recorded under an older name, mapped to their current name when a run is re-executed."""

REQUIRED = ("run.json", "params.json", "metrics.json")


class VerifyError(ValueError):
    """The folder is not a run that can be verified (the message says what is missing and what was expected)."""


@dataclass(frozen=True)
class MetricComparison:
    """One compared leaf: its path (``name``, ``name[0]``, ``name.key``), both values and the outcome."""

    name: str
    recorded: Any
    rerun: Any
    status: str  # "equal", "within" (floats within rtol, not bit-equal), "moved", "missing", "new", "ignored"
    rel: float | None = None

    @property
    def differs(self) -> bool:
        return self.status in ("moved", "missing", "new")


@dataclass
class VerifyResult:
    """The outcome of :func:`verify_run`."""

    chapter: str
    profile: str
    run: Path
    rtol: float
    comparisons: list[MetricComparison]
    seconds: float
    notes: list[str] = field(default_factory=list)
    atol: float = 0.0

    @property
    def differences(self) -> list[MetricComparison]:
        return [c for c in self.comparisons if c.differs]

    @property
    def ok(self) -> bool:
        return not self.differences


def _leaves(value: Any, name: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = [] if value else [(name, value)]
        for k in sorted(value):
            out += _leaves(value[k], f"{name}.{k}")
        return out
    if isinstance(value, list):
        out = [] if value else [(name, value)]
        for i, v in enumerate(value):
            out += _leaves(v, f"{name}[{i}]")
        return out
    return [(name, value)]


def _compare_leaf(name: str, a: Any, b: Any, rtol: float, atol: float = 0.0) -> MetricComparison:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        same = type(a) is type(b) and a == b
        return MetricComparison(name, a, b, "equal" if same else "moved")
    if isinstance(a, int) and isinstance(b, int):
        return MetricComparison(name, a, b, "equal" if a == b else "moved", None if a == b else _rel(a, b))
    fa, fb = float(a), float(b)
    if (math.isnan(fa) and math.isnan(fb)) or fa == fb:
        return MetricComparison(name, a, b, "equal", 0.0)
    if math.isnan(fa) or math.isnan(fb) or math.isinf(fa) or math.isinf(fb):
        return MetricComparison(name, a, b, "moved")
    rel = _rel(fa, fb)
    return MetricComparison(name, a, b, "within" if rel <= rtol or abs(fa - fb) <= atol else "moved", rel)


def _rel(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


def _check_tolerances(rtol: float, atol: float) -> None:
    for what, tol in (("rtol", rtol), ("atol", atol)):
        if not (tol >= 0 and math.isfinite(tol)):
            raise VerifyError(f"{what} must be a finite number >= 0, got {tol!r}")


def compare_metrics(
    recorded: dict,
    rerun: dict,
    rtol: float = DEFAULT_RTOL,
    ignore: tuple[str, ...] = WALL_CLOCK,
    atol: float = 0.0,
) -> list[MetricComparison]:
    """Compare two ``metrics.json`` dicts leaf by leaf (see the module docstring for the rules).

    Parameters
    ----------
    recorded, rerun : dict
        The recorded metrics and those of the re-execution.
    rtol : float
        Relative tolerance for floats (``>= 0``).
    ignore : tuple of str
        ``fnmatch`` patterns of top-level metric names not compared (reported with status ``"ignored"``).
    atol : float
        Absolute tolerance for floats (``>= 0``); a float agrees when it is within ``rtol`` or ``atol``.
    """
    _check_tolerances(rtol, atol)
    out = []
    for name in sorted(set(recorded) | set(rerun)):
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in ignore):
            out.append(MetricComparison(name, recorded.get(name), rerun.get(name), "ignored"))
        elif name not in rerun:
            out.append(MetricComparison(name, recorded[name], None, "missing"))
        elif name not in recorded:
            out.append(MetricComparison(name, None, rerun[name], "new"))
        else:
            a, b = dict(_leaves(recorded[name], name)), dict(_leaves(rerun[name], name))
            for leaf in sorted(set(a) | set(b), key=lambda s: (len(s), s)):
                if leaf not in b:
                    out.append(MetricComparison(leaf, a[leaf], None, "missing"))
                elif leaf not in a:
                    out.append(MetricComparison(leaf, None, b[leaf], "new"))
                else:
                    out.append(_compare_leaf(leaf, a[leaf], b[leaf], rtol, atol))
    return out


def read_run(path: Path) -> tuple[dict, dict, dict]:
    """``(run.json, params.json, metrics.json)`` of a run folder, or :class:`VerifyError`."""
    path = Path(path)
    if not path.is_dir():
        raise VerifyError(f"{path} is not a folder; expected runs/<chapter>/<key> or results/<profile>/<chapter>")
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        raise VerifyError(
            f"{path} is not a complete run: missing {', '.join(missing)} (a run folder holds {', '.join(REQUIRED)})"
        )
    try:
        run, params, metrics = (json.loads((path / f).read_text()) for f in REQUIRED)
    except json.JSONDecodeError as exc:
        raise VerifyError(f"{path}: unreadable JSON ({exc})") from None
    for key in ("chapter", "profile"):
        if key not in run:
            raise VerifyError(f"{path / 'run.json'} has no {key!r}")
    return run, params, metrics


def verify_run(
    path: Path,
    rtol: float = DEFAULT_RTOL,
    ignore: tuple[str, ...] = WALL_CLOCK,
    reuse_cache: bool = False,
    progress: bool = False,
    log=print,
    keep: Path | None = None,
    atol: float = 0.0,
) -> VerifyResult:
    """Re-execute the run in ``path`` with its recorded profile and parameters and compare every metric.

    Parameters
    ----------
    path : Path
        ``runs/<chapter>/<key>`` or ``results/<profile>/<chapter>``; only read.
    rtol : float
        Relative tolerance for floats.
    ignore : tuple of str
        Metric-name patterns not compared (default: wall-clock measurements).
    reuse_cache : bool
        Use the library cache (``lsa.cache``) as it is, instead of an empty scratch cache: faster, but cached
        models and features are then reused rather than recomputed.
    keep : Path, optional
        Keep the scratch folder here (default: a temporary folder, deleted afterwards).
    atol : float
        Absolute tolerance for floats (default 0: only ``rtol`` counts).

    Raises
    ------
    VerifyError
        ``path`` is not a complete run. Chapter and parameter errors propagate (exit status 2 in the CLI).
    """
    import time

    from lsa.runner.chapters import load_chapter
    from lsa.runner.execute import run_chapter
    from lsa.runner.keys import explain_change, key_inputs
    from lsa.runner.params import resolve

    _check_tolerances(rtol, atol)  # before minutes of re-execution, not after
    path = Path(path).resolve()
    run, params, recorded = read_run(path)
    chapter, profile = run["chapter"], run["profile"]
    notes = []
    overrides = {}
    for name, value in params.items():
        if name == "profile":
            continue
        if name in RENAMED:
            notes.append(f"parameter {name!r} is now called {RENAMED[name]!r}")
            name = RENAMED[name]
        overrides[name] = value
    ch = load_chapter(chapter)
    now = key_inputs(ch.path, resolve(ch.params, ch.profiles, profile, overrides))
    reasons = explain_change(run.get("key_inputs"), now) if run.get("key") != now.key() else []
    if reasons:
        notes.append("the rerun differs in its inputs from the recorded run: " + "; ".join(reasons))
    scratch = Path(keep) if keep is not None else Path(tempfile.mkdtemp(prefix=f"lsa-verify-{chapter}-"))
    scratch.mkdir(parents=True, exist_ok=True)
    env = {"LSA_RUNS_DIR": str(scratch / "runs")}
    if not reuse_cache:
        env["LSA_CACHE_DIR"] = str(scratch / "cache")
    t0 = time.perf_counter()
    try:
        with mock.patch.dict(os.environ, env):  # the scratch runs folder and cache, restored afterwards
            result = run_chapter(
                chapter, profile, overrides, force=True, progress=progress, log=log, update_latest=False
            )
        rerun = json.loads((result.path / "metrics.json").read_text())
    finally:
        if keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    comparisons = compare_metrics(recorded, rerun, rtol, tuple(ignore), atol)
    return VerifyResult(chapter, profile, path, rtol, comparisons, time.perf_counter() - t0, notes, atol)


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    text = repr(v) if isinstance(v, float) else json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "..."


def render(result: VerifyResult, show_all: bool = False) -> str:
    """A plain-text report: one summary line, then the table of what moved (or of every leaf)."""
    counts = {s: 0 for s in ("equal", "within", "moved", "missing", "new", "ignored")}
    for c in result.comparisons:
        counts[c.status] += 1
    tolerance = f"rtol {result.rtol:g}" + (f" or atol {result.atol:g}" if result.atol else "")
    lines = [
        f"{result.chapter} ({result.profile}) re-executed in {result.seconds:.1f} s and compared with {result.run}:",
        f"  {len(result.comparisons)} values: {counts['equal']} equal, {counts['within']} within {tolerance}, "
        f"{counts['moved']} moved, {counts['missing']} missing, {counts['new']} new; "
        f"{counts['ignored']} not compared (wall clock)",
    ]
    lines += [f"  note: {n}" for n in result.notes]
    rows = [c for c in result.comparisons if show_all or c.differs]
    if rows:
        table = [("metric", "recorded", "rerun", "rel. diff", "status")]
        table += [
            (c.name, _fmt(c.recorded), _fmt(c.rerun), "" if c.rel is None else f"{c.rel:.2e}", c.status) for c in rows
        ]
        widths = [max(len(r[i]) for r in table) for i in range(5)]
        lines += ["  " + "  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in table]
    lines.append("verified: every compared metric agrees" if result.ok else "NOT verified: metrics moved")
    return "\n".join(lines)
