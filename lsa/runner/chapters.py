"""Finding and reading chapters: ``notebooks/<name>.py`` jupytext scripts and the table of contents."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import yaml

from lsa.runner import REPO_ROOT
from lsa.runner.params import Param, ParameterError, parse_parameters_cell, parse_profiles_cell

CHAPTER_PAGE_DIR = "book/chapters"


class ChapterNotFound(LookupError):
    """No ``notebooks/<name>.py``; the message lists the chapters that exist."""


@dataclass
class Chapter:
    """A chapter source with its parsed parameters and profiles."""

    name: str
    path: Path
    title: str
    params: list[Param]
    profiles: dict[str, dict]
    source_sha256: str
    claims_path: Path = field(init=False)

    def __post_init__(self):
        self.claims_path = self.path.with_name(f"{self.name}.claims.yaml")


def notebooks_dir(root: Path = REPO_ROOT) -> Path:
    """Folder of chapter sources: ``notebooks/`` (or ``$LSA_NOTEBOOKS_DIR``, which the runner's tests use)."""
    return Path(os.environ.get("LSA_NOTEBOOKS_DIR", Path(root) / "notebooks"))


def chapter_names(root: Path = REPO_ROOT) -> list[str]:
    """Every chapter source in ``notebooks/`` (sorted)."""
    return sorted(p.stem for p in notebooks_dir(root).glob("*.py") if not p.name.startswith("_"))


def _cell_with_tag(nb, tag: str, path: Path):
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{path}: expected exactly one cell tagged {tag!r}, found {len(cells)}")
    return cells[0]


def load_chapter(name: str, root: Path = REPO_ROOT) -> Chapter:
    """Read and validate ``notebooks/<name>.py``.

    Raises
    ------
    ChapterNotFound
        Unknown name (lists the available chapters).
    ParameterError
        Malformed parameters or profiles cell.
    """
    path = notebooks_dir(root) / f"{name}.py"
    if not path.is_file():
        raise ChapterNotFound(
            f"unknown chapter {name!r}; available chapters: {', '.join(chapter_names(root)) or 'none'}"
        )
    text = path.read_text()
    nb = jupytext.reads(text, fmt="py:percent")
    params = parse_parameters_cell(_cell_with_tag(nb, "parameters", path).source, f"{path.name} parameters cell")
    profiles = parse_profiles_cell(_cell_with_tag(nb, "profiles", path).source, params, f"{path.name} profiles cell")
    title = next(
        (
            line.lstrip("# ").strip()
            for c in nb.cells
            if c.cell_type == "markdown"
            for line in c.source.splitlines()
            if line.startswith("# ")
        ),
        name,
    )
    return Chapter(name, path, title, params, profiles, hashlib.sha256(text.encode()).hexdigest())


def toc_chapters(root: Path = REPO_ROOT) -> list[str]:
    """Chapter names in ``_toc.yml`` order (entries ``book/chapters/<name>``)."""
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text())
    names: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            f = node.get("file")
            if isinstance(f, str) and f.startswith(CHAPTER_PAGE_DIR + "/"):
                names.append(f.split("/")[-1].removesuffix(".ipynb"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    return names
