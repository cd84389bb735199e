"""``lsa book``: run every chapter named in ``_toc.yml`` (reusing cached runs) and render the site.

The site is built by Jupyter Book 1 (Sphinx) with notebook execution off — papermill already executed
every chapter — warnings as errors, and MathJax 3 served from the local copy shipped by the PyPI package
``django-static-mathjax`` (no CDN), so the book builds and reads offline.

Each chapter page is the run's executed notebook with generated furniture around it (nothing typed by hand):
a header card (profile, run key, commit, device, date, wall time, one badge per claim), an "At paper scale"
section when a ``paper`` run of the chapter is archived under ``results/paper/``, a "Rerun this chapter" box
(the exact ``lsa run`` command, the parameter table, downloads of the executed notebook and ``metrics.json``)
and a citation box naming the run.
"""

from __future__ import annotations

import copy
import html
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from lsa.runner import REPO_ROOT
from lsa.runner.archive import ArchivedRun, archived_runs, write_archive_page
from lsa.runner.chapters import CHAPTER_PAGE_DIR, Chapter, load_chapter, toc_chapters
from lsa.runner.claims import ClaimResult
from lsa.runner.execute import HIDDEN_TAGS, evaluate_claims, latest_run, run_chapter
from lsa.runner.outcome import outcome_box
from lsa.runner.params import PROFILE_NAMES, resolve
from lsa.runner.status_page import write_status_page
from lsa.runner.usage import write_usage_page

MATHJAX_DEST = "book/_static/mathjax"
VERDICTS_PAGE = "book/abstract-verdicts.md"
STATUS_HTML = "../reproduction-status.html"  # from a chapter page (book/chapters/<name>.html)
LONG_CELL_LINES = 15  # code cells longer than this are shown collapsed (their output stays visible)


def install_mathjax(root: Path = REPO_ROOT) -> Path:
    """Copy MathJax 3 (``es5/``) from the PyPI package ``django-static-mathjax`` into ``book/_static/mathjax``.

    The package is located without importing it (it is a Django app; only its static files are used).
    """
    spec = importlib.util.find_spec("mathjax")
    src = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5" if spec else None
    if src is None or not (src / "tex-mml-chtml.js").is_file():
        raise FileNotFoundError(
            "MathJax 3 not found: install the book extra (pip install -e '.[book]'), "
            "which provides django-static-mathjax"
        )
    dest = Path(root) / MATHJAX_DEST / "es5"
    if not (dest / "tex-mml-chtml.js").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest)
    return dest


def _write_if_changed(dest: Path, data: bytes) -> None:
    """Write unless identical, so Sphinx's incremental build skips unchanged chapters."""
    if not dest.is_file() or dest.read_bytes() != data:
        dest.write_bytes(data)


# ----------------------------------------------------------------------------------------- book metadata


def book_metadata(root: Path = REPO_ROOT) -> dict:
    """Title, version, release date and authors of the book, read from ``CITATION.cff`` (the one source)."""
    cff = yaml.safe_load((Path(root) / "CITATION.cff").read_text())
    authors = [
        a.get("name") or f"{a.get('given-names', '')} {a.get('family-names', '')}".strip() for a in cff["authors"]
    ]
    return {
        "title": cff["title"],
        "version": str(cff.get("version", "")),
        "date": str(cff.get("date-released", "")),
        "authors": authors,
        "url": cff.get("repository-code", ""),
    }


def _bibtex_authors(authors: list[str]) -> str:
    return " and ".join("{" + a + "}" if " " in a and "," not in a else a for a in authors)


def book_bibtex(root: Path = REPO_ROOT) -> str:
    """The BibTeX entry of the book, from ``CITATION.cff``."""
    m = book_metadata(root)
    return (
        "@misc{lsa_companion_book,\n"
        f"  title = {{{m['title']}}},\n"
        f"  author = {{{_bibtex_authors(m['authors'])}}},\n"
        f"  year = {{{m['date'][:4]}}},\n"
        f"  version = {{{m['version']}}},\n"
        f"  note = {{Executable Jupyter Book and Python library \\texttt{{lsa}}, version {m['version']}, "
        f"released {m['date']}}}\n"
        "}"
    )


