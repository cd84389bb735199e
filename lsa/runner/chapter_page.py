"""One chapter page: the run's executed notebook with generated furniture around it (nothing typed by hand).

A header card (profile, run key, commit, device, date, wall time, one badge per claim), the "What this run
shows" box, an "At paper scale" section (the archived ``paper`` run under ``results/paper/``, or what that
profile needs), a "Rerun this chapter" box (the exact ``lsa run`` command, the parameter table, downloads of the
executed notebook and ``metrics.json``) and a citation box naming the run.
"""

from __future__ import annotations

import copy
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from lsa.runner import REPO_ROOT
from lsa.runner.archive import ArchivedRun, figure_blocks
from lsa.runner.chapters import CHAPTER_PAGE_DIR, Chapter, load_chapter
from lsa.runner.citation import book_metadata, chapter_bibtex
from lsa.runner.claims import ClaimResult
from lsa.runner.execute import HIDDEN_TAGS, evaluate_claims
from lsa.runner.outcome import outcome_box
from lsa.runner.params import PROFILE_NAMES, resolve

STATUS_HTML = "../reproduction-status.html"  # from a chapter page (book/chapters/<name>.html)
LONG_CELL_LINES = 15  # code cells longer than this are shown collapsed (their output stays visible)


def write_if_changed(dest: Path, data: bytes) -> None:
    """Write unless identical, so Sphinx's incremental build skips unchanged chapters."""
    if not dest.is_file() or dest.read_bytes() != data:
        dest.write_bytes(data)


# ----------------------------------------------------------------------------------------- book metadata


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
    lines += figure_blocks(archived.path, rel, f"— {chapter.name}, profile `{shown.profile}`, run `{shown.key}`.")
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
        write_if_changed(pages / f"{name}.ipynb", nbformat.writes(nb).encode())
        return None
    shown = shown_run(chapter, run_path, profile, claims)
    downloads = {"executed notebook": f"{name}.executed.ipynb", "metrics.json": f"{name}.metrics.json"}
    write_if_changed(pages / downloads["executed notebook"], (Path(run_path) / f"{name}.ipynb").read_bytes())
    write_if_changed(pages / downloads["metrics.json"], (Path(run_path) / "metrics.json").read_bytes())
    executed = nbformat.read(Path(run_path) / f"{name}.ipynb", as_version=4)
    nb = decorate_notebook(executed, chapter, shown, downloads, archived, root)
    write_if_changed(pages / f"{name}.ipynb", nbformat.writes(nb).encode())
    return shown
