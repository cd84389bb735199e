"""Abstract claims and their verdicts: what each paper's abstract says, and which ledger claims bear on it.

``notebooks/abstract/<paper>.yaml`` lists the sentences of one paper's abstract that the book tests, each with
the ledger claims (:mod:`lsa.runner.claims`) that are evidence for it and the rule that settles it. Identities
are refused as evidence: they hold by construction of our code. :func:`verdicts` turns the claim results of a
book build into one verdict per abstract claim for the status page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lsa.runner.claims import Claim, ClaimError, ClaimResult, _check_fields, load_claims

ABSTRACT_DIR = "abstract"
PAPER_FIELDS = ("paper", "part", "claims")
PAPER_OPTIONAL = ("title", "arxiv")
ABSTRACT_FIELDS = ("id", "claim", "evidence", "settles")
ABSTRACT_OPTIONAL = ("not_testable",)
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}


@dataclass
class AbstractClaim:
    """One claim of a paper's abstract, as we read it.

    ``evidence`` lists ``(chapter, claim_id)`` pairs of ledger claims (guarantees or findings, never identities);
    ``not_testable`` is the reason no run here can settle the claim (empty when it can).
    """

    paper: str
    part: str
    id: str
    claim: str
    evidence: list
    settles: str
    not_testable: str = ""


@dataclass
class Paper:
    """A paper's abstract claims (``notebooks/abstract/<paper>.yaml``)."""

    slug: str
    part: str
    title: str
    arxiv: str
    claims: list


def load_ledgers(notebooks: Path) -> dict[str, dict[str, Claim]]:
    """Every ``<chapter>.claims.yaml`` in ``notebooks`` as ``{chapter: {claim_id: Claim}}``."""
    return {
        p.name.removesuffix(".claims.yaml"): {c.id: c for c in load_claims(p, p.name.removesuffix(".claims.yaml"))}
        for p in sorted(Path(notebooks).glob("*.claims.yaml"))
    }


def load_paper(path: Path, ledgers: dict[str, dict[str, Claim]]) -> Paper:
    """Read and validate one ``notebooks/abstract/<paper>.yaml``.

    Parameters
    ----------
    path : Path
        The file.
    ledgers : dict
        ``{chapter: {claim_id: Claim}}`` (see :func:`load_ledgers`): evidence must name one of these claims
        and it must not be an identity.

    Raises
    ------
    ClaimError
        Naming the file, the abstract claim and the field that is wrong, and what was expected.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ClaimError(f"{path}: cannot read YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ClaimError(f"{path}: expected a mapping with fields {list(PAPER_FIELDS)}")
    missing = [k for k in PAPER_FIELDS if k not in raw]
    extra = [k for k in raw if k not in PAPER_FIELDS + PAPER_OPTIONAL]
    if missing or extra:
        raise ClaimError(
            f"{path.name}: missing fields {missing}, unknown fields {extra}; allowed: "
            f"{list(PAPER_FIELDS + PAPER_OPTIONAL)}"
        )
    if str(raw["paper"]) != path.stem:
        raise ClaimError(f"{path.name}: field 'paper' is {raw['paper']!r}, expected the file's name {path.stem!r}")
    if not isinstance(raw["claims"], list) or not raw["claims"]:
        raise ClaimError(f"{path.name}: 'claims' must be a non-empty list")
    claims, seen = [], set()
    for i, entry in enumerate(raw["claims"]):
        cid = entry.get("id", "?") if isinstance(entry, dict) else "?"
        where = f"{path.name} abstract claim #{i + 1} ({cid})"
        _check_fields(entry, ABSTRACT_FIELDS, ABSTRACT_OPTIONAL, where)
        if cid in seen:
            raise ClaimError(f"{where}: duplicate id {cid!r}")
        seen.add(cid)
        for field_name in ("claim", "settles"):
            if not str(entry[field_name] or "").strip():
                raise ClaimError(f"{where}: field {field_name!r} is empty")
        reason = str(entry.get("not_testable") or "").strip()
        if "not_testable" in entry and not reason:
            raise ClaimError(f"{where}: field 'not_testable' is empty (give the reason, or drop the field)")
        evidence = entry["evidence"] or []
        if not isinstance(evidence, list):
            raise ClaimError(f"{where}: field 'evidence' must be a list of chapter:CLAIM_ID, got {evidence!r}")
        if not evidence and not reason:
            raise ClaimError(f"{where}: no evidence and no 'not_testable' reason (one of them is required)")
        pairs = []
        for item in evidence:
            chapter, sep, claim_id = str(item).partition(":")
            if not sep or not chapter or not claim_id:
                raise ClaimError(f"{where}: evidence {item!r} is not of the form chapter:CLAIM_ID")
            if chapter not in ledgers:
                raise ClaimError(
                    f"{where}: evidence {item!r} names no chapter with a ledger "
                    f"(chapters: {', '.join(sorted(ledgers))})"
                )
            if claim_id not in ledgers[chapter]:
                raise ClaimError(
                    f"{where}: evidence {item!r}: {chapter} has no claim {claim_id!r} "
                    f"(its claims: {', '.join(ledgers[chapter])})"
                )
            if ledgers[chapter][claim_id].kind == "identity":
                raise ClaimError(
                    f"{where}: evidence {item!r} is an identity (a consistency check of our code), "
                    "which can never be evidence for a paper's claim"
                )
            pairs.append((chapter, claim_id))
        claims.append(
            AbstractClaim(
                str(raw["paper"]),
                str(raw["part"]),
                str(cid),
                str(entry["claim"]).strip(),
                pairs,
                str(entry["settles"]).strip(),
                reason,
            )
        )
    return Paper(path.stem, str(raw["part"]), str(raw.get("title", path.stem)), str(raw.get("arxiv", "")), claims)


def load_papers(notebooks: Path) -> list[Paper]:
    """Every paper's abstract claims from ``<notebooks>/abstract/*.yaml``, validated against the ledgers."""
    ledgers = load_ledgers(notebooks)
    papers = [load_paper(p, ledgers) for p in sorted((Path(notebooks) / ABSTRACT_DIR).glob("*.yaml"))]
    return sorted(papers, key=lambda p: (_ROMAN.get(p.part, 99), p.part, p.slug))


