"""Findings over seeds: a finding that one seed should not decide, evaluated on ``N`` seeds.

A ledger entry of kind ``finding`` may say ``over_seeds: N`` (N ≥ 2). ``lsa book`` then also executes the chapter
at the book's profile with ``seed = 0, …, N-1`` (other parameters as the profile sets them; runs whose key exists
are reused, the seed equal to the profile's is the book run itself), and the status page shows, per such finding:

* in how many of the seeds it holds (``k of n``), with the seeds whose run failed or whose check could not be
  evaluated listed, never dropped;
* the mean over the seeds of the first measured metric, or of the entry's ``seed_value`` expression when that
  metric is a list (e.g. ``seed_value: min(adamw_slope_rel_dev)``), with a 95 % Student-t interval (the seed is the
  resampling unit; :func:`lsa.runner.sweep.seed_interval`), and ``n`` always printed.

Seed runs do not move the chapter's ``latest-<profile>`` pointer: the chapter page shows the profile's own run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from lsa.runner import runs_dir
from lsa.runner.chapters import ChapterNotFound, load_chapter
from lsa.runner.claims import Claim, evaluate, expression_value, load_claims
from lsa.runner.engine import Job, plan


@dataclass
class SeedSummary:
    """One finding over seeds: statuses per seed and the interval of its first measured metric."""

    chapter: str
    claim: Claim
    profile: str
    statuses: dict[int, str] = field(default_factory=dict)  # seed -> pass / fail / error / run failed / not run
    values: dict[int, float] = field(default_factory=dict)  # seed -> first measured metric (scalar runs only)

    @property
    def n(self) -> int:
        return len(self.statuses)

    @property
    def holds(self) -> int:
        return sum(s == "pass" for s in self.statuses.values())

    @property
    def evaluated(self) -> int:
        return sum(s in ("pass", "fail") for s in self.statuses.values())

    @property
    def metric(self) -> str:
        """What is summarised over seeds: the claim's ``seed_value`` expression or its first measured metric."""
        return self.claim.seed_expression

    def interval(self) -> tuple[float, float, float, int]:
        from lsa.runner.sweep import seed_interval

        return seed_interval(list(self.values.values()))


def seed_claims(chapter: str, profile: str) -> list[Claim]:
    """The chapter's findings declared ``over_seeds`` that apply at ``profile`` (none for an unknown chapter)."""
    try:
        ch = load_chapter(chapter)
    except ChapterNotFound:
        return []
    return [c for c in load_claims(ch.claims_path, ch.name) if c.over_seeds and profile in c.profiles]


def seed_jobs(chapter: str, profile: str) -> list[Job]:
    """The runs the chapter's over-seeds findings need at ``profile`` (seeds ``0..max(N)-1``)."""
    n = max((c.over_seeds for c in seed_claims(chapter, profile)), default=0)
    return [Job.make(chapter, profile, {"seed": s}, update_latest=False) for s in range(n)]


def seed_summaries(chapter: str, profile: str) -> list[SeedSummary]:
    """Evaluate the chapter's over-seeds findings on the seed runs that exist (nothing executes here)."""
    claims = seed_claims(chapter, profile)
    if not claims:
        return []
    jobs = seed_jobs(chapter, profile)
    keys = [p.key for p in plan(jobs, dedupe=False)]
    out = []
    for claim in claims:
        s = SeedSummary(chapter, claim, profile)
        for seed, key in list(enumerate(keys))[: claim.over_seeds]:
            run = runs_dir() / chapter / key
            if (run / "metrics.json").is_file():
                metrics = json.loads((run / "metrics.json").read_text())
                s.statuses[seed] = evaluate(claim, metrics, profile, key).status
                v = expression_value(s.metric, metrics)
                if v is not None:
                    s.values[seed] = v
            elif (runs_dir() / chapter / f"failed-{key}").is_dir():
                s.statuses[seed] = "run failed"
            else:
                s.statuses[seed] = "not run"
        out.append(s)
    return out


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "–"


def seed_findings_section(chapters: list[str], profile: str) -> list[str]:
    """Markdown lines of the status page's "Findings over seeds" section (empty when no ledger declares one)."""
    rows = [s for ch in dict.fromkeys(chapters) for s in seed_summaries(ch, profile)]
    if not rows:
        return []
    lines = [
        "## Findings over seeds",
        "",
        "These findings are evaluated on several seeds instead of one: *holds in* counts the seeds where the check "
        "passes, out of all seeds asked for (n); the measured value is the mean over the seeds of the quantity "
        "named in its cell (the first measured metric, or a summary such as its minimum over layers), with a "
        "95 % Student-t interval (the seed is the resampling unit). Seeds whose run failed or was not run are "
        "listed and never counted as holding.",
        "",
        "| chapter | claim | statement | holds in | measured: mean [95 % interval] (n) | seeds not holding |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in rows:
        m, lo, hi, n = s.interval()
        others = ", ".join(f"{seed}: {st}" for seed, st in s.statuses.items() if st != "pass") or "none"
        statement = s.claim.statement.replace("|", "\\|")
        lines.append(
            f"| {s.chapter} | {s.claim.id} | {statement} | {s.holds} of {s.n} | "
            f"{s.metric} = {_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}] (n = {n}) | {others} |"
        )
    return [*lines, ""]
