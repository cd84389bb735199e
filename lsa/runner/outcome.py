"""The "What this run shows" box that closes every chapter page, generated from the run's evaluated claims.

Nothing in the box is typed by hand: each guarantee and finding is listed with its kind, status, measured value
and profile, and every outcome that is not a pass is said in words (a guarantee that fails is a bug; a finding that
is not borne out is reported as it came out). Identities are listed apart, as consistency checks of the code. Each
claim's line carries a MyST label (:func:`lsa.runner.status_page.claim_label`) that the status page links to.
"""

from __future__ import annotations

from collections import Counter

from lsa.runner.claims import ClaimResult
from lsa.runner.status_page import claim_label, status_badge

TITLE = "What this run shows"


def _plain(text: str) -> str:
    return " ".join(str(text).split())


def in_words(r: ClaimResult) -> str:
    """One sentence saying what the outcome of a claim means."""
    if r.status == "pass":
        return {
            "identity": "The consistency check holds.",
            "guarantee": "The guarantee holds on this run.",
            "finding": "The finding is borne out on this run.",
        }.get(r.kind, "It holds.")
    if r.status == "fail":
        return {
            "identity": "The consistency check FAILS: the code has a bug.",
            "guarantee": "The guarantee FAILS on this run: a defect of our implementation, to be fixed.",
            "finding": "The finding is NOT borne out on this run: the measured value misses the expected criterion.",
        }.get(r.kind, "It fails.")
    if r.status == "error":
        return f"The claim could not be evaluated ({_plain(r.detail)}): a defect of the chapter or its ledger."
    if r.status == "not measured":
        return f"This run does not measure it: {_plain(r.detail)}."
    return f"Not evaluated at profile `{r.profile}`: {_plain(r.detail)}."


def _item(r: ClaimResult) -> list[str]:
    """A claim as a labelled paragraph (the status page links to the label)."""
    return [
        f"({claim_label(r.chapter, r.id)})=",
        f"**{r.id}** ({r.kind}, profile `{r.profile}`) {status_badge(r.status)} {_plain(r.statement)}  ",
        f"Expected: {_plain(r.expected)}. Measured: {_plain(r.measured)}. {in_words(r)}",
        "",
    ]


def headline(results: list[ClaimResult]) -> str:
    """One sentence with the counts of outcomes by kind, failures first."""
    evidence = [r for r in results if r.kind != "identity"]
    c = Counter((r.kind, r.status) for r in results)
    parts = []
    g = [r for r in evidence if r.kind == "guarantee"]
    f = [r for r in evidence if r.kind == "finding"]
    if g:
        parts.append(
            f"{c['guarantee', 'pass']} of {len(g)} guarantees hold"
            + (f", {c['guarantee', 'fail']} FAIL" if c["guarantee", "fail"] else "")
        )
    if f:
        parts.append(
            f"{c['finding', 'pass']} of {len(f)} findings are borne out"
            + (f", {c['finding', 'fail']} are not" if c["finding", "fail"] else "")
        )
    errors = sum(r.status == "error" for r in results)
    other = sum(r.status in ("n/a", "not measured") for r in results)
    if errors:
        parts.append(f"{errors} could not be evaluated")
    if other:
        parts.append(f"{other} not evaluated at this profile or not measured by this run")
    return ("On this run, " + "; ".join(parts) + ".") if parts else "This chapter declares no claim."


def outcome_box(results: list[ClaimResult]) -> str:
    """MyST markdown of the "What this run shows" box for one chapter's evaluated claims.

    Parameters
    ----------
    results : list of ClaimResult
        The chapter's claims evaluated on the run the page shows (one chapter).

    Returns
    -------
    str
        A section with a labelled paragraph per claim: guarantees and findings first (failures first among them),
        then the identities under their own heading.
    """
    order = {"fail": 0, "error": 1, "not measured": 2, "pass": 3, "n/a": 4}
    evidence = sorted((r for r in results if r.kind != "identity"), key=lambda r: order.get(r.status, 5))
    identities = [r for r in results if r.kind == "identity"]
    if not results:
        return f"## {TITLE}\n\nThis chapter declares no claim.\n"
    profiles = ", ".join(dict.fromkeys(r.profile for r in results)) or "none"
    lines = [
        f"## {TITLE}",
        "",
        "::::{admonition} Claims evaluated on the run shown on this page (generated, not written by hand)",
        ":class: lsa-outcome",
        "",
        f"{headline(results)} Profile of the run: `{profiles}`. A *guarantee* is a theorem or bound every correct "
        "run must satisfy; a *finding* is an empirical statement that can fail for honest reasons. Every claim, "
        "with the papers' claims it bears on, is on the [reproduction status](../reproduction-status.md) page.",
        "",
    ]
    for r in evidence:
        lines += _item(r)
    if identities:
        lines += [
            "",
            "**Consistency checks (identities).** These hold by construction of our code or by algebra; they test "
            "the implementation and are not evidence for the paper.",
            "",
        ]
        for r in identities:
            lines += _item(r)
    lines += ["::::", ""]
    return "\n".join(lines)
