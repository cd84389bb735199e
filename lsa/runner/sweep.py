"""``lsa sweep``: a chapter over a parameter grid and seeds, on the engine, into one tidy table.

``lsa sweep CHAPTER -p NAME=[v1,v2,…] … [--seeds N] [--profile P] [-j N] [--metric M …]``

1. The grid is the Cartesian product of the listed values (a ``-p`` with a single value fixes that parameter);
   ``--seeds N`` adds ``seed = 0, …, N-1`` as the innermost axis. Every value is type-checked against the
   chapter's parameters cell before anything runs.
2. Every grid point is a :class:`~lsa.runner.job.Job`: a point whose run key already exists is reused, the
   rest execute concurrently on the engine (``-j``, ``--scheduler``, ``--cluster slurm``). Sweep runs do not move
   the chapter's ``latest-<profile>`` pointer, so the book keeps showing the chapter's own run.
3. ``runs/sweeps/<chapter>-<profile>-<digest>/`` receives ``table.csv`` and ``table.parquet`` (one row per run:
   the swept parameters, the seed, the run key, ``ok``/``failed`` and the error, every scalar metric, and one
   ``claim:<id>`` column per claim of the ledger with its status), ``sweep.json`` (the grid) and, per requested
   metric, ``figures/<metric>.png``: the metric against the first swept parameter, one line per combination of
   the others, the mean over seeds with a 95 % Student-t interval and the number of seeds in the legend.

A failed grid point stays in the table (status ``failed``, metrics empty) and is counted in ``n_failed``; it
never stops the others.
"""

from __future__ import annotations

import ast
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from lsa.digests import stable_hash
from lsa.runner import runs_dir
from lsa.runner.chapters import load_chapter
from lsa.runner.engine import Job, JobOutcome, plan, run_jobs
from lsa.runner.params import Param, ParameterError, check_value, parse_override
from lsa.stats import mean_ci


def _values(param: Param, raw: str) -> list:
    """The values of ``-p NAME=RAW``: a bracketed list sweeps, anything else is one value."""
    raw = raw.strip()
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        try:
            parsed = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            parsed = None
    scalar = not param.type.startswith("list[")
    if isinstance(parsed, tuple) and scalar:  # a bare comma-separated list: 0.1,0.2
        parsed = list(parsed)
    if isinstance(parsed, list) and (scalar or all(isinstance(v, list) for v in parsed)):
        if not parsed:
            raise ParameterError(f"-p {param.name}=[]: give at least one value")
        return [check_value(param, v) for v in parsed]
    if scalar and raw.startswith("[") and parsed is None:
        inner = [v.strip() for v in raw.strip("[]").split(",") if v.strip()]
        return [parse_override(param, v) for v in inner]
    return [parse_override(param, raw)]


def parse_grid(chapter_name: str, items: dict[str, str]) -> dict[str, list]:
    """``{name: raw}`` from ``-p`` → ``{name: [typed values]}``, checked against the chapter's parameters.

    Raises
    ------
    ParameterError
        Unknown parameter (lists the valid ones), a value of the wrong type, ``profile`` or ``seed`` given with
        ``--seeds``.
    """
    chapter = load_chapter(chapter_name)
    by_name = {p.name: p for p in chapter.params}
    unknown = [n for n in items if n not in by_name]
    if unknown:
        valid = ", ".join(f"{p.name} ({p.type})" for p in chapter.params if p.name != "profile")
        raise ParameterError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; valid parameters: {valid}")
    if "profile" in items:
        raise ParameterError("set the profile with --profile, not -p profile=...")
    return {name: _values(by_name[name], raw) for name, raw in items.items()}


def expand(grid: dict[str, list], seeds: int | None = None) -> list[dict]:
    """Every grid point as an override dict; ``seeds`` adds ``seed = 0..seeds-1`` as the innermost axis."""
    if seeds is not None:
        if seeds < 1:
            raise ParameterError(f"--seeds must be at least 1, got {seeds}")
        if "seed" in grid:
            raise ParameterError("give either --seeds N or -p seed=[...], not both")
        grid = {**grid, "seed": list(range(seeds))}
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def seed_interval(values, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and Student-t ``confidence`` interval over seeds (the seed is the resampling unit).

    Returns ``(mean, low, high, n)`` over the finite values; with one value the interval is ``(mean, mean)``
    widened to nothing (n says so); with none, all NaN and ``n = 0``. See :func:`lsa.stats.mean_ci`.
    """
    return mean_ci(values, confidence, method="t")


@dataclass
class SweepResult:
    """Where the sweep's table and figures are, and the outcome of every grid point."""

    folder: Path
    table: object  # pandas.DataFrame
    outcomes: list[JobOutcome]
    figures: list[Path]

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if not o.ok]


