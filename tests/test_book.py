"""The rendered site: Jupyter Book build of every chapter at `smoke` and the furniture `lsa book` generates.

The build (``site`` fixture, ``tests/conftest.py``) reuses the chapter runs that tests/test_chapters.py makes
(same keys), so each chapter executes once per test session. The headless-Chromium checks of every page are in
tests/test_site.py; the furniture's renderers are checked here on their own as well.
"""

import json
import re

import nbformat
import pytest

from lsa.runner.book import ensure_verdicts_page
from lsa.runner.chapter_page import claim_badge, decorate_notebook, header_card, rerun_command, shown_run
from lsa.runner.chapters import load_chapter, toc_chapters
from lsa.runner.citation import chapter_bibtex
from lsa.runner.claims import ClaimResult
from lsa.runner.params import resolve


def _result(status="pass", kind="guarantee"):
    return ClaimResult("alignment_ridge", "C3", "a statement", "derived", kind, "≤ 0.02", "0.01", "smoke", status)


def test_badge_names_kind_and_status_in_words():
    html = claim_badge(_result("fail", "finding"))
    assert "lsa-status-fail" in html and ">fail<" in html and "finding" in html
    assert 'href="../reproduction-status.html#alignment-ridge"' in html
    assert "lsa-status-na" in claim_badge(_result("n/a"))
    assert not re.search(r"[\u2600-\u27ff\U0001f300-\U0001faff]", html), "badges must need no emoji font"


def _fake_run(tmp_path, chapter, overrides):
    params = resolve(chapter.params, chapter.profiles, "smoke", overrides)
    run = tmp_path / "0123456789abcdef"
    run.mkdir()
    (run / "params.json").write_text(json.dumps(params))
    (run / "metrics.json").write_text("{}")
    prov = {"device": "cpu", "commit": "f" * 40, "dirty": False}
    info = {"key": run.name, "profile": "smoke", "seconds": 12.5, "finished": "2026-01-02T03:04:05Z"}
    (run / "run.json").write_text(json.dumps({**info, "provenance": prov}))
    return run


def test_rerun_command_reproduces_the_run_parameters(tmp_path):
    chapter = load_chapter("alignment_ridge")
    run = _fake_run(tmp_path, chapter, {"steps": "1234", "lambdas": "[0.01, 0.02]"})
    shown = shown_run(chapter, run, "smoke", claims=[_result()])
    cmd = rerun_command(chapter, shown)
    assert cmd.startswith("lsa run alignment_ridge --profile smoke")
    assert "-p steps=1234" in cmd and "-p lambdas='[0.01, 0.02]'" in cmd
    # parse the command back: the -p values resolve to exactly the run's parameters
    pairs = dict(m.groups() for m in re.finditer(r"-p (\w+)='?([^' \\]+(?: [^' \\]+)*)'?", cmd))
    assert resolve(chapter.params, chapter.profiles, "smoke", pairs) == shown.params


def test_header_card_and_page_furniture(tmp_path):
    chapter = load_chapter("alignment_ridge")
    run = _fake_run(tmp_path, chapter, {})
    shown = shown_run(chapter, run, "smoke", claims=[_result(), _result("fail", "finding")])
    card = header_card(shown)
    for fact in ("smoke", "0123456789abcdef", "ffffffffff", "cpu", "2026-01-02 03:04:05", "12 s", "1 pass, 1 fail"):
        assert fact in card, fact
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title\n\nclaim box"),
            nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters", "hide-cell"]}),
            nbformat.v4.new_code_cell("import a\nimport b\nimport c\nx = a.f()"),
            nbformat.v4.new_code_cell("y = 2"),
        ]
    )
    page = decorate_notebook(nb, chapter, shown, {"metrics.json": "m.json"})
    assert page.cells[0].source == "# Title" and "lsa-card" in page.cells[1].source
    assert "remove-cell" in page.cells[3].metadata["tags"]  # the parameters cell
    assert "hide-input" in page.cells[4].metadata["tags"] and "hide-input" not in page.cells[5].metadata["tags"]
    text = "\n".join(c.source for c in page.cells)
    assert "## Rerun this chapter" in text and "{download}`metrics.json <m.json>`" in text
    steps_row = next(line for line in text.splitlines() if line.startswith("| `steps` |"))
    assert "| `int` | `[1, inf)` |" in steps_row and "[1, inf) " not in steps_row.split("|")[-2], steps_row
    assert "## Cite this chapter" in text and "0123456789abcdef" in chapter_bibtex(chapter, run.name, "f" * 40, "smoke")
    assert len(nb.cells) == 4, "the run's notebook is not modified"


