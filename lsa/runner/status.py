"""``lsa status``: for each chapter and profile, is the last run up to date, stale (and why), or never run?

The answer is computed without executing anything: the chapter's current :class:`~lsa.runner.keys.KeyInputs`
(source, resolved profile parameters, data manifest, package versions, import closure) give the key a run would
have now. If a run folder with that key exists, the chapter is up to date. Otherwise the inputs recorded in the
``run.json`` of the profile's latest run are compared with the current ones, and every difference is named: the
module file, the parameter (old → new), the data file or the package version. Reruns are never unexplained.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from lsa.runner import runs_dir
from lsa.runner.chapters import load_chapter
from lsa.runner.keys import explain_change, key_inputs
from lsa.runner.params import PROFILE_NAMES, resolve

UP_TO_DATE, STALE, NEVER_RUN = "up to date", "stale", "never run"


@dataclass
class ChapterStatus:
    """The state of one chapter at one profile (``reasons`` explains a stale run, one line per change)."""

    chapter: str
    profile: str
    state: str
    key: str
    last_key: str | None = None
    reasons: list[str] = field(default_factory=list)


def _latest_key(name: str, profile: str) -> str | None:
    pointer = runs_dir() / name / f"latest-{profile}.json"
    if not pointer.is_file():
        return None
    return json.loads(pointer.read_text()).get("key")


def chapter_status(name: str, profiles: tuple[str, ...] = PROFILE_NAMES) -> list[ChapterStatus]:
    """Status of chapter ``name`` at each of ``profiles`` (profile parameters, no overrides).

    A chapter whose latest run used ``-p`` overrides shows as stale with the overridden parameters as the
    reason: the profile's own run does not exist.
    """
    chapter = load_chapter(name)
    base = None
    out = []
    for profile in profiles:
        params = resolve(chapter.params, chapter.profiles, profile, {})
        # the code closure and package versions do not depend on the profile: compute them once
        base = key_inputs(chapter.path, params) if base is None else dataclasses.replace(base, params=dict(params))
        key = base.key()
        if (runs_dir() / name / key / "metrics.json").is_file():
            out.append(ChapterStatus(name, profile, UP_TO_DATE, key, key))
            continue
        last = _latest_key(name, profile)
        if last is None:
            out.append(ChapterStatus(name, profile, NEVER_RUN, key))
            continue
        run_json = runs_dir() / name / last / "run.json"
        if not run_json.is_file():
            reasons = [f"the last run's folder runs/{name}/{last} is gone"]
        else:
            reasons = explain_change(json.loads(run_json.read_text()).get("key_inputs"), base)
        out.append(ChapterStatus(name, profile, STALE, key, last, reasons or ["the key differs"]))
    return out


def render_status(rows: list[ChapterStatus]) -> str:
    """A plain-text table: chapter, profile, state, and the reasons of a stale run (indented, one per line)."""
    w = max([len(r.chapter) for r in rows] + [7])
    lines = [f"{'chapter'.ljust(w)}  {'profile':8}  state"]
    for r in rows:
        lines.append(
            f"{r.chapter.ljust(w)}  {r.profile:8}  {r.state}" + (f" ({r.key})" if r.state == UP_TO_DATE else "")
        )
        lines += [f"{'':{w}}  {'':8}    - {reason}" for reason in r.reasons]
    return "\n".join(lines)
