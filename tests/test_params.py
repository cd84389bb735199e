"""Parameters are checked before anything runs: malformed values, declared ranges and choices, path resolution,
and every chapter's parameters cell (annotated, every parameter used)."""

from __future__ import annotations

import ast
import math

import jupytext
import pytest

from lsa import cli
from lsa.runner.chapters import chapter_names, load_chapter
from lsa.runner.params import (
    ParameterError,
    absolute_path,
    parse_constraint,
    parse_override,
    parse_parameters_cell,
    parse_profiles_cell,
    resolve,
)

HEAD = "profile: str = 'smoke'  # {smoke, default, paper}\nseed: int = 0  # [0, inf) seed\n"


def _param(line: str):
    return parse_parameters_cell(HEAD + line + "\n")[-1]


# ------------------------------------------------------------------------------------------- malformed values
@pytest.mark.parametrize("raw", ["[0.01,", "[0.01, 0.02", "0.01]", "[[0.01]", "0.01,,0.02", "'a"])
def test_malformed_lists_are_rejected(raw):
    p = _param("lambdas: list[float] = [0.0]  # [0, inf) weight decay")
    with pytest.raises(ParameterError, match="lambdas"):
        parse_override(p, raw)


@pytest.mark.parametrize(
    "raw, value",
    [("[0.01, 0.02]", [0.01, 0.02]), ("0.01,0.02", [0.01, 0.02]), ("0.5", [0.5]), ("[]", []), ("", [])],
)
def test_well_formed_lists_are_read(raw, value):
    p = _param("lambdas: list[float] = [0.0]  # [0, inf) weight decay")
    assert parse_override(p, raw) == value


def test_bare_word_lists():
    p = _param("acts: list[str] = ['relu']  # {relu, tanh} activations")
    assert parse_override(p, "[relu,tanh]") == ["relu", "tanh"]
    assert parse_override(p, "relu, tanh") == ["relu", "tanh"]
    with pytest.raises(ParameterError, match=r"must be one of \{relu, tanh\}, got 'gelu'"):
        parse_override(p, "relu,gelu")


# -------------------------------------------------------------------------------------------- constraints
@pytest.mark.parametrize(
    "comment, inside, outside",
    [
        ("[1, inf) steps", [1, 10**9], [0, -5]),
        ("(0, inf) rate", [1e-12, 3.0], [0.0, -1.0]),
        ("[0, 1] probability", [0.0, 1.0, 0.5], [-1e-9, 1.0000001]),
        ("(0, 1] fraction", [1.0, 1e-9], [0.0, 2.0]),
        ("[0, 1) momentum", [0.0, 0.99], [1.0]),
        ("(-inf, 0] shift", [-1e300, 0.0], [1e-9, math.inf]),
    ],
)
def test_intervals(comment, inside, outside):
    c = parse_constraint(comment, "float", "x")
    assert all(c.admits(v) for v in inside)
    assert not any(c.admits(v) for v in outside)


def test_constraint_messages_name_the_constraint():
    steps = _param("steps: int = 6000  # [1, inf) gradient steps")
    lr = _param("lr: float = 0.05  # (0, inf) learning rate")
    with pytest.raises(ParameterError, match=r"'steps' must be in \[1, inf\), got -5"):
        parse_override(steps, "-5")
    with pytest.raises(ParameterError, match=r"'lr' must be in \(0, inf\), got 0.0"):
        parse_override(lr, "0")
    widths = _param("hidden: list[int] = [32]  # [1, inf) widths")
    with pytest.raises(ParameterError, match=r"'hidden' must be in \[1, inf\), got 0"):
        parse_override(widths, "[32, 0]")
    assert parse_override(steps, "3") == 3 and parse_override(lr, "1e-3") == 1e-3


def test_choices_for_numbers_and_strings():
    p = _param("batch: int = 16  # {8, 16, 32} batch size")
    assert parse_override(p, "32") == 32
    with pytest.raises(ParameterError, match=r"one of \{8, 16, 32\}, got 12"):
        parse_override(p, "12")
    dev = _param("device: str = 'auto'  # {auto, cpu, cuda} device")
    with pytest.raises(ParameterError, match="device"):
        parse_override(dev, "tpu")


@pytest.mark.parametrize(
    "line, message",
    [
        ("steps: int = 0  # [1, inf) steps", r"default: parameter 'steps' must be in \[1, inf\)"),
        ("steps: int = 3  # [1, in) steps", "bounds"),
        ("steps: int = 3  # [5, 1] steps", "empty interval"),
        ("steps: int = 3  # {} steps", "empty choice"),
        ("name: str = 'a'  # [0, 1] label", "needs an int or float"),
        ("flag: bool = True  # {yes, no} flag", "cannot declare choices"),
        ("steps: int = 3  # [see below] steps", "not a constraint"),
    ],
)
def test_bad_declarations_fail_at_parse(line, message):
    with pytest.raises(ParameterError, match=message):
        parse_parameters_cell(HEAD + line + "\n")