def test_verdicts_placeholder_only_when_missing(tmp_path):
    (tmp_path / "book").mkdir()
    path = ensure_verdicts_page(tmp_path)
    assert "No verdicts yet" in path.read_text()
    path.write_text("table")
    assert ensure_verdicts_page(tmp_path).read_text() == "table"


@pytest.mark.slow
def test_site_has_every_page(site):
    assert (site / "index.html").is_file()
    for name in toc_chapters():
        page = site / "book" / "chapters" / f"{name}.html"
        assert page.is_file(), f"chapter page missing: {page}"
        text = page.read_text()
        assert "lsa-card" in text and "Rerun this chapter" in text and "Cite this chapter" in text, name
        assert 'class="lsa-badge' in text, f"{name}: no claim badge"
    status = (site / "book" / "reproduction-status.html").read_text()
    assert "Reproduction status" in status and "guarantee" in status
    assert (site / "_static" / "mathjax" / "es5" / "tex-mml-chtml.js").is_file()
    bib = (site / "book" / "bibliography.html").read_text()
    # the plain style keeps only a title's first capital
    assert "flag varieties" in bib.lower() and "prevalence of neural collapse" in bib.lower()


def test_library_use_is_read_from_the_chapter_code(tmp_path):
    from lsa.runner.usage import chapter_usage, referenced_names, render_usage_page

    src = (
        "import lsa\nimport lsa.linalg as la\nfrom lsa.report import write_metrics\nfrom lsa import linalg\n"
        "x = la.principal_angles(a, b)\ny = lsa.linalg.effective_rank(s)\nz = linalg.soft_overlap(u, v)\n"
        "not_used = 'lsa.linalg.randomized_svd'\n"
    )
    names = referenced_names(src)
    assert {"lsa.linalg.principal_angles", "lsa.linalg.effective_rank", "lsa.linalg.soft_overlap"} <= names
    assert "lsa.report.write_metrics" in names and "lsa.linalg.randomized_svd" not in names
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "demo.py").write_text(src)
    usage = chapter_usage(tmp_path, ["demo"])["demo"]
    assert ("lsa.linalg", "principal_angles") in usage and ("lsa.report", "write_metrics") in usage
    assert all(module.startswith("lsa.") for module, _ in usage)
    page = render_usage_page({"demo": usage})
    assert "{py:obj}`principal_angles <lsa.linalg.principal_angles>`" in page and "(chapters/demo.ipynb)" in page


def test_citation_metadata_is_complete_and_consistent():
    import datetime
    import tomllib
    from pathlib import Path

    import yaml

    from lsa.runner.citation import PAPER_KEYS, book_bibtex, paper_bibtex

    root = Path(__file__).resolve().parents[1]
    cff = yaml.safe_load((root / "CITATION.cff").read_text())
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    assert cff["version"] == version, "CITATION.cff and pyproject.toml name different versions"
    assert isinstance(cff["date-released"], datetime.date)
    arxiv = {i["value"] for r in cff["references"] for i in r["identifiers"]}
    assert arxiv == {"arXiv:2605.09861", "arXiv:2605.02108", "arXiv:2605.02111", "arXiv:2602.07375", "arXiv:2405.16248"}
    assert f"version = {{{version}}}" in book_bibtex()
    papers = paper_bibtex()
    assert all(f"{{{key}," in papers for key in PAPER_KEYS)
