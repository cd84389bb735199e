"""The claims ledger: abstract claims (loader, validator), ledger semantics, verdicts."""

from pathlib import Path

import pytest
import yaml

from lsa.runner.claims import ClaimError, load_ledgers, load_paper, load_papers

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
