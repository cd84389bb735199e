"""The claims ledger: abstract claims (loader, validator), ledger semantics, verdicts."""

from pathlib import Path

import pytest
import yaml

from lsa.runner.claims import ClaimError
from lsa.runner.verdicts import load_ledgers, load_paper, load_papers

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
PAPERS = ("flag-varieties", "gsa-pam", "pruning-cvr-ec", "asd-radiomics")

LEDGER = """- id: G1
  statement: "a guarantee"
  source: derived
  kind: guarantee
  profiles: [smoke, default, paper]
  measured: x
  check: "x > 0"
  expected: "x > 0"
- id: I1
  statement: "an identity"
  source: ours
  kind: identity
  profiles: [smoke, default, paper]
  measured: x
  check: "x == x"
  expected: "always"
- id: F1
  statement: "a finding"
  source: abstract
  kind: finding
  profiles: [smoke, default]
  measured: y
  check: "y < 1"
  expected: "y < 1"
"""


def _paper(tmp_path, claims, name="toy"):
    """A notebooks folder with one ledger (chapter ``ch``) and one abstract file; returns (path, ledgers)."""
    (tmp_path / "ch.claims.yaml").write_text(LEDGER)
    (tmp_path / "abstract").mkdir(exist_ok=True)
    path = tmp_path / "abstract" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"paper": name, "part": "I", "claims": claims}))
    return path, load_ledgers(tmp_path)


def _claim(**kw):
    return {"id": "A1", "claim": "something", "evidence": ["ch:G1"], "settles": "a run", **kw}


def test_the_four_papers_load_and_every_abstract_claim_has_evidence_or_a_reason():
    papers = {p.slug: p for p in load_papers(NOTEBOOKS)}
    assert set(papers) == set(PAPERS)
    ledgers = load_ledgers(NOTEBOOKS)
    for paper in papers.values():
        assert paper.claims, paper.slug
        for c in paper.claims:
            assert c.evidence or c.not_testable, f"{paper.slug} {c.id}: no evidence and no stated reason"
            for chapter, claim_id in c.evidence:
                # independent of the loader: read the ledger entry's kind straight from its YAML file
                raw = yaml.safe_load((NOTEBOOKS / f"{chapter}.claims.yaml").read_text())
                kind = next(e["kind"] for e in raw if e["id"] == claim_id)
                assert kind != "identity", f"{paper.slug} {c.id} cites the identity {chapter}:{claim_id}"
                assert ledgers[chapter][claim_id].kind in ("guarantee", "finding")


@pytest.mark.parametrize("paper", PAPERS)
def test_each_reconstruction_page_cites_exactly_the_evidence_its_verdict_uses(paper):
    """The page's table of abstract claims names, after **evidence**:, the ledger claims of the abstract file."""
    import re

    raw = yaml.safe_load((NOTEBOOKS / "abstract" / f"{paper}.yaml").read_text())
    page = (NOTEBOOKS.parent / "book" / "reconstructions" / f"{paper}.md").read_text()
    for c in raw["claims"]:
        row = re.search(rf"^\| {c['id']} \| .* \| \*\*evidence\*\*: (.*?)(?: · .*)? \|$", page, re.M)
        assert row, f"{paper}.md: no table row for {c['id']} with an **evidence**: cell"
        cited = set(re.findall(r"\b[A-Z][\w]*(?:-[\w*]+)?\b", row.group(1)))
        assert cited == {e.split(":")[1] for e in c["evidence"]}, f"{paper}.md {c['id']}: {row.group(1)}"


def test_a_valid_abstract_file_loads(tmp_path):
    path, ledgers = _paper(
        tmp_path, [_claim(evidence=["ch:G1", "ch:F1"]), _claim(id="A2", evidence=[], not_testable="no data")]
    )
    paper = load_paper(path, ledgers)
    assert [c.id for c in paper.claims] == ["A1", "A2"]
    assert paper.claims[0].evidence == [("ch", "G1"), ("ch", "F1")]
    assert paper.claims[1].not_testable == "no data" and paper.claims[1].evidence == []