def chapter_bibtex(chapter: Chapter, key: str, commit: str, profile: str, root: Path = REPO_ROOT) -> str:
    """The BibTeX entry of one chapter, naming the run (key, profile, commit) behind its figures."""
    m = book_metadata(root)
    return (
        f"@incollection{{lsa_companion_{chapter.name},\n"
        f"  title = {{{chapter.title}}},\n"
        f"  booktitle = {{{m['title']}}},\n"
        f"  author = {{{_bibtex_authors(m['authors'])}}},\n"
        f"  year = {{{m['date'][:4]}}},\n"
        f"  note = {{Chapter \\texttt{{{chapter.name}}}, version {m['version']}; figures from run {key} "
        f"(profile {profile}, commit {commit[:12] or 'not recorded'})}}\n"
        "}"
    )


# ----------------------------------------------------------------------------------------- page furniture


@dataclass
class ShownRun:
    """The run a chapter page shows: its folder, profile, key, parameters, ``run.json`` and claim outcomes."""

    name: str
    path: Path
    profile: str
    key: str
    params: dict
    run: dict
    claims: list[ClaimResult] = field(default_factory=list)

    @property
    def provenance(self) -> dict:
        return {**self.run.get("provenance", {}), **self.run.get("provenance_added", {})}


def _read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return default


def shown_run(chapter: Chapter, path: Path, profile: str, claims: list[ClaimResult] | None = None) -> ShownRun:
    """Collect what the page needs from a run folder (claims are evaluated now when not given)."""
    path = Path(path)
    run = _read_json(path / "run.json", {}) or {}
    params = _read_json(path / "params.json", {}) or {}
    if claims is None:
        claims = evaluate_claims(chapter, path, profile)
    return ShownRun(chapter.name, path, profile, path.name if "key" not in run else run["key"], params, run, claims)


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def claim_badge(result: ClaimResult, href: str | None = None) -> str:
    """One claim as a text badge (id, kind, status), coloured by the CSS classes ``lsa-status-<status>``."""
    status = re.sub(r"[^a-z0-9]+", "-", result.status.lower().replace("/", "")).strip("-")
    tip = f"{result.statement} — expected {result.expected}; measured {result.measured}"
    href = href or f"{STATUS_HTML}#{result.chapter.replace('_', '-')}"
    return (
        f'<a class="lsa-badge lsa-kind-{_esc(result.kind)} lsa-status-{_esc(status)}" href="{href}" '
        f'title="{_esc(tip)}"><span class="lsa-badge-id">{_esc(result.id)}</span> {_esc(result.kind)} · '
        f"<strong>{_esc(result.status)}</strong></a>"
    )


