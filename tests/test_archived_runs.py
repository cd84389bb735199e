"""Claims on the runs kept in the repository, and chapter outcome text that follows the evaluated claims.

(a) Every guarantee and identity holds on every archived run under ``results/``, re-evaluated with the current
ledger (a guarantee that breaks at ``paper`` fails here, not only at ``smoke``).
(b) Every chapter evaluates without error at every profile for which a run is archived (or, in runs/, made by the
current code): each declared claim is either evaluable there or ``n/a`` with a stated reason (``not measured`` when
an archived run predates its metric).
(c) A tiny chapter whose parameter flips a finding: the "What this run shows" box and a title formatted from the
run's metrics follow the evaluated status.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lsa.runner.archive import archived_runs
from lsa.runner.claims import PROFILES, is_defect
from lsa.runner.outcome import TITLE, outcome_box

REPO = Path(__file__).resolve().parents[1]
ARCHIVED = archived_runs(REPO)
IDS = [f"{a.run['profile']}/{a.run['chapter']}" for a in ARCHIVED]


def test_there_are_archived_runs_to_check():
    assert ARCHIVED, "results/ holds no archived run: the checks below would check nothing"


@pytest.mark.parametrize("archived", ARCHIVED, ids=IDS)
def test_guarantees_and_identities_hold_on_every_archived_run(archived):
    checked = [c for c in archived.claims if c.kind in ("guarantee", "identity")]
    broken = [f"{c.id} ({c.kind}): {c.status} {c.detail} — measured {c.measured}" for c in checked if is_defect(c)]
    assert not broken, f"{archived.path}: " + "; ".join(broken)
    assert any(c.status == "pass" for c in checked) or not checked


@pytest.mark.parametrize("archived", ARCHIVED, ids=IDS)
def test_every_declared_claim_evaluates_at_the_archived_runs_profile(archived):
    profile = archived.run["profile"]
    assert profile in PROFILES
    errors = [f"{c.id}: {c.detail}" for c in archived.claims if c.status == "error"]
    assert not errors, f"{archived.path} ({profile}): claims that error: " + "; ".join(errors)
    for c in archived.claims:
        assert c.status in ("pass", "fail", "n/a", "not measured"), c
        if c.status in ("n/a", "not measured"):
            assert c.detail.strip(), f"{c.chapter}:{c.id} is {c.status} at {profile} without a reason"


def test_every_up_to_date_local_run_evaluates_without_error():
    """The same at every profile with a run in runs/ made by the current code (the runs `lsa book` would show)."""
    from lsa.runner import runs_dir
    from lsa.runner.chapters import chapter_names, load_chapter
    from lsa.runner.claims import evaluate_chapter
    from lsa.runner.status import UP_TO_DATE, chapter_status

    errors = []
    for name in chapter_names():
        for st in chapter_status(name):
            if st.state != UP_TO_DATE:
                continue
            metrics = json.loads((runs_dir() / name / st.key / "metrics.json").read_text())
            for c in evaluate_chapter(load_chapter(name), metrics, st.profile, st.key):
                if c.status == "error" or (c.status == "n/a" and not c.detail.strip()):
                    errors.append(f"{name}:{c.id} at {st.profile}: {c.status} {c.detail}")
    assert not errors, errors


# ---- (c) outcome text follows the evaluated status -----------------------------------------------------------

FLIP = """# %% [markdown]
# # Flip test chapter

# %% tags=["profiles"]
PROFILES = {"smoke": {}, "default": {}, "paper": {}}

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | paper
seed: int = 0  # seed
effect: float = 1.0  # the measured gap is this number

# %%
import lsa
from IPython.display import Markdown, display

gap = effect
title = f"The gap is {'positive' if gap > 0 else 'not positive'} (gap = {gap:.2f})"
display(Markdown(f"**{title}**"))
lsa.write_metrics({"gap": gap, "title": title})
"""

FLIP_CLAIMS = """- id: F1
  statement: "The gap is positive."
  source: ours
  kind: finding
  profiles: [smoke, default, paper]
  measured: gap
  check: "gap > 0"
  expected: "gap > 0"
- id: I1
  statement: "The gap is the gap."
  source: ours
  kind: identity
  profiles: [smoke, default, paper]
  measured: gap
  check: "gap == gap"
  expected: "always"
"""


@pytest.fixture
def flip_env(tmp_path, monkeypatch):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    (nb / "flip.py").write_text(FLIP)
    (nb / "flip.claims.yaml").write_text(FLIP_CLAIMS)
    env = {
        **os.environ,
        "LSA_NOTEBOOKS_DIR": str(nb),
        "LSA_RUNS_DIR": str(tmp_path / "runs"),
        "LSA_RESULTS_DIR": str(tmp_path / "results"),
    }
    for k, v in env.items():
        if k.startswith("LSA_"):
            monkeypatch.setenv(k, v)
    return tmp_path, env


def _run(env, effect):
    done = subprocess.run(
        [sys.executable, "-m", "lsa.cli", "run", "flip", "--profile", "smoke", "-q", "-p", f"effect={effect}"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    folder = Path(next(line for line in done.stdout.splitlines() if line.startswith("run folder:")).split(": ", 1)[1])
    return folder


def _shown_title(folder: Path) -> str:
    nb = nbformat.read(folder / "flip.ipynb", as_version=4)
    texts = [
        o.get("data", {}).get("text/markdown", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    ]
    return next(t for t in texts if "The gap is" in t)


@pytest.mark.parametrize("effect, status", [(1.0, "pass"), (-1.0, "fail")])
def test_outcome_box_and_title_follow_the_evaluated_status(flip_env, effect, status):
    from lsa.runner.chapters import load_chapter
    from lsa.runner.claims import evaluate_chapter

    root, env = flip_env
    folder = _run(env, effect)
    metrics = json.loads((folder / "metrics.json").read_text())
    results = evaluate_chapter(load_chapter("flip"), metrics, "smoke", folder.name)
    finding = next(r for r in results if r.id == "F1")
    assert finding.status == status

    # the title the notebook showed was formatted from the same metric, so it says what the claim's status says
    title = _shown_title(folder)
    assert ("not positive" in title) == (status == "fail")
    assert f"{effect:.2f}" in title

    box = outcome_box(results)
    assert box.startswith(f"## {TITLE}")
    if status == "pass":
        assert "1 of 1 findings are borne out" in box and "NOT borne out" not in box
        assert "lsa-status-pass" in box.split("(claim-flip-f1)=")[1].split("\n")[1]
    else:
        assert "0 of 1 findings are borne out, 1 are not" in box
        assert "The finding is NOT borne out on this run" in box
        assert "lsa-status-fail" in box.split("(claim-flip-f1)=")[1].split("\n")[1]
    # the identity is listed apart, after the findings, as a consistency check
    assert box.index("Consistency checks (identities)") < box.index("(claim-flip-i1)=")
    assert box.index("(claim-flip-f1)=") < box.index("Consistency checks (identities)")
    assert f"gap = {effect:g}" in box

    # and the rendered chapter page carries the box (book furniture built from the same run)
    from lsa.runner.chapter_page import decorate_notebook, shown_run

    chapter = load_chapter("flip")
    shown = shown_run(chapter, folder, "smoke", results)
    page = decorate_notebook(nbformat.read(folder / "flip.ipynb", as_version=4), chapter, shown, {}, None, REPO)
    boxes = [c.source for c in page.cells if c.cell_type == "markdown" and c.source.startswith(f"## {TITLE}")]
    assert boxes == [box]