@pytest.mark.parametrize(
    "claims, message",
    [
        ([_claim(evidence=["ch:I1"])], "is an identity"),
        ([_claim(evidence=["ch:NOPE"])], "ch has no claim 'NOPE'"),
        ([_claim(evidence=["other:G1"])], "names no chapter with a ledger"),
        ([_claim(evidence=["G1"])], "not of the form chapter:CLAIM_ID"),
        ([_claim(evidence=[])], "no evidence and no 'not_testable' reason"),
        ([_claim(evidence=[], not_testable="  ")], "'not_testable' is empty"),
        ([{"id": "A1", "claim": "x", "evidence": ["ch:G1"]}], "missing fields ['settles']"),
        ([_claim(verdict="supported")], "unknown fields ['verdict']"),
        ([_claim(), _claim()], "duplicate id 'A1'"),
        ([_claim(evidence="ch:G1")], "must be a list"),
        ([], "non-empty list"),
    ],
)
def test_malformed_abstract_files_are_rejected_naming_file_claim_and_field(tmp_path, claims, message):
    path, ledgers = _paper(tmp_path, claims)
    with pytest.raises(ClaimError, match="toy.yaml") as err:
        load_paper(path, ledgers)
    assert message in str(err.value)


def test_paper_field_must_match_the_file_name(tmp_path):
    path, ledgers = _paper(tmp_path, [_claim()])
    path.write_text(path.read_text().replace("paper: toy", "paper: other"))
    with pytest.raises(ClaimError, match="expected the file's name 'toy'"):
        load_paper(path, ledgers)


# ---- ledger semantics: n/a with a reason, not measured on old archived runs, defects vs findings ----------------

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from lsa.runner.claims import evaluate, is_defect, load_claims  # noqa: E402


def _ledger(tmp_path, text):
    path = tmp_path / "ch.claims.yaml"
    path.write_text(text)
    return {c.id: c for c in load_claims(path, "ch")}


def test_not_applicable_gives_n_a_with_its_reason_and_is_validated(tmp_path):
    text = LEDGER.replace(
        "  profiles: [smoke, default]\n",
        "  profiles: [smoke, default]\n  not_applicable:\n    paper: grid too coarse\n",
    )
    claims = _ledger(tmp_path, text)
    r = evaluate(claims["F1"], {"y": 0.5}, "paper")
    assert (r.status, r.detail) == ("n/a", "grid too coarse")
    assert evaluate(claims["F1"], {"y": 0.5}, "smoke").status == "pass"
    undeclared = evaluate(claims["G1"], {"x": 1}, "paper")
    assert undeclared.status == "pass"
    for bad, message in [
        ("    paper: ''\n", "needs a reason"),
        ("    huge: why\n", "expected one of"),
        ("    smoke: why\n", "both in profiles and in not_applicable"),
    ]:
        (tmp_path / "ch.claims.yaml").write_text(text.replace("    paper: grid too coarse\n", bad))
        with pytest.raises(ClaimError, match=message):
            load_claims(tmp_path / "ch.claims.yaml", "ch")


def test_a_missing_metric_is_an_error_in_a_fresh_run_and_not_measured_in_an_archived_one(tmp_path):
    claims = _ledger(tmp_path, LEDGER)
    fresh = evaluate(claims["G1"], {}, "paper")
    old = evaluate(claims["G1"], {}, "paper", archived=True)
    assert fresh.status == "error" and "x" in fresh.detail
    assert old.status == "not measured" and "not measured in this run" in old.detail
    assert is_defect(fresh) and not is_defect(old)
    # an archived run that has the metric is evaluated normally, so a failure still shows
    assert evaluate(claims["G1"], {"x": -1}, "paper", archived=True).status == "fail"


def test_defects_are_failed_guarantees_and_identities_and_errors_not_failed_findings(tmp_path):
    claims = _ledger(tmp_path, LEDGER)
    assert is_defect(evaluate(claims["G1"], {"x": -1}, "smoke"))
    assert is_defect(evaluate(claims["I1"], {"x": float("nan")}, "smoke"))  # nan != nan: the identity fails
    finding = evaluate(claims["F1"], {"y": 2}, "smoke")
    assert finding.status == "fail" and not is_defect(finding)


TINY = """# %% [markdown]
# # Tiny

# %% tags=["profiles"]
PROFILES = {"smoke": {}, "default": {}, "paper": {}}

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | paper
seed: int = 0  # seed
"""


