"""Archived runs: results of profiles the CI machine cannot afford (``paper``, on a GPU), kept in the repo.

A run folder (``runs/<chapter>/<key>/``) made anywhere — typically on a GPU machine at the ``paper`` profile
— is copied by ``lsa archive RUN_DIR`` into ``results/<profile>/<chapter>/``: the executed notebook,
``params.json``, ``metrics.json``, ``run.json`` (with its provenance: device, torch, commit) and the
figures. ``lsa book`` re-evaluates the chapter's *current* claims against each archived ``metrics.json``
and renders ``book/archived-runs.md``; nothing on that page is typed by hand, and an archived result is
never mixed into the reproduction-status page of the runs the book executed itself.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lsa.runner import REPO_ROOT
from lsa.runner.chapters import load_chapter
from lsa.runner.claims import ClaimResult, evaluate_chapter
from lsa.runner.status_page import claims_detail

ARCHIVE_DIR = "results"
PAGE = "book/archived-runs.md"
REQUIRED = ("run.json", "params.json", "metrics.json")


class ArchiveError(ValueError):
    """A run folder that cannot be archived (missing files, unknown chapter, malformed JSON)."""


def results_dir(root: Path = REPO_ROOT) -> Path:
    """Folder of archived runs: ``results/`` (or ``$LSA_RESULTS_DIR``, which the runner's tests use)."""
    return Path(os.environ.get("LSA_RESULTS_DIR", Path(root) / ARCHIVE_DIR))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ArchiveError(f"{path}: cannot read JSON ({err})") from err


def archive_run(run_dir: Path, root: Path = REPO_ROOT, extra: dict | None = None) -> Path:
    """Copy a finished run folder into ``results/<profile>/<chapter>/``, replacing an older archive atomically.

    Parameters
    ----------
    run_dir : Path
        A folder written by ``lsa run`` (``run.json``, ``params.json``, ``metrics.json``, the notebook,
        ``figures/``).
    root : Path
        Repository root.
    extra : dict, optional
        Provenance the run folder lacks (e.g. the device of a run made before ``run.json`` recorded it),
        stored under ``run.json["provenance_added"]`` so that it is never confused with what the runner wrote.

    Returns
    -------
    Path
        The archive folder.

    Raises
    ------
    ArchiveError
        Before copying anything, when a required file is missing or malformed or the chapter is unknown.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArchiveError(f"{run_dir}: not a run folder (expected runs/<chapter>/<key>/)")
    missing = [f for f in REQUIRED if not (run_dir / f).is_file()]
    if missing:
        raise ArchiveError(f"{run_dir}: missing {', '.join(missing)} (a finished `lsa run` folder has them)")
    run = _read_json(run_dir / "run.json")
    _read_json(run_dir / "metrics.json")
    chapter, profile = run.get("chapter"), run.get("profile")
    if not chapter or not profile:
        raise ArchiveError(f"{run_dir / 'run.json'}: needs 'chapter' and 'profile'")
    load_chapter(chapter, root)  # unknown chapter -> ChapterNotFound
    notebook = run_dir / f"{chapter}.ipynb"
    if not notebook.is_file():
        raise ArchiveError(f"{run_dir}: missing the executed notebook {notebook.name}")
    dest = results_dir(root) / profile / chapter
    tmp = dest.with_name(f".{chapter}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (*REQUIRED, notebook.name):
        shutil.copy2(run_dir / name, tmp / name)
    if (run_dir / "figures").is_dir():
        shutil.copytree(run_dir / "figures", tmp / "figures")
    if extra:
        run["provenance_added"] = dict(extra)
    run["archived"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (tmp / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    old = dest.with_name(f".{chapter}.old")
    if dest.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


@dataclass
class ArchivedRun:
    """One archived run with its claims re-evaluated under the current ledger."""

    path: Path
    run: dict
    params: dict
    claims: list[ClaimResult]


def figure_blocks(run: Path, rel: str, caption: str) -> list[str]:
    """MyST figure blocks, full width, of every PNG in ``run/figures`` (sorted), linked through ``rel`` (the run
    folder as the page sees it), each captioned with its name and ``caption``."""
    lines = []
    for fig in sorted((Path(run) / "figures").glob("*.png")):
        name = fig.stem.replace("_", " ")
        lines += [f"```{{figure}} {rel}/figures/{fig.name}", ":width: 100%", "", f"{name} {caption}", "```", ""]
    return lines


def archived_runs(root: Path = REPO_ROOT) -> list[ArchivedRun]:
    """Every ``results/<profile>/<chapter>/`` folder, claims evaluated now from its ``metrics.json``.

    The chapter's *current* ledger is used. A claim whose metrics the archived run did not record (the run
    predates them) is reported ``not measured``, never passed; see :func:`lsa.runner.claims.evaluate`. The
    archived-runs page, the chapter pages' "At paper scale" sections and ``lsa claims --archived`` read it.
    """
    out = []
    base = results_dir(root)
    for run_json in sorted(base.glob("*/*/run.json")):
        folder = run_json.parent
        run = _read_json(run_json)
        chapter = load_chapter(run["chapter"], root)
        metrics = _read_json(folder / "metrics.json")
        claims = evaluate_chapter(chapter, metrics, run["profile"], run["key"], archived=True)
        out.append(ArchivedRun(folder, run, _read_json(folder / "params.json"), claims))
    return out


def render_archive_page(runs: list[ArchivedRun], root: Path = REPO_ROOT) -> str:
    """Markdown of ``book/archived-runs.md``: per archived run, provenance, parameters, claims and figures."""

    lines = [
        "# Archived runs (paper profile)",
        "",
        "Runs at profiles the CI machine cannot afford (2 CPU cores, no GPU) were made elsewhere — "
        "typically on a GPU at the `paper` profile — and archived with `lsa archive RUN_DIR` into "
        "`results/<profile>/<chapter>/`. `lsa book` does **not** rerun them: it re-evaluates each "
        "chapter's current claims against the archived `metrics.json` and shows them below, apart from "
        "the [reproduction status](reproduction-status.md) of the runs this build executed. "
        "Rerun one yourself with `lsa run CHAPTER --profile paper` (see [rerun](rerun.md)).",
        "",
        "A claim added to a chapter after its run was archived, whose metric the run did not record, is marked "
        "*not measured*: the archived run says nothing about it, and it is never counted as a pass.",
        "",
    ]
    if not runs:
        return "\n".join(lines + ["No run is archived yet.", ""])
    for a in runs:
        r, prov = a.run, {**a.run.get("provenance", {}), **a.run.get("provenance_added", {})}
        rel = os.path.relpath(a.path, Path(root) / "book")
        lines += [
            f"## {r['chapter']} — profile `{r['profile']}`",
            "",
            f"- Run `{r['key']}`, finished {r.get('finished', '?')}, {r.get('seconds', '?')} s of execution.",
            f"- Device: {prov.get('device', 'not recorded')}; torch {prov.get('torch', '?')}; Python "
            f"{prov.get('python', r.get('python', '?'))}; lsa commit `{prov.get('commit', 'not recorded')}`"
            + (" (with uncommitted changes)" if prov.get("dirty") else "")
            + ".",
            "- Parameters: " + ", ".join(f"`{k}={v}`" for k, v in sorted(a.params.items())) + ".",
            f"- Executed notebook: {{download}}`{r['chapter']}.ipynb <{rel}/{r['chapter']}.ipynb>`.",
            "",
        ]
        if "provenance_added" in r:
            lines += [
                "Provenance marked as added was recorded from the machine's log when the run was archived "
                "(the runner of that commit did not yet write it into `run.json`).",
                "",
            ]
        evidence = [c for c in a.claims if c.kind != "identity"]
        identities = [c for c in a.claims if c.kind == "identity"]
        lines += ["Claims (guarantees and findings), evaluated now with the current ledger:", ""]
        lines += claims_detail(evidence) + [""]
        if identities:
            lines += ["Consistency checks (identities; never evidence for a paper):", ""]
            lines += claims_detail(identities) + [""]
        lines += figure_blocks(a.path, rel, f"({r['chapter']}, profile {r['profile']}, run `{r['key']}`)")
    return "\n".join(lines) + "\n"


def write_archive_page(root: Path = REPO_ROOT) -> tuple[Path, list[ArchivedRun]]:
    """Evaluate the archived runs and write ``book/archived-runs.md`` (called by ``lsa book``)."""
    runs = archived_runs(root)
    path = Path(root) / PAGE
    path.write_text(render_archive_page(runs, root))
    return path, runs