def _wall(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "not recorded"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def header_card(shown: ShownRun) -> str:
    """HTML of the header card: what ran, where, when, and one badge per claim."""
    prov = shown.provenance
    commit = prov.get("commit", "")
    commit_txt = (commit[:10] + (" + local changes" if prov.get("dirty") else "")) if commit else "not recorded"
    facts = [
        ("profile", shown.profile),
        ("run key", shown.key),
        ("commit", commit_txt),
        ("device", prov.get("device", "not recorded")),
        ("date", str(shown.run.get("finished", "not recorded")).replace("T", " ").rstrip("Z")),
        ("wall time", _wall(shown.run.get("seconds"))),
    ]
    dl = "".join(f"<div><dt>{_esc(k)}</dt><dd><code>{_esc(v)}</code></dd></div>" for k, v in facts)
    badges = " ".join(claim_badge(r) for r in shown.claims) or "<em>no claims declared</em>"
    counts = {s: sum(r.status == s for r in shown.claims) for s in ("pass", "fail", "error", "n/a")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return (
        '<div class="lsa-card">\n'
        f'<div class="lsa-card-title">This page shows run <code>{_esc(shown.key)}</code></div>\n'
        f'<dl class="lsa-facts">{dl}</dl>\n'
        f'<div class="lsa-badges"><span class="lsa-badges-label">Claims ({_esc(summary or "none")}):</span> '
        f"{badges}</div>\n"
        "</div>"
    )


def _allowed(param) -> str:
    """The range or choices a parameter declares (``[1, inf)``, ``{relu, tanh}``), else empty."""
    constraint = getattr(param, "constraint", None)
    return f"`{constraint.text}`" if constraint is not None else ""


def _meaning(param) -> str:
    """The parameter's comment without its leading range or choices (shown in their own column)."""
    constraint = getattr(param, "constraint", None)
    text = param.comment
    if constraint is not None and text.startswith(constraint.text):
        text = text[len(constraint.text) :].lstrip(" :;,")
    return text


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _literal(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def rerun_command(chapter: Chapter, shown: ShownRun) -> str:
    """The ``lsa run`` command that reproduces this run: the profile, plus every value it does not set."""
    base = resolve(chapter.params, chapter.profiles, shown.profile, {}) if shown.profile in PROFILE_NAMES else {}
    parts = [f"lsa run {chapter.name} --profile {shown.profile}"]
    for name, value in shown.params.items():
        if name != "profile" and base.get(name) != value:
            text = _literal(value)
            parts.append(f"-p {name}='{text}'" if any(c in text for c in " [],'\"") else f"-p {name}={text}")
    return " \\\n    ".join(parts)


def rerun_box(chapter: Chapter, shown: ShownRun, downloads: dict[str, str]) -> str:
    """MyST markdown of the "Rerun this chapter" box (command, parameter table, downloads)."""
    rows = [
        "| parameter | type | allowed | default | this run | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in chapter.params:
        used = shown.params.get(p.name, p.default)
        mark = "" if used == p.default else " **(changed)**"
        rows.append(
            f"| `{p.name}` | `{p.type}` | {_allowed(p)} | `{_cell(_literal(p.default))}` | "
            f"`{_cell(_literal(used))}`{mark} | {_cell(_meaning(p))} |"
        )
    links = " · ".join(f"{{download}}`{label} <{target}>`" for label, target in downloads.items())
    return "\n".join(
        [
            f"(rerun-{chapter.name.replace('_', '-')})=",
            "## Rerun this chapter",
            "",
            "::::{admonition} The command that reproduces this page",
            ":class: lsa-rerun",
            "",
            "```bash",
            rerun_command(chapter, shown),
            "```",
            "",
            f"Downloads of this run: {links}. Change any parameter with `-p name=value` (checked before "
            "anything runs); see [Rerunning a chapter](../rerun.md).",
            "",
            f":::{{dropdown}} Parameters of this chapter ({len(chapter.params)})",
            "",
            *rows,
            ":::",
            "::::",
        ]
    )


def citation_box(chapter: Chapter, shown: ShownRun, root: Path = REPO_ROOT) -> str:
    """MyST markdown of the citation line (and the chapter's BibTeX) naming the run behind the figures."""
    m = book_metadata(root)
    commit = shown.provenance.get("commit", "")
    return "\n".join(
        [
            "## Cite this chapter",
            "",
            f"*{chapter.title}*, in *{m['title']}*, version {m['version']} ({m['date']}); figures and numbers "
            f"from run `{shown.key}` (profile `{shown.profile}`) at commit `{commit[:12] or 'not recorded'}`. "
            "See [How to cite](../cite.md).",
            "",
            ":::{dropdown} BibTeX",
            "```bibtex",
            chapter_bibtex(chapter, shown.key, commit, shown.profile, root),
            "```",
            ":::",
        ]
    )


def paper_scale_section(chapter: Chapter, archived: ArchivedRun, root: Path = REPO_ROOT) -> str:
    """MyST markdown of the "At paper scale" section: an archived ``paper`` run, its provenance, claims, figures."""
    r = archived.run
    prov = {**r.get("provenance", {}), **r.get("provenance_added", {})}
    rel = Path("..", "..", archived.path.relative_to(Path(root))).as_posix()
    shown = ShownRun(chapter.name, archived.path, r.get("profile", "paper"), r.get("key", ""), archived.params, r)
    shown.claims = archived.claims
    lines = [
        f"(paper-scale-{chapter.name.replace('_', '-')})=",
        "## At paper scale",
        "",
        f"This run was made at the `{shown.profile}` profile on **{prov.get('device', 'an unrecorded device')}** "
        f"and archived in the repository (`{archived.path.relative_to(Path(root)).as_posix()}/`); the book does "
        "not rerun it. Its claims are evaluated now, against the current ledger, from its `metrics.json`."
        + (" Provenance marked as added was recorded when the run was archived." if "provenance_added" in r else ""),
        "",
        "```{raw} html",
        header_card(shown).replace("This page shows run", "Archived run"),
        "```",
        "",
        "| claim | kind | status | expected | measured |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in archived.claims:
        lines.append(f"| {c.id} | {c.kind} | {c.status} | {_cell(c.expected)} | {_cell(c.measured)} |")
    lines += ["", f"{{download}}`Executed notebook of this run <{rel}/{chapter.name}.ipynb>`", ""]
    for fig in sorted((archived.path / "figures").glob("*.png")):
        lines += [
            f"```{{figure}} {rel}/figures/{fig.name}",
            ":width: 100%",
            "",
            f"{fig.stem.replace('_', ' ')} — {chapter.name}, profile `{shown.profile}`, run `{shown.key}`.",
            "```",
            "",
        ]
    return "\n".join(lines)


def paper_pending_section(chapter: Chapter, root: Path = REPO_ROOT) -> str:
    """MyST markdown of the "At paper scale" section of a chapter with no archived ``paper`` run.

    Generated from the paper queue's plan (:func:`lsa.runner.paper_queue.plan`): what the ``paper`` profile
    needs that this machine lacks, with the exact command once a user supplies it, or the command that makes
    and archives the run.
    """
    from lsa.runner.paper_queue import ORDER, plan

    if chapter.name not in {entry[0] for entry in ORDER}:
        return ""
    item = plan([chapter.name], root)[0]
    lines = [
        f"(paper-scale-{chapter.name.replace('_', '-')})=",
        "## At paper scale",
        "",
        "No `paper` run of this chapter is archived in the repository, so its claims are not evaluated at that "
        "scale here (on the status page they count as *not testable here*).",
        "",
    ]
    lacking = [r.strip() for r in item.reason.partition(":")[2].split(",") if r.strip()] if item.reason else []
    inputs = [r for r in lacking if "=" in r and not r.startswith("package ")]
    packages = [r.removeprefix("package ") for r in lacking if r.startswith("package ")]
    if inputs:
        names = [r.split("=", 1)[0] for r in inputs]
        args = " ".join(
            f"-p {n}=/path/to/{n.removesuffix('_path').removesuffix('_root').removesuffix('_dir')}"
            if n != "model"
            else f"-p model=/path/to/local/{n}"
            for n in names
        )
        lines += [
            "Its `paper` profile reads data or weights that cannot be had offline ("
            + ", ".join(f"`{n}`" for n in names)
            + "). Nothing is downloaded; with local copies in the published formats, run",
            "",
            "```bash",
            f"lsa run {chapter.name} --profile paper {args}",
            f"lsa archive runs/{chapter.name}/<key>   # keep it in results/paper/ for this page",
            "```",
            "",
        ]
    if packages:
        lines += [f"It also needs the Python packages {', '.join(f'`{m}`' for m in packages)}.", ""]
    if not lacking:
        gpu_s = next(gpu for name, gpu, _ in ORDER if name == chapter.name)
        lines += [
            f"It needs no external data. Planned wall time on one GPU: about {gpu_s:.0f} s. "
            f"`lsa paper {chapter.name}` runs and archives it (see the rerun guide).",
            "",
        ]
    return "\n".join(lines)


def _has_paper_section(nb) -> bool:
    return any(c.cell_type == "markdown" and "## At paper scale" in c.source for c in nb.cells)


def _collapse(source: str) -> bool:
    """Whether a code cell is shown collapsed: longer than :data:`LONG_CELL_LINES`, or mostly imports."""
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    imports = sum(ln.startswith(("import ", "from ")) for ln in lines)
    return len(lines) > LONG_CELL_LINES or (len(lines) >= 4 and imports >= len(lines) / 3)


def _md(source: str):
    return nbformat.v4.new_markdown_cell(source)


def decorate_notebook(nb, chapter: Chapter, shown: ShownRun, downloads: dict[str, str], archived=None, root=REPO_ROOT):
    """Return a copy of the executed notebook ``nb`` with the page furniture (the run folder is not touched).

    The parameter, profile and injected-parameter cells are removed from the page (the rerun box lists every
    parameter with the value this run used); set-up cells (mostly imports) and code cells longer than
    :data:`LONG_CELL_LINES` lines are shown collapsed, their output visible.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if any(t in tags for t in HIDDEN_TAGS):
            tags = [t for t in tags if t != "hide-cell"] + ["remove-cell"]
        elif cell.cell_type == "code" and "hide-input" not in tags and _collapse(cell.source):
            tags.append("hide-input")
        cell.setdefault("metadata", {})["tags"] = tags
    card = _md("```{raw} html\n" + header_card(shown) + "\n```")
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), None)
    if first is not None and nb.cells[first].source.lstrip().startswith("# "):
        title, _, rest = nb.cells[first].source.lstrip().partition("\n")
        nb.cells[first].source = title
        nb.cells[first + 1 : first + 1] = [card] + ([_md(rest.strip("\n"))] if rest.strip() else [])
    else:
        nb.cells.insert(0, card)
    tail = [outcome_box(shown.claims)]  # "What this run shows", generated from the evaluated claims
    if archived is not None:
        tail.append(paper_scale_section(chapter, archived, root))
    elif not _has_paper_section(nb):
        tail.append(paper_pending_section(chapter, root))
    tail += [rerun_box(chapter, shown, downloads), citation_box(chapter, shown, root)]
    nb.cells += [_md(t) for t in tail if t]
    return nb


def placeholder_notebook(chapter: Chapter, profile: str):
    """The page of a chapter that has no run yet: its title and the command that makes one."""
    return nbformat.v4.new_notebook(
        cells=[
            _md(f"# {chapter.title}"),
            _md(
                "```{warning}\n"
                f"No run of this chapter was available when this site was built. Make one with "
                f"`lsa run {chapter.name} --profile {profile}` and rebuild the book.\n```"
            ),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )


def write_chapter_page(
    name: str, run_path: Path | None, profile: str, root: Path = REPO_ROOT, claims=None, archived=None
) -> ShownRun | None:
    """Write ``book/chapters/<name>.ipynb`` (the decorated executed notebook) and its downloads.

    Returns the run the page shows, or ``None`` when there is none (a placeholder page is written).
    """
    root = Path(root)
    pages = root / CHAPTER_PAGE_DIR
    pages.mkdir(parents=True, exist_ok=True)
    chapter = load_chapter(name, root)
    if run_path is None:
        nb = placeholder_notebook(chapter, profile)
        _write_if_changed(pages / f"{name}.ipynb", nbformat.writes(nb).encode())
        return None
    shown = shown_run(chapter, run_path, profile, claims)
    downloads = {"executed notebook": f"{name}.executed.ipynb", "metrics.json": f"{name}.metrics.json"}
    _write_if_changed(pages / downloads["executed notebook"], (Path(run_path) / f"{name}.ipynb").read_bytes())
    _write_if_changed(pages / downloads["metrics.json"], (Path(run_path) / "metrics.json").read_bytes())
    executed = nbformat.read(Path(run_path) / f"{name}.ipynb", as_version=4)
    nb = decorate_notebook(executed, chapter, shown, downloads, archived, root)
    _write_if_changed(pages / f"{name}.ipynb", nbformat.writes(nb).encode())
    return shown


PAPER_KEYS = ("xiao2026flag", "liu2026gsa1", "liu2026gsa2", "yu2026cvrec", "song2024asd")
CITE_ENTRIES = "book/cite-entries.md"


def paper_bibtex(root: Path = REPO_ROOT, keys=PAPER_KEYS) -> str:
    """BibTeX of the papers this book accompanies, taken from ``book/references.bib`` (the one source)."""
    from pybtex.database import BibliographyData, parse_file

    bib = parse_file(str(Path(root) / "book" / "references.bib"))
    return BibliographyData({k: bib.entries[k] for k in keys}).to_string("bibtex").strip()


def write_cite_entries(shown: dict[str, ShownRun], root: Path = REPO_ROOT) -> Path:
    """Write ``book/cite-entries.md`` (included by the How to cite page): BibTeX of the book, the papers and
    each chapter, the chapters' entries naming the run shown in this build."""
    root = Path(root)
    chapters = []
    for name, run in shown.items():
        commit = run.provenance.get("commit", "") if run is not None else ""
        key, profile = (run.key, run.profile) if run is not None else ("no run", "none")
        chapters.append(chapter_bibtex(load_chapter(name, root), key, commit, profile, root))
    text = "\n".join(
        [
            "## The book",
            "",
            "```bibtex",
            book_bibtex(root),
            "```",
            "",
            "## The papers",
            "",
            "```bibtex",
            paper_bibtex(root),
            "```",
            "",
            "## One chapter",
            "",
            "Each entry names the run whose figures and numbers the chapter shows in this build (the same line "
            "closes every chapter page).",
            "",
            "```bibtex",
            "\n\n".join(chapters),
            "```",
            "",
        ]
    )
    path = root / CITE_ENTRIES
    _write_if_changed(path, text.encode())
    return path


def ensure_verdicts_page(root: Path = REPO_ROOT) -> Path:
    """Keep ``book/abstract-verdicts.md`` includable: a short placeholder when the ledger has not written it."""
    path = Path(root) / VERDICTS_PAGE
    if not path.is_file():
        path.write_text(
            "No verdicts yet: the per-paper verdict table is generated from the chapter runs by `lsa book`.\n"
        )
    return path


# ----------------------------------------------------------------------------------------- the build


def _existing_run(name: str, profile: str) -> tuple[Path | None, str]:
    """The latest run at ``profile``, else the latest at another profile (default, smoke, paper), else none."""
    for prof in [profile] + [p for p in ("default", "smoke", "paper") if p != profile]:
        path = latest_run(name, prof)
        if path is not None:
            return path, prof
    return None, profile


def build_book(
    profile: str = "default",
    force: bool = False,
    root: Path = REPO_ROOT,
    log=print,
    progress: bool = True,
    reuse_latest: bool = False,
    engine: dict | None = None,
) -> Path:
    """Run the table of contents' chapters at ``profile`` and build ``_build/html``.

    Parameters
    ----------
    profile : {"smoke", "default", "paper"}
        Profile of the runs the book shows.
    force : bool
        Execute every chapter again even when a run with the same key exists.
    reuse_latest : bool
        Execute nothing: show each chapter's latest existing run at ``profile`` (or, failing that, at another
        profile, which its header card states); a chapter without any run gets a placeholder page.
    engine : dict
        Options of :func:`lsa.runner.engine.run_jobs` (``n_jobs``, ``scheduler``, ``cluster``, ``slurm``): the
        chapters execute concurrently there first (default: one per core); every failure is reported, after all
        chapters ran, and then the site is not rebuilt.

    Returns
    -------
    Path
        ``_build/html/index.html``.

    Raises
    ------
    ChapterFailed
        A chapter failed (its notebook is kept beside the last good run); the site is not rebuilt.
    subprocess.CalledProcessError
        Jupyter Book reported an error or a warning.
    """
    root = Path(root)
    results, missing, pages = [], [], {}
    archived = {a.run["chapter"]: a for a in archived_runs(root) if a.run.get("profile") == "paper"}
    if not reuse_latest:
        from lsa.runner.engine import Job, JobsFailed, run_jobs
        from lsa.runner.seeds import seed_jobs
        from lsa.runner.sweep_pages import declared_sweeps, sweep_jobs

        jobs = [Job.make(name, profile, force=force) for name in toc_chapters(root)]
        jobs += [job for name in toc_chapters(root) for job in seed_jobs(name, profile)]  # findings over seeds
        jobs += [job for spec in declared_sweeps() for job in sweep_jobs(spec)]  # the sweep pages' runs
        outcomes = run_jobs(jobs, **(engine or {}), log=log, progress=progress, raise_on_failure=False)
        own = [o for o in outcomes if o.job.update_latest]  # a failed extra seed is shown, it does not block
        if any(not o.ok for o in own):
            raise JobsFailed(own)
        force = False  # executed just now: the loop below reuses each run
    for name in toc_chapters(root):
        if reuse_latest:
            path, prof = _existing_run(name, profile)
            claims = None
        else:
            run = run_chapter(name, profile=profile, force=force, progress=progress, log=log)
            path, prof, claims = run.path, profile, run.claims
        shown = pages[name] = write_chapter_page(name, path, prof, root, claims, archived.get(name))
        if shown is None:
            missing.append(name)
            log(f"[lsa] {name}: no run yet, placeholder page")
        else:
            results += shown.claims
    write_status_page(root / "book" / "reproduction-status.md", results, profile, missing)
    from lsa.runner.sweep_pages import write_sweep_pages

    write_sweep_pages(root, engine=engine, execute=not reuse_latest, log=log)  # one generated page per sweep
    ensure_verdicts_page(root)
    write_usage_page(root, toc_chapters(root))
    write_cite_entries(pages, root)
    _, shown_archives = write_archive_page(root)
    log(f"[lsa] archived runs shown: {len(shown_archives)}")
    install_mathjax(root)
    log("[lsa] building the site with Jupyter Book (execution off, warnings as errors)")
    t0 = time.perf_counter()
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--warningiserror", "--keep-going"]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-6000:] + done.stderr[-6000:])
        raise subprocess.CalledProcessError(done.returncode, cmd)
    index = root / "_build" / "html" / "index.html"
    log(f"[lsa] site ready in {time.perf_counter() - t0:.1f} s: {index}")
    return index