def _archive(root, metrics):
    folder = root / "results" / "paper" / "ch"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"chapter": "ch", "profile": "paper", "key": "k1"}))
    (folder / "params.json").write_text("{}")
    (folder / "metrics.json").write_text(json.dumps(metrics))


CLI_LEDGER = """- id: G1
  statement: "a guarantee"
  source: derived
  kind: guarantee
  profiles: [paper]
  measured: x
  check: "x > 0"
  expected: "x > 0"
- id: F1
  statement: "a finding"
  source: abstract
  kind: finding
  profiles: [paper]
  measured: y
  check: "y < 1"
  expected: "y < 1"
- id: I1
  statement: "an identity on a metric added later"
  source: ours
  kind: identity
  profiles: [paper]
  measured: z
  check: "z == z"
  expected: "always"
"""


@pytest.mark.parametrize(
    "metrics, strict, code, text",
    [
        ({"x": 1, "y": 0.5, "z": 0}, False, 0, "pass"),
        ({"x": 1, "y": 0.5}, False, 0, "not measured in this run"),
        ({"x": -1, "y": 0.5, "z": 0}, False, 1, "DEFECT ch:G1"),
        ({"x": 1, "y": 5, "z": 0}, False, 0, "finding not borne out: ch:F1"),
        ({"x": 1, "y": 5, "z": 0}, True, 1, "finding not borne out: ch:F1"),
    ],
)
def test_lsa_claims_archived_exit_status(tmp_path, metrics, strict, code, text):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    (nb / "ch.py").write_text(TINY)
    (nb / "ch.claims.yaml").write_text(CLI_LEDGER)
    _archive(tmp_path, metrics)
    env = {**os.environ, "LSA_NOTEBOOKS_DIR": str(nb), "LSA_RESULTS_DIR": str(tmp_path / "results")}
    args = [sys.executable, "-m", "lsa.cli", "claims", "--archived"] + (["--strict"] if strict else [])
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    assert done.returncode == code, done.stdout + done.stderr
    assert text in done.stdout


# ---- verdicts of abstract claims, on synthetic ledgers --------------------------------------------------------

from lsa.runner.claims import ClaimResult  # noqa: E402
from lsa.runner.verdicts import AbstractClaim, verdict  # noqa: E402


def _result(cid, status, kind="finding", profile="smoke", chapter="ch", detail=""):
    return ClaimResult(chapter, cid, "s", "abstract", kind, "e", "m", profile, status, detail)


def _abstract(*ids, not_testable=""):
    return AbstractClaim("toy", "I", "A1", "a claim", [("ch", i) for i in ids], "a run", not_testable)


@pytest.mark.parametrize(
    "statuses, expected",
    [
        (["pass", "pass"], "supported"),
        (["fail", "fail"], "not supported"),
        (["pass", "fail"], "mixed"),
        (["pass", "n/a"], "supported"),
        (["fail", "not measured"], "not supported"),
        (["n/a", "error"], "not testable here"),
        (["not measured", "not measured"], "not testable here"),
    ],
)
def test_verdict_follows_the_evaluated_evidence(statuses, expected):
    results = [_result(f"C{i}", s, detail="why" if s != "pass" else "") for i, s in enumerate(statuses)]
    v = verdict(_abstract(*(f"C{i}" for i in range(len(statuses)))), results, "smoke")
    assert v.verdict == expected and v.profile == "smoke"
    for i, s in enumerate(statuses):
        if s not in ("pass", "fail"):
            assert f"ch:C{i} ({s}" in v.reason  # unevaluated evidence is named with its status


def test_verdict_uses_only_results_at_its_profile_and_says_when_there_is_no_run():
    results = [_result("C1", "pass", profile="paper"), _result("C2", "fail", profile="smoke")]
    assert verdict(_abstract("C1", "C2"), results, "paper").verdict == "supported"
    assert verdict(_abstract("C1", "C2"), results, "smoke").verdict == "not supported"
    v = verdict(_abstract("C1"), results, "default")
    assert v.verdict == "not testable here" and "ch:C1 (no default run)" in v.reason


def test_a_stated_reason_makes_not_testable_whatever_the_evidence():
    v = verdict(_abstract("C1", not_testable="no data"), [_result("C1", "pass")], "smoke")
    assert (v.verdict, v.reason) == ("not testable here", "no data")


