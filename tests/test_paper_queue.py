"""The paper queue: planning (inputs, packages, budget), a dry run of the real queue, and a real tiny queue."""

import json
import subprocess
import sys
from importlib import metadata

import pytest

from lsa.runner.chapters import chapter_names
from lsa.runner.paper_queue import (
    ORDER,
    QueueError,
    device_requirements,
    missing_inputs,
    missing_packages,
    plan,
    run_queue,
)

TINY = """# %% [markdown]
# # Tiny queued chapter

# %% tags=["profiles"]
PROFILES = {"smoke": {}, "default": {}, "paper": {"n": 3}}

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | paper
seed: int = 0  # seed
n: int = 1  # number of things

# %%
import os

import lsa

if os.environ.get("TINY_FAIL") == "NAME":
    raise RuntimeError("deliberate failure for the test")
lsa.write_metrics({"n": n})
"""


def test_real_queue_dry_run_plans_every_offline_chapter_and_names_what_is_missing():
    proc = subprocess.run(
        [sys.executable, "-m", "lsa.cli", "paper", "--dry-run", "--budget", "100000"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert {entry[0] for entry in ORDER} <= set(chapter_names()), "the queue names a chapter that does not exist"
    for name, *_ in ORDER:
        assert any(line.split()[:2] in (["plan", name + ":"], ["skip", name + ":"]) for line in lines), name
    pruning = next(line for line in lines if line.startswith("skip  pruning_perplexity:"))
    assert "model=facebook/opt-125m" in pruning  # a hub id is never downloaded
    assert lines[-1].endswith("(dry run)")


def test_every_chapter_of_the_book_is_in_the_queue():
    from lsa.runner.chapters import toc_chapters

    assert set(toc_chapters()) == {entry[0] for entry in ORDER}


def test_missing_inputs(tmp_path):
    (tmp_path / "here").mkdir()
    params = {"data_root": "here", "x_path": "absent", "model": "org/model", "other": "absent", "c_dir": ""}
    assert missing_inputs(params, tmp_path) == ["x_path=absent", "model=org/model"]
    assert missing_inputs({"model": str(tmp_path / "here")}, tmp_path) == []


def test_missing_packages_reads_the_chapter_and_its_lsa_closure(tmp_path):
    src = tmp_path / "ch.py"
    src.write_text("import json\nimport numpy\nfrom no_such_package_xyz import thing\nimport lsa.linalg\n")
    assert missing_packages(src) == ["no_such_package_xyz"]


def test_device_requirements_pin_the_installed_versions_and_leave_the_stack_out():
    reqs = dict(r.split("==") for r in device_requirements())
    for name in ("papermill", "jupytext", "ipykernel", "nilearn", "nibabel"):
        assert reqs[name] == metadata.version(name)
    assert "numpy" not in reqs and "torch" not in reqs and "scipy" not in reqs
    with pytest.raises(QueueError, match="not installed"):
        device_requirements(roots=("no-such-distribution-xyz",))


def test_bad_requests_are_refused_before_anything_runs():
    with pytest.raises(QueueError, match="budget"):
        run_queue(0)
    with pytest.raises(QueueError, match="not in the paper queue"):
        plan(["no_such_chapter"])


@pytest.fixture
def tiny_repo(tmp_path, monkeypatch):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    for name in ("qa", "qb", "qc"):
        (nb / f"{name}.py").write_text(TINY.replace("NAME", name))
    monkeypatch.setenv("LSA_NOTEBOOKS_DIR", str(nb))
    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LSA_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("TINY_FAIL", "qb")
    return tmp_path


@pytest.mark.slow
def test_a_real_queue_runs_archives_skips_and_survives_a_failure(tiny_repo):
    order = (("qa", 1.0, 1.0), ("qb", 1.0, 1.0), ("qc", 1.0, 1.0))
    log = []
    items = run_queue(600, order=order, root=tiny_repo, log=log.append)
    status = {i.chapter: i.status for i in items}
    assert status == {"qa": "archived", "qb": "failed", "qc": "archived"}, log
    assert "exit 1" in items[1].reason
    for name in ("qa", "qc"):
        archived = tiny_repo / "results" / "paper" / name
        assert json.loads((archived / "metrics.json").read_text()) == {"n": 3}  # the paper profile ran
        assert json.loads((archived / "params.json").read_text())["profile"] == "paper"
    assert not (tiny_repo / "results" / "paper" / "qb").exists()
    # a chapter whose expected time exceeds the budget is skipped, not started (qb has no archived run, so
    # its planning figure counts; qa's archived wall time would replace the planning figure)
    items = run_queue(5, order=(("qb", 1e6, 1e6),), root=tiny_repo, log=log.append)
    assert items[0].status == "skipped" and "left" in items[0].reason


def test_a_chapter_without_an_archived_paper_run_says_what_it_needs_and_how_to_run_it():
    from lsa.runner.chapter_page import paper_pending_section
    from lsa.runner.chapters import load_chapter

    nc = paper_pending_section(load_chapter("neural_collapse_levels"))
    assert "## At paper scale" in nc and "-p cifar_root=" in nc and "lsa archive runs/neural_collapse_levels" in nc
    pruning = paper_pending_section(load_chapter("pruning_perplexity"))
    assert "-p model=" in pruning and "-p wikitext_path=" in pruning
    ridge = paper_pending_section(load_chapter("alignment_ridge"))
    assert "needs no external data" in ridge and "`lsa paper alignment_ridge`" in ridge