def _scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def sweep_table(points: list[dict], outcomes: list[JobOutcome], swept: list[str]):
    """One row per run: swept parameters, seed, key, status, error, scalar metrics, claim statuses."""
    import pandas as pd

    rows = []
    for point, o in zip(points, outcomes):
        row = {name: (json.dumps(point[name]) if isinstance(point[name], list) else point[name]) for name in swept}
        row.update({"key": o.key, "status": "ok" if o.ok else "failed", "error": o.error or ""})
        if o.ok and o.path:
            metrics = json.loads((Path(o.path) / "metrics.json").read_text())
            row.update({f"metric:{k}": v for k, v in metrics.items() if _scalar(v)})
            row.update({f"claim:{c['id']}": c["status"] for c in o.claims})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_metric(table, metric: str, swept: list[str], path: Path, title: str = "") -> Path:
    """``metric`` against the first swept parameter: mean over seeds with a 95 % t-interval, n in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lsa.plotting import figsize, label, use_book_style

    use_book_style()
    col = f"metric:{metric}"
    if col not in table:
        raise ParameterError(f"--metric {metric!r}: no scalar metric of that name in the runs' metrics.json")
    axes = [s for s in swept if s != "seed"]
    x_name = axes[0] if axes else "seed"
    groups = axes[1:]
    fig, ax = plt.subplots(figsize=figsize("column", 0.62))
    ok = table[table["status"] == "ok"]
    for gkey, sub in ok.groupby(groups, sort=True) if groups else [((), ok)]:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        xs, means, los, his, ns = [], [], [], [], []
        for x, at_x in sub.groupby(x_name, sort=True):
            m, lo, hi, n = seed_interval(at_x[col].astype(float).tolist())
            xs.append(x), means.append(m), los.append(lo), his.append(hi), ns.append(n)
        failed = int(((table[x_name].isin(xs)) & (table["status"] != "ok")).sum())
        name = ", ".join(f"{g}={v}" for g, v in zip(groups, gkey)) or metric
        n_text = f"n={min(ns)}" if min(ns) == max(ns) else f"n={min(ns)}–{max(ns)}"
        (line,) = ax.plot(
            xs, means, marker="o", label=f"{name} ({n_text} seeds{f', {failed} failed' if failed else ''})"
        )
        ax.fill_between(xs, los, his, alpha=0.25, color=line.get_color(), linewidth=0)
    if (
        all(isinstance(x, (int, float)) for x in ok[x_name])
        and ok[x_name].min() > 0
        and ok[x_name].max() / ok[x_name].min() >= 20
    ):
        ax.set_xscale("log")
    ax.set_xlabel(label(x_name))
    ax.set_ylabel(label(metric))
    ax.set_title(title or f"{metric}: mean over seeds, 95 % t-interval", fontsize="medium")
    ax.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def run_sweep(
    chapter: str,
    grid_items: dict[str, str],
    seeds: int | None = None,
    profile: str = "default",
    metrics: list[str] | None = None,
    force: bool = False,
    engine: dict | None = None,
    log=print,
) -> SweepResult:
    """Expand, run (reusing existing keys) and tabulate a sweep. See the module docstring.

    Raises
    ------
    ParameterError
        A bad grid, before anything runs.
    """
    grid = parse_grid(chapter, grid_items)
    points = expand(grid, seeds)
    swept = list(points[0]) if points else []
    jobs = [Job.make(chapter, profile, p, force=force, update_latest=False) for p in points]
    log(f"[lsa] sweep {chapter} at {profile!r}: {len(points)} run(s) over {', '.join(swept) or 'no parameter'}")
    keys = [p.key for p in plan(jobs, dedupe=False)]  # validates the whole grid before anything runs
    by_key = {o.key: o for o in run_jobs(jobs, **(engine or {}), log=log, raise_on_failure=False)}
    outcomes = [by_key[k] for k in keys]  # two points with one key (a value equal to the default) share a run
    spec = {"chapter": chapter, "profile": profile, "grid": grid, "seeds": seeds}
    folder = runs_dir() / "sweeps" / f"{chapter}-{profile}-{stable_hash(spec, 10)}"
    folder.mkdir(parents=True, exist_ok=True)
    table = sweep_table(points, outcomes, swept)
    table.to_csv(folder / "table.csv", index=False)
    table.to_parquet(folder / "table.parquet", index=False)
    (folder / "sweep.json").write_text(json.dumps({**spec, "runs": len(points)}, indent=2, default=str))
    figures = [plot_metric(table, m, swept, folder / "figures" / f"{m}.png") for m in metrics or []]
    n_failed = int((table["status"] != "ok").sum())
    log(f"[lsa] sweep table: {folder / 'table.csv'} ({len(table)} rows, {n_failed} failed)")
    return SweepResult(folder, table, outcomes, figures)