VERDICTS = ("supported", "not supported", "mixed", "not testable here")


@dataclass
class Verdict:
    """An abstract claim's verdict at one profile, computed from its evidence's outcomes on the runs shown.

    ``evidence`` holds the ledger outcomes used (:class:`ClaimResult`, or ``None`` where the chapter has no run at
    this profile), in the order the abstract file lists them.
    """

    paper: str
    id: str
    claim: str
    verdict: str
    reason: str
    profile: str
    evidence: list
    refs: list
    settles: str


def _names(refs: list) -> str:
    return ", ".join(f"{c}:{i}" for c, i in refs)


def _why_not_evaluated(ref: tuple, result: ClaimResult | None, profile: str) -> str:
    name = f"{ref[0]}:{ref[1]}"
    if result is None:
        return f"{name} (no {profile} run)"
    return f"{name} ({result.status}{': ' + result.detail if result.detail else ''})"


def verdict(claim: AbstractClaim, results: list[ClaimResult], profile: str) -> Verdict:
    """The verdict of one abstract claim from its evidence's outcomes at ``profile``.

    Parameters
    ----------
    claim : AbstractClaim
        The abstract claim with its evidence (``(chapter, claim_id)`` pairs).
    results : list of ClaimResult
        Ledger outcomes of the runs shown (any chapters; only those at ``profile`` are used).
    profile : str
        The profile of the evidence.

    Returns
    -------
    Verdict
        *supported* when every evaluated piece of evidence passes, *not supported* when every one fails,
        *mixed* when some pass and some fail, *not testable here* when the claim states why or when no piece of
        its evidence could be evaluated at this profile (no run, ``n/a``, ``not measured``, ``error``).

    Raises
    ------
    ClaimError
        A piece of evidence is an identity (a consistency check can never make a verdict).
    """
    by_ref = {(r.chapter, r.id): r for r in results if r.profile == profile}
    found = [by_ref.get(ref) for ref in claim.evidence]
    for ref, r in zip(claim.evidence, found):
        if r is not None and r.kind == "identity":
            raise ClaimError(
                f"{claim.paper} {claim.id}: evidence {ref[0]}:{ref[1]} is an identity and cannot make a verdict"
            )
    base = dict(
        paper=claim.paper,
        id=claim.id,
        claim=claim.claim,
        profile=profile,
        evidence=found,
        refs=list(claim.evidence),
        settles=claim.settles,
    )
    if claim.not_testable:
        return Verdict(**base, verdict="not testable here", reason=claim.not_testable)
    passed = [ref for ref, r in zip(claim.evidence, found) if r is not None and r.status == "pass"]
    failed = [ref for ref, r in zip(claim.evidence, found) if r is not None and r.status == "fail"]
    unevaluated = [
        _why_not_evaluated(ref, r, profile)
        for ref, r in zip(claim.evidence, found)
        if r is None or r.status not in ("pass", "fail")
    ]
    tail = f"; not evaluated: {', '.join(unevaluated)}" if unevaluated else ""
    if not passed and not failed:
        return Verdict(
            **base,
            verdict="not testable here",
            reason=f"no evidence could be evaluated at {profile}: {', '.join(unevaluated)}",
        )
    if not failed:
        return Verdict(
            **base,
            verdict="supported",
            reason=f"{len(passed)} of {len(passed)} evaluated pass ({_names(passed)}){tail}",
        )
    if not passed:
        return Verdict(
            **base,
            verdict="not supported",
            reason=f"{len(failed)} of {len(failed)} evaluated fail ({_names(failed)}){tail}",
        )
    return Verdict(
        **base,
        verdict="mixed",
        reason=f"{len(passed)} pass ({_names(passed)}), {len(failed)} fail ({_names(failed)}){tail}",
    )


def verdicts(papers: list[Paper], results: list[ClaimResult], profile: str) -> dict[str, list[Verdict]]:
    """``{paper slug: [Verdict, …]}`` for every abstract claim of every paper at ``profile``."""
    return {p.slug: [verdict(c, results, profile) for c in p.claims] for p in papers}
