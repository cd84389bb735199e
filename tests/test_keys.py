"""The run key: which edits invalidate which chapters, why a run is stale, and the closure's soundness rule.

Every test that edits code edits a *copy* of the package (``lsa.digests.PACKAGE_ROOT`` monkeypatched to it), never
the working tree.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import lsa.digests as digests
from lsa.digests import import_closure
from lsa.runner import REPO_ROOT, keys
from lsa.runner.keys import explain_change, key_inputs

REAL_NOTEBOOKS = REPO_ROOT / "notebooks"
PRUNING = {"pruning_cost", "pruning_perplexity"}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A copy of ``lsa/`` and of the chapter sources; digests read the copy."""
    shutil.copytree(digests.PACKAGE_ROOT, tmp_path / "lsa", ignore=shutil.ignore_patterns("__pycache__"))
    nb = tmp_path / "notebooks"
    nb.mkdir()
    for p in REAL_NOTEBOOKS.glob("*.py"):
        shutil.copy(p, nb / p.name)
    monkeypatch.setattr(digests, "PACKAGE_ROOT", tmp_path / "lsa")
    return tmp_path


def all_keys(root: Path) -> dict[str, str]:
    # the parameters do not matter for which code a chapter can execute: a fixed dict keeps the test independent
    # of every chapter's parameter cell
    return {p.stem: key_inputs(p, {"profile": "smoke"}).key() for p in sorted((root / "notebooks").glob("*.py"))}


def changed(before: dict, after: dict) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def test_comment_in_prune_masks_invalidates_exactly_the_two_pruning_chapters(tree):
    before = all_keys(tree)
    assert PRUNING <= set(before) and len(before) > 2
    old = key_inputs(tree / "notebooks" / "pruning_cost.py", {"profile": "smoke"})
    masks = tree / "lsa" / "prune" / "masks.py"
    masks.write_text(masks.read_text() + "\n# a comment\n")
    after = all_keys(tree)
    assert changed(before, after) == PRUNING
    new = key_inputs(tree / "notebooks" / "pruning_cost.py", {"profile": "smoke"})
    assert explain_change(old.to_dict(), new) == ["code: lsa/prune/masks.py changed"]


def test_edits_to_the_cli_and_runner_internals_invalidate_no_chapter(tree):
    before = all_keys(tree)
    for rel in ("cli.py", "runner/status.py", "runner/execute.py"):
        path = tree / "lsa" / rel
        path.write_text(path.read_text() + "\nX_TEST = 1\n")
    assert changed(before, all_keys(tree)) == set()


def test_an_edit_in_a_module_reached_only_inside_a_function_counts(tree):
    (tree / "lsa" / "lazy_probe.py").write_text("VALUE = 1\n")
    masks = tree / "lsa" / "prune" / "masks.py"
    masks.write_text(
        masks.read_text() + "\n\ndef _probe():\n    from lsa.lazy_probe import VALUE\n\n    return VALUE\n"
    )
    assert "lsa.lazy_probe" in import_closure([tree / "notebooks" / "pruning_cost.py"])
    before = all_keys(tree)
    (tree / "lsa" / "lazy_probe.py").write_text("VALUE = 2\n")
    assert changed(before, all_keys(tree)) == PRUNING


def test_lsa_package_imports_no_part_into_every_closure():
    # ``import lsa`` (every chapter) must not drag a Part's modules into every run key
    assert set(import_closure(["lsa"])) == {"lsa", "lsa.device", "lsa.report"}


def test_no_lsa_module_is_imported_by_a_computed_name():
    """The soundness rule of the static closure: code a chapter can execute imports lsa modules only by plain
    import statements (tooling no chapter imports, such as the runner, may introspect modules by name)."""
    chapters = sorted(REAL_NOTEBOOKS.glob("*.py"))
    reachable = {m for ch in chapters for m in import_closure([ch])}
    offenders = []
    for path in [*(digests.module_path(m) for m in sorted(reachable)), *chapters]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lsa"):
                if any(a.name == "*" for a in node.names):
                    offenders.append(f"{path}: from {node.module} import *")
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in ("import_module", "__import__") and not (
                    node.args and isinstance(node.args[0], ast.Constant) and not node.args[0].value.startswith("lsa")
                ):
                    offenders.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def test_explain_change_names_parameters_data_and_packages(monkeypatch):
    path = REAL_NOTEBOOKS / "alignment_ridge.py"
    old = key_inputs(path, {"profile": "smoke", "seed": 0, "steps": 10}).to_dict()
    versions = {**keys.package_versions(), "torch": "0.0-test"}
    monkeypatch.setattr(keys, "package_versions", lambda: versions)
    new = key_inputs(path, {"profile": "smoke", "seed": 1, "steps": 10})
    assert explain_change(old, new) == [
        "parameter seed: 0 → 1",
        f"package torch: {old['packages']['torch']} → 0.0-test",
    ]
    assert new.key() != keys.KeyInputs.from_dict(old).key()
    assert keys.KeyInputs.from_dict(new.to_dict()).key() == new.key()  # run.json round trip keeps the key
    assert explain_change(None, new) == ["the previous run predates recorded key inputs (made by an older runner)"]


def test_metrics_cell_is_hidden_input_and_parameter_cells_collapsed():
    from lsa.runner.execute import _mark_hidden

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("plot(x)"),
        nbformat.v4.new_code_cell("lsa.write_metrics({'x': x})"),
    ]
    _mark_hidden(nb)
    assert [c.metadata.get("tags", []) for c in nb.cells] == [["parameters", "hide-cell"], [], ["hide-input"]]


TINY = """# %% [markdown]
# # Tiny

# %% tags=["profiles"]
PROFILES = {"smoke": {"n": 2}, "default": {}, "paper": {}}

# %% tags=["parameters"]
profile: str = "default"  # profile
seed: int = 0  # seed
n: int = 5  # n

# %%
import lsa

lsa.write_metrics({"n": n})
"""


def test_status_says_never_run_up_to_date_and_why_stale(tmp_path):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    (nb / "tiny.py").write_text(TINY)
    (nb / "tiny.claims.yaml").write_text("[]\n")
    env = {**os.environ, "LSA_NOTEBOOKS_DIR": str(nb), "LSA_RUNS_DIR": str(tmp_path / "runs")}

    def lsa(*args):
        out = subprocess.run([sys.executable, "-m", "lsa.cli", *args], capture_output=True, text=True, env=env)
        assert out.returncode in (0, 1), out.stderr
        return out

    out = lsa("status", "--profile", "smoke", "--check")
    assert out.returncode == 1 and "never run" in out.stdout
    assert lsa("run", "tiny", "--profile", "smoke", "-q").returncode == 0
    (run,) = [p for p in (tmp_path / "runs" / "tiny").iterdir() if p.is_dir()]
    recorded = json.loads((run / "run.json").read_text())["key_inputs"]
    assert recorded["params"] == {"profile": "smoke", "seed": 0, "n": 2} and "lsa.report" in recorded["modules"]
    out = lsa("status", "tiny", "--profile", "smoke", "--check")
    assert out.returncode == 0 and f"up to date ({run.name})" in out.stdout
    (nb / "tiny.py").write_text(TINY.replace('"smoke": {"n": 2}', '"smoke": {"n": 3}'))
    out = lsa("status", "tiny", "--profile", "smoke")
    assert "stale" in out.stdout
    assert "the chapter source changed" in out.stdout and "parameter n: 2 → 3" in out.stdout
