"""The generated reproduction-status page (``book/reproduction-status.md``) and the landing page's verdict table
(``book/abstract-verdicts.md``).

The status page opens with one table per paper (each abstract claim, its verdict computed from the ledger claims
that bear on it, links to those claims in the chapters), then a summary per chapter (counts by kind and status),
then the identities (consistency checks, never evidence) in their own table, then every claim in detail. Status
marks are words in coloured text badges (CSS classes ``lsa-badge``, ``lsa-status-*``, ``lsa-verdict-*``), so
they need no emoji font; no table has more than four columns, so the page reads at phone width.
"""

from __future__ import annotations

import html
import re
import time
from collections import Counter
from pathlib import Path

from lsa.runner.claims import KINDS, PROFILES, STATUSES, ClaimResult
from lsa.runner.verdicts import Paper, Verdict, load_papers, verdicts

VERDICTS_FILE = "abstract-verdicts.md"
_SOURCE = {"abstract": "paper (abstract)", "derived": "derived (ours)", "ours": "ours"}
_KIND_PLURAL = {"identity": "identities", "guarantee": "guarantees", "finding": "findings"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def claim_label(chapter: str, claim_id: str) -> str:
    """The MyST label of a claim's line in its chapter's "What this run shows" box."""
    return f"claim-{_slug(chapter)}-{_slug(claim_id)}"


def badge(text: str, css: str) -> str:
    """A text badge: inline HTML ``<span class="lsa-badge CSS">text</span>`` (the word carries the meaning)."""
    return f'<span class="lsa-badge {css}">{html.escape(str(text))}</span>'


def status_badge(status: str) -> str:
    """Badge of a claim outcome (``pass``, ``fail``, ``error``, ``n/a``, ``not measured``)."""
    return badge(status, f"lsa-status-{_slug(status.replace('/', ''))}")


def verdict_badge(verdict: str) -> str:
    """Badge of an abstract claim's verdict."""
    return badge(verdict, f"lsa-verdict-{_slug(verdict)}")


def _counts(results: list[ClaimResult]) -> str:
    c = Counter(r.status for r in results)
    return ", ".join(f"{c[s]} {s}" for s in STATUSES if c[s]) or "none"


def _evidence_link(ref: tuple, result: ClaimResult | None, linked: set[str]) -> str:
    chapter, cid = ref
    text = f"{chapter} {cid}"
    link = f"{{ref}}`{text} <{claim_label(chapter, cid)}>`" if chapter in linked else text
    return f"{link} {status_badge(result.status) if result is not None else badge('no run', 'lsa-status-na')}"


def list_table(header: list[str], rows: list[list[str]], widths: list[int]) -> list[str]:
    """A MyST ``list-table`` with the CSS class ``lsa-table`` (fixed layout, long words wrap: no overflow at
    phone width). Cells are one line of inline markdown each (``<br>`` for line breaks)."""
    lines = [
        ":::{list-table}",
        ":header-rows: 1",
        ":class: lsa-table",
        f":widths: {' '.join(str(w) for w in widths)}",
        "",
    ]
    for row in [header, *rows]:
        lines += [f"{'*' if k == 0 else ' '} - {cell}" for k, cell in enumerate(row)]
    return lines + [":::", ""]


def _short_reason(v: Verdict, stated: str) -> str:
    """The verdict's reason for the status table: the stated reason, or counts (the evidence column names each)."""
    if stated:
        return stated
    statuses = Counter("no run" if r is None else r.status for r in v.evidence)
    evaluated = statuses["pass"] + statuses["fail"]
    parts = [f"{statuses[k]} {k}" for k in ("pass", "fail") if statuses[k]]
    rest = len(v.evidence) - evaluated
    if rest:
        parts.append(f"{rest} not evaluated")
    return f"{', '.join(parts)} of {len(v.evidence)}" if parts else "no evidence"


def verdict_tables(
    papers: list[Paper], by_profile: dict[str, list[Verdict]], primary: str, linked: set[str], heading: str = "###"
) -> list[str]:
    """One table per paper: each abstract claim, then its verdict at each profile with evidence, the evidence with
    links to its chapter sections, and what would settle it.

    ``by_profile`` maps a profile label (``"smoke"``, ``"paper (archived run)"``, …) to the flat list of verdicts
    at that profile; ``primary`` is the label whose evidence is linked.
    """
    lines = []
    for paper in papers:
        title = f"Part {paper.part} — {paper.title}" + (f" (arXiv {paper.arxiv})" if paper.arxiv else "")
        rows = []
        for claim in paper.claims:
            cells = []
            for label, vs in by_profile.items():
                v = next(x for x in vs if x.paper == paper.slug and x.id == claim.id)
                if label != primary and v.verdict == "not testable here" and not claim.not_testable:
                    continue  # an extra profile without evidence adds nothing
                cells.append(f"{verdict_badge(v.verdict)} at {label}: {_cell(_short_reason(v, claim.not_testable))}")
                if claim.not_testable:
                    break  # a stated reason holds at every profile
            v0 = next(x for x in by_profile[primary] if x.paper == paper.slug and x.id == claim.id)
            evidence = ", ".join(_evidence_link(ref, r, linked) for ref, r in zip(v0.refs, v0.evidence))
            right = "<br>".join(cells) + (f"<br>Evidence: {evidence}" if evidence else "")
            right += f"<br>*Would settle it:* {_cell(claim.settles)}"
            rows.append([f"**{claim.id}** {_cell(claim.claim)}", right])
        lines += [f"{heading} {title}", ""] + list_table(["abstract claim", "verdict and evidence"], rows, [40, 60])
    return lines


def summary_table(results: list[ClaimResult]) -> list[str]:
    """Per chapter, the counts of outcomes by kind (identities, guarantees, findings)."""
    rows = []
    for chapter in dict.fromkeys(r.chapter for r in results):
        mine = [r for r in results if r.chapter == chapter]
        profile = ", ".join(dict.fromkeys(r.profile for r in mine))
        cells = [f"{_KIND_PLURAL[k]}: {_counts([r for r in mine if r.kind == k])}" for k in KINDS]
        rows.append([f"[{chapter}](chapters/{chapter}.ipynb) ({profile})", "<br>".join(cells)])
    return list_table(["chapter", "outcomes by kind"], rows, [40, 60])


def identities_table(results: list[ClaimResult]) -> list[str]:
    """The identities of every chapter: consistency checks of our code, never evidence for a paper."""
    rows = [r for r in results if r.kind == "identity"]
    if not rows:
        return ["No chapter declares an identity.", ""]
    table = []
    for r in rows:
        detail = f" ({_cell(r.detail)})" if r.detail and r.status != "pass" else ""
        table.append(
            [f"**{r.chapter} {r.id}** {_cell(r.statement)}", f"{status_badge(r.status)}{detail}<br>{_cell(r.measured)}"]
        )
    return list_table(["identity", "status and measured value"], table, [55, 45])


def claims_detail(results: list[ClaimResult]) -> list[str]:
    """Every claim as a list item (phone-friendly): id, kind, source, status, statement, expected, measured."""
    lines = []
    for r in results:
        detail = f" — {r.detail}" if r.detail and r.status != "pass" else ""
        lines += [
            f"- **{r.id}** · {r.kind} · {_SOURCE.get(r.source, r.source)} · {status_badge(r.status)} "
            f"(profile `{r.profile}`){_cell(detail)}  ",
            f"  {_cell(r.statement)}  ",
            f"  *Expected:* {_cell(r.expected)}  ",
            f"  *Measured:* {_cell(r.measured)}",
        ]
    return lines


def _flat(d: dict) -> list:
    return [v for vs in d.values() for v in vs]


def _verdict_sets(
    papers: list[Paper], results: list[ClaimResult], profile: str, archived: list[ClaimResult]
) -> dict[str, list[Verdict]]:
    """Verdicts at the build profile, at any other profile the shown runs used, and on the archived runs."""
    out = {profile: _flat(verdicts(papers, results, profile))}
    for other in PROFILES:
        if other != profile and any(r.profile == other for r in results):
            out[other] = _flat(verdicts(papers, results, other))
    for prof in PROFILES:
        if any(r.profile == prof for r in archived):
            out[f"{prof} (archived run)"] = _flat(verdicts(papers, archived, prof))
    return out


def verdict_counts(vs: list[Verdict]) -> Counter:
    """How many abstract claims got each verdict."""
    return Counter(v.verdict for v in vs)


def render_status_page(
    results: list[ClaimResult],
    profile: str,
    missing: list[str] | None = None,
    papers: list[Paper] | None = None,
    archived: list[ClaimResult] | None = None,
    seed_findings: list[str] | None = None,
) -> str:
    """Markdown for the reproduction-status page, generated from actual run results.

    Parameters
    ----------
    results : list of ClaimResult
        Outcomes of every claim of every chapter on the runs the book shows.
    profile : str
        The profile those runs used (the verdicts' primary profile).
    missing : list of str
        Chapters whose run was unavailable (shown, never hidden).
    papers : list of Paper
        The papers' abstract claims (default: none, no verdict tables).
    archived : list of ClaimResult
        Outcomes on the archived runs (``results/``), re-evaluated with the current ledger; their verdicts are
        shown beside the build profile's, labelled as archived.
    seed_findings : list of str
        The "Findings over seeds" section (:func:`lsa.runner.seeds.seed_findings_section`), if any.
    """
    papers, archived = papers or [], archived or []
    sets = _verdict_sets(papers, results, profile, archived)
    linked = {r.chapter for r in results}
    counts = Counter(r.status for r in results)
    lines = [
        "# Reproduction status",
        "",
        "This page is generated by `lsa book` from the runs shown in this build; nothing on it is typed by hand.",
        f"Profile of these runs: **{profile}**. Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Totals: {_counts(results)}.",
        "",
    ]
    if missing:
        lines += [f"```{{warning}}\nNo run available for: {', '.join(missing)}.\n```", ""]
    lines += [
        "## What the papers claim, and what our runs say",
        "",
        "Each paper's abstract claims as we read them, with a **verdict** computed from the ledger claims that bear "
        "on each (guarantees and findings; identities never count): "
        f"{verdict_badge('supported')} every evaluated piece of evidence holds, "
        f"{verdict_badge('not supported')} every one fails, {verdict_badge('mixed')} some hold and some fail, "
        f"{verdict_badge('not testable here')} the reason is given (no data, a statement no run can check, or no "
        "evidence evaluated at that profile). A verdict at the small profiles says what our small reconstruction "
        "shows, not whether the paper is right at its own scale.",
        "",
    ]
    lines += verdict_tables(papers, sets, profile, linked)
    lines += [
        "## Summary per chapter",
        "",
        "Counts of outcomes by kind. An **identity** holds by construction of our code (a consistency check; "
        "failure is a bug). A **guarantee** is a theorem or bound every correct run must satisfy (failure is a "
        "bug). A **finding** is an empirical statement that can fail for honest reasons and is reported as it "
        "came out. *n/a*: not evaluated at this profile (reason given); *not measured*: an archived run made "
        "before the metric existed.",
        "",
        *summary_table(results),
        "",
        f"Runs at other profiles made on other machines are on the [archived runs](archived-runs.md) page. "
        f"Guarantees: {sum(1 for r in results if r.kind == 'guarantee' and r.status == 'pass')} pass, "
        f"{sum(1 for r in results if r.kind == 'guarantee' and r.status == 'fail')} fail; findings: "
        f"{sum(1 for r in results if r.kind == 'finding' and r.status == 'pass')} borne out, "
        f"{sum(1 for r in results if r.kind == 'finding' and r.status == 'fail')} not borne out; "
        f"errors: {counts.get('error', 0)}.",
        "",
        *(seed_findings or []),
        "## Identities (consistency checks)",
        "",
        "These hold by construction of our code or by algebra. They show that the implementation is consistent; "
        "they are never evidence for a paper's claim.",
        "",
        *identities_table(results),
        "## Every claim",
        "",
    ]
    for chapter in dict.fromkeys(r.chapter for r in results):
        rows = [r for r in results if r.chapter == chapter]
        lines += [
            f"### {chapter.replace('_', ' ')}",
            "",
            f"Run `{rows[0].run_key}` ([chapter page](chapters/{chapter}.ipynb)): {_counts(rows)}.",
            "",
            f":::{{dropdown}} The {len(rows)} claims of {chapter}",
            "",
            *claims_detail(rows),
            "",
            ":::",
            "",
        ]
    return "\n".join(lines) + "\n"


def render_verdicts_include(
    papers: list[Paper], results: list[ClaimResult], profile: str, archived: list[ClaimResult] | None = None
) -> str:
    """Markdown of ``book/abstract-verdicts.md``: one compact row per paper, each abstract claim with its verdict.

    Included on the landing page; links are relative to ``book/``.
    """
    sets = _verdict_sets(papers, results, profile, archived or [])
    lines = [
        f"| paper | abstract claims and verdicts (profile `{profile}`) |",
        "| --- | --- |",
    ]
    for paper in papers:
        vs = [v for v in sets[profile] if v.paper == paper.slug]
        marks = " ".join(
            f'<span title="{html.escape(v.claim + " — " + v.reason, quote=True)}">**{v.id}**&nbsp;'
            f"{verdict_badge(v.verdict)}</span>"
            for v in vs
        )
        counts = verdict_counts(vs)
        tally = ", ".join(f"{counts[k]} {k}" for k in ("supported", "mixed", "not supported", "not testable here"))
        lines.append(f"| Part {paper.part}: {_cell(paper.title)} | {marks}<br>{tally} |")
    lines += [
        "",
        "Generated by `lsa book` from the runs of this build. Each claim, its evidence and the reason for each "
        "verdict: [reproduction status](reproduction-status.md).",
        "",
    ]
    return "\n".join(lines)


def write_status_page(
    path: Path,
    results: list[ClaimResult],
    profile: str,
    missing: list[str] | None = None,
    papers: list[Paper] | None = None,
    archived: list[ClaimResult] | None = None,
) -> Path:
    """Write the status page and, beside it, ``abstract-verdicts.md`` (the landing page's table).

    ``papers`` defaults to the abstract claims under ``notebooks/abstract/``; ``archived`` holds the claims of
    the archived runs under ``results/`` (evaluated with the current ledgers by :mod:`lsa.runner.archive`,
    which the book build passes in); none when omitted.
    """
    from lsa.runner.chapters import notebooks_dir
    from lsa.runner.seeds import seed_findings_section

    path = Path(path)
    if papers is None:
        papers = load_papers(notebooks_dir())
    archived = list(archived or [])

    seeds = seed_findings_section([r.chapter for r in results], profile)
    path.write_text(render_status_page(results, profile, missing, papers, archived, seed_findings=seeds))
    (path.parent / VERDICTS_FILE).write_text(render_verdicts_include(papers, results, profile, archived))
    return path
