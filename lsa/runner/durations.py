"""How long each chapter took last time, so the engine can start the longest runs first.

With two workers and a dozen chapters, the order of the queue decides the wall time: a 10-minute chapter
started last keeps one core busy alone at the end. The engine therefore orders the runs it executes by their
expected wall time, longest first (the classic LPT rule of list scheduling), and keeps only as many runs in
flight as it has workers, so the next run to start is always the longest one left.

The expected time of a run is, in this order:

1. the wall seconds of the most recent finished run of the same chapter and profile in ``runs/`` (any
   parameters; seeds and sweep points of one profile take about as long as each other);
2. the wall seconds of the archived run in ``results/<profile>/<chapter>/`` (``lsa archive``), so the `paper`
   runs of a fresh clone are ordered by the archived ones;
3. the committed hint in ``notebooks/durations.json`` (what ``lsa durations --write`` recorded on the
   machine named in the file), so a fresh clone is ordered well too;
4. unknown: such runs go first, since nothing says they are short.

The order only decides *when* a run starts: it never enters a run key, and a missing or stale hint costs
time, never correctness. (The same idea as pytest-split's committed test durations.)
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from pathlib import Path

from lsa.runner import runs_dir
from lsa.runner.chapters import notebooks_dir

HINTS_NAME = "durations.json"


class DurationsError(ValueError):
    """The hints file is malformed."""


def hints_path() -> Path:
    """``notebooks/durations.json`` (the chapters' folder)."""
    return notebooks_dir() / HINTS_NAME


def recorded(runs: Path | None = None) -> dict[tuple[str, str], float]:
    """Wall seconds of the most recently finished run of each (chapter, profile) found under ``runs``."""
    runs = Path(runs) if runs is not None else runs_dir()
    latest: dict[tuple[str, str], tuple[str, float]] = {}
    for path in runs.glob("*/*/run.json"):
        try:
            rec = json.loads(path.read_text())
            what, when, seconds = (rec["chapter"], rec["profile"]), str(rec["finished"]), float(rec["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable record only loses a hint
        if what not in latest or when > latest[what][0]:
            latest[what] = (when, seconds)
    return {k: v[1] for k, v in latest.items()}


def history(runs: Path | None = None, results: Path | None = None) -> dict[tuple[str, str], float]:
    """:func:`recorded` runs under ``runs``, over the archived runs under ``results`` (``results/<profile>/<chapter>``,
    default :func:`lsa.runner.archive.results_dir`): the first two sources of the expected time."""
    if results is None:
        from lsa.runner.archive import results_dir

        results = results_dir()
    return recorded(results) | recorded(runs)


def load_hints(path: Path | None = None) -> dict[tuple[str, str], float]:
    """The committed hints ``{(chapter, profile): seconds}``; empty when the file does not exist.

    Raises
    ------
    DurationsError
        The file exists but is not ``{"seconds": {chapter: {profile: number}}, ...}``.
    """
    path = Path(path) if path is not None else hints_path()
    if not path.is_file():
        return {}
    try:
        table = json.loads(path.read_text())["seconds"]
        out = {(c, p): float(s) for c, row in table.items() for p, s in row.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DurationsError(
            f"{path}: expected {{'seconds': {{chapter: {{profile: seconds}}}}}} ({type(exc).__name__}: {exc}); "
            f"rewrite it with `lsa durations --write` or delete it"
        ) from None
    bad = [k for k, s in out.items() if not math.isfinite(s) or s < 0]
    if bad:
        raise DurationsError(f"{path}: seconds must be finite and >= 0, not for {bad}")
    return out


def write_hints(durations: dict[tuple[str, str], float], path: Path | None = None) -> Path:
    """Write ``durations`` as the hints file (merged over the hints already there)."""
    path = Path(path) if path is not None else hints_path()
    merged = load_hints(path) | dict(durations)
    table: dict = {}
    for (chapter, profile), s in sorted(merged.items()):
        table.setdefault(chapter, {})[profile] = round(float(s), 1)
    doc = {
        "about": "wall seconds of each chapter's last run, by profile; the engine starts the longest first. "
        "Written by `lsa durations --write`; only the order of runs depends on it.",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "written": _dt.date.today().isoformat(),
        "seconds": table,
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def expected(chapter: str, profile: str, history: dict, hints: dict) -> float | None:
    """Expected wall seconds of a run of ``chapter`` at ``profile`` (None when unknown)."""
    return history.get((chapter, profile), hints.get((chapter, profile)))


def longest_first(expected_seconds: list[float | None]) -> list[int]:
    """Indices in the order to start them: unknown durations first, then longest first; ties keep their order."""
    return sorted(
        range(len(expected_seconds)),
        key=lambda i: (expected_seconds[i] is not None, -(expected_seconds[i] or 0.0), i),
    )