def test_an_identity_can_never_make_a_verdict():
    with pytest.raises(ClaimError, match="is an identity"):
        verdict(_abstract("I1"), [_result("I1", "pass", kind="identity")], "smoke")


def test_no_verdict_of_the_four_papers_cites_an_identity(tmp_path):
    """Evaluate every current ledger claim as passing at smoke and check what the verdicts cite."""
    ledgers = load_ledgers(NOTEBOOKS)
    results = [_result(c.id, "pass", c.kind, chapter=ch) for ch, cl in ledgers.items() for c in cl.values()]
    for paper in load_papers(NOTEBOOKS):
        for c in paper.claims:
            v = verdict(c, results, "smoke")
            assert all(r.kind != "identity" for r in v.evidence if r is not None)
            assert v.verdict == ("not testable here" if c.not_testable else "supported")


# ---- the status page and the landing page's verdict table ---------------------------------------------------------

import re  # noqa: E402

from lsa.runner.status_page import VERDICTS_FILE, render_status_page, write_status_page  # noqa: E402
from lsa.runner.verdicts import Paper  # noqa: E402


def _page_inputs():
    results = [
        _result("G1", "pass", "guarantee", chapter="ch"),
        _result("F1", "fail", "finding", chapter="ch"),
        _result("I1", "pass", "identity", chapter="ch"),
    ]
    claims = [
        AbstractClaim("toy", "I", "A1", "holds", [("ch", "G1")], "a run"),
        AbstractClaim("toy", "I", "A2", "mixed bag", [("ch", "G1"), ("ch", "F1")], "a run"),
        AbstractClaim("toy", "I", "A3", "no data", [], "real data", "no data here"),
    ]
    return results, [Paper("toy", "I", "Toy paper", "0000.00000", claims)]


def test_status_page_opens_with_verdicts_then_summary_identities_and_details():
    results, papers = _page_inputs()
    page = render_status_page(results, "smoke", papers=papers, archived=[_result("F1", "pass", profile="paper")])
    order = [page.index(h) for h in ("### Part I — Toy paper", "## Summary per chapter", "## Identities", "## Every")]
    assert order == sorted(order)
    # list-table rows: "* - **A1** claim" then "  - verdicts, evidence, what would settle it"
    verdict_rows = {m.group(1): m.group(0) for m in re.finditer(r"^\* - \*\*(A\d)\*\*.*\n  - .*$", page, re.M)}
    assert "lsa-verdict-supported" in verdict_rows["A1"] and "at smoke" in verdict_rows["A1"]
    assert "lsa-verdict-mixed" in verdict_rows["A2"]
    archived_part = next(x for x in verdict_rows["A2"].split("<br>") if "(archived run)" in x)
    assert "lsa-verdict-supported" in archived_part and "at paper (archived run)" in archived_part
    assert "lsa-verdict-not-testable-here" in verdict_rows["A3"] and "no data here" in verdict_rows["A3"]
    assert "{ref}`ch G1 <claim-ch-g1>`" in verdict_rows["A1"]  # links to the claim in its chapter's box
    identities = page[page.index("## Identities") : page.index("## Every")]
    assert "ch I1" in identities and "ch G1" not in identities
    assert "I1" not in page[: page.index("## Summary per chapter")]  # an identity never appears as evidence
    # no emoji (status marks are words in badges); every table is a two-column list-table with the class whose CSS
    # wraps long words (no markdown pipe table, whose columns would squeeze at phone width)
    assert not re.search("[\U0001f300-\U0001faff\u2600-\u27bf]", page)
    assert not any(line.startswith("| ---") for line in page.splitlines())
    tables = page.split(":::{list-table}")[1:]
    assert len(tables) == 3  # one paper, the summary, the identities
    for t in tables:
        assert ":class: lsa-table" in t.split(":::")[0]
        first_row = t.split("\n* - ")[1].split("\n* - ")[0]
        assert first_row.count("\n  - ") == 1, first_row


def test_write_status_page_also_writes_the_landing_page_verdicts(tmp_path):
    results, papers = _page_inputs()
    write_status_page(tmp_path / "reproduction-status.md", results, "smoke", papers=papers, archived=[])
    table = (tmp_path / VERDICTS_FILE).read_text()
    assert "Toy paper" in table and "1 supported, 1 mixed, 0 not supported, 1 not testable here" in table
    assert "reproduction-status.md" in table