def test_profiles_are_checked_against_constraints():
    params = parse_parameters_cell(HEAD + "steps: int = 3  # [1, inf) steps\n")
    with pytest.raises(ParameterError, match=r"profile 'smoke'.*must be in \[1, inf\)"):
        parse_profiles_cell("PROFILES = {'smoke': {'steps': 0}, 'default': {}, 'paper': {}}", params)


def test_prose_in_parentheses_is_not_a_constraint():
    assert _param("steps: int = 3  # (paper default) steps").constraint is None
    assert _param("name: str = 'a'  # (0, 1) is just prose for a str").constraint is None


def test_comment_of_a_wrapped_default():
    cell = HEAD + 'acts: list[str] = [\n    "relu",\n    "tanh",\n]  # {relu, tanh} activations\n'
    assert parse_parameters_cell(cell)[-1].constraint.choices == ("relu", "tanh")


# ------------------------------------------------------------------------------------------------ paths
def test_path_parameters_resolve_against_the_invocation_directory(tmp_path):
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "data.txt").write_text("x")
    (tmp_path / "repo" / "shipped").mkdir(parents=True)
    params = parse_parameters_cell(
        HEAD + "data_path: str = ''  # a file\nmodel_dir: str = 'shipped'  # a folder\nlabel: str = 'data.txt'  # x\n"
    )
    profiles = {"smoke": {}, "default": {}, "paper": {}}
    got = resolve(params, profiles, "smoke", {"data_path": "data.txt"}, cwd=tmp_path / "here", repo=tmp_path / "repo")
    assert got["data_path"] == str(tmp_path / "here" / "data.txt")  # typed: relative to where lsa ran
    assert got["model_dir"] == str(tmp_path / "repo" / "shipped")  # the chapter's own: relative to the repo
    assert got["label"] == "data.txt"  # not path-like: untouched
    empty = resolve(params, profiles, "smoke", {}, cwd=tmp_path / "here", repo=tmp_path / "repo")
    assert empty["data_path"] == ""


def test_absolute_path_keeps_ids_and_absolute_paths(tmp_path):
    assert absolute_path("gpt2", tmp_path) == "gpt2"  # names nothing there: a hub-cache id, kept as typed
    assert absolute_path(str(tmp_path), "/elsewhere") == str(tmp_path)
    assert absolute_path("", tmp_path) == ""


# ------------------------------------------------------------------------------------ the CLI, exit status 2
@pytest.mark.parametrize(
    "override, message",
    [
        ("lambdas=[0.01,", "not a complete list literal"),
        ("steps=-5", r"'steps' must be in \[1, inf\)"),
        ("lr=0", r"'lr' must be in \(0, inf\)"),
        ("activations=relu,swish", r"'activations' must be one of"),
    ],
)
def test_run_rejects_bad_values_before_anything_is_written(override, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LSA_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["run", "alignment_ridge", "--profile", "smoke", "-p", override]) == 2
    err = capsys.readouterr().err
    assert "lsa: error:" in err and __import__("re").search(message, err)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------- every chapter's cell
CHAPTERS = chapter_names()


def _names_used_outside_parameters(chapter) -> set[str]:
    nb = jupytext.read(chapter.path, fmt="py:percent")
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        # IPython magics and shell escapes are not Python
        src = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                names.add(node.id)
    return names


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_parameter_has_an_effect(name):
    """A declared parameter the chapter never reads would make ``-p name=...`` silently do nothing.

    ``profile`` is exempt: the runner reads it (it selects the profile's values) before the chapter runs."""
    chapter = load_chapter(name)
    used = _names_used_outside_parameters(chapter)
    assert [p.name for p in chapter.params if p.name != "profile" and p.name not in used] == []


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_declares_ranges(name):
    """Counts, sizes and seeds (every int parameter) and the common parameters declare their valid values."""
    params = {p.name: p for p in load_chapter(name).params}
    missing = [p.name for p in params.values() if p.type in ("int", "list[int]") and p.constraint is None]
    assert missing == []
    assert params["seed"].constraint is not None
    assert "torch_threads" not in params  # one vocabulary: cpu_threads
    if "device" in params:
        assert params["device"].constraint.choices == ("auto", "cpu", "cuda")
