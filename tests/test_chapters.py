"""Every chapter of the table of contents runs at the `smoke` profile; its guarantees and identities hold.

Findings are only required to have been evaluated (pass or fail is their honest outcome). Runs land in the
normal runs/ folder, so `lsa book --profile smoke` (tests/test_book.py) reuses them.
"""

import pytest

from lsa.runner.chapters import load_chapter, toc_chapters
from lsa.runner.claims import load_claims
from lsa.runner.execute import run_chapter

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", toc_chapters())
def test_chapter_smoke_run_and_claims(name):
    chapter = load_chapter(name)
    declared = load_claims(chapter.claims_path, name)
    assert declared, f"{name} declares no claims"
    result = run_chapter(name, profile="smoke", progress=False)
    by_id = {r.id: r for r in result.claims}
    assert set(by_id) == {c.id for c in declared}
    broken = [
        f"{r.id}: {r.status} {r.detail} (measured {r.measured})"
        for r in result.claims
        if r.kind in ("guarantee", "identity") and r.status != "pass" and r.status != "n/a"
    ]
    assert not broken, f"{name}: guarantees or identities that do not hold at smoke: {broken}"
    unevaluated = [f"{r.id}: {r.detail}" for r in result.claims if r.kind == "finding" and r.status == "error"]
    assert not unevaluated, f"{name}: findings that could not be evaluated: {unevaluated}"
    assert any(r.status != "n/a" for r in result.claims), f"{name}: no claim applies at smoke"
    assert list((result.path / "figures").glob("*.png")), f"{name}: no figure saved"
