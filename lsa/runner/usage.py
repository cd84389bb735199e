"""Which ``lsa`` functions and classes each chapter uses, found by reading the chapters' code (never by hand).

A chapter (``notebooks/<name>.py``) uses an object when its code names it: ``from lsa.x import f``,
``lsa.x.f(...)`` or ``alias.f`` after ``import lsa.x as alias``. A chapter's driver modules in
:mod:`lsa.experiments` (which exist to run that chapter) are read the same way, and what they name counts as
used by the chapter too. Each name is resolved to the module that defines it, so a function re-exported by a
package is listed once, under its home. ``lsa book`` writes the result as the "Library use by chapter" page.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

from lsa.runner import REPO_ROOT

PAGE = "book/library-use.md"


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` of an attribute chain on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _absolute(module: str | None, level: int, here: str | None) -> str | None:
    if level == 0:
        return module
    if here is None:
        return None
    base = here.split(".")[:-level] if level else here.split(".")
    return ".".join(base + ([module] if module else []))


def referenced_names(source: str, here: str | None = None) -> set[str]:
    """Dotted names under ``lsa`` that ``source`` refers to (``lsa.linalg.principal_angles``, …).

    Parameters
    ----------
    source : str
        Python source (a chapter script or an ``lsa`` module).
    here : str, optional
        The module's own dotted name, to resolve relative imports (``from .x import f``).
    """
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> dotted lsa name
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "lsa" or a.name.startswith("lsa."):
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module, node.level, here)
            if module and (module == "lsa" or module.startswith("lsa.")):
                for a in node.names:
                    if a.name != "*":
                        aliases[a.asname or a.name] = f"{module}.{a.name}"
    found = set(aliases.values())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted:
                head, _, rest = dotted.partition(".")
                if head in aliases and rest:
                    found.add(f"{aliases[head]}.{rest}")
    return found


def resolve(dotted: str) -> tuple[str, str] | None:
    """``(home module, qualified name)`` of the ``lsa`` function or class that ``dotted`` names, else None.

    The longest importable module prefix is imported; the next component is looked up on it. Modules,
    constants and names that do not exist resolve to None.
    """
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        obj = getattr(module, parts[i], None)
        if obj is None or not (callable(obj) and hasattr(obj, "__qualname__")):
            return None
        home = getattr(obj, "__module__", "") or ""
        return (home, obj.__qualname__) if home.startswith("lsa.") else None
    return None


def chapter_usage(root: Path = REPO_ROOT, chapters: list[str] | None = None) -> dict[str, set[tuple[str, str]]]:
    """For each chapter, the ``(home module, name)`` of every ``lsa`` function or class its code uses."""
    root = Path(root)
    names = chapters or sorted(p.stem for p in (root / "notebooks").glob("*.py") if not p.name.startswith("_"))
    usage: dict[str, set[tuple[str, str]]] = {}
    for name in names:
        dotted = referenced_names((root / "notebooks" / f"{name}.py").read_text())
        drivers = {d for d in dotted if d.startswith("lsa.experiments.")}
        driver_modules = {".".join(d.split(".")[:3]) for d in drivers}
        for mod in sorted(driver_modules):
            path = root / Path(*mod.split(".")).with_suffix(".py")
            if path.is_file():
                dotted |= referenced_names(path.read_text(), here=mod)
        usage[name] = {r for r in map(resolve, sorted(dotted)) if r is not None and not r[1].startswith("_")}
    return usage


def render_usage_page(usage: dict[str, set[tuple[str, str]]]) -> str:
    """Markdown of the generated page: the reverse index (object → chapters), by module."""
    by_object: dict[tuple[str, str], list[str]] = defaultdict(list)
    for chapter, objs in usage.items():
        for obj in objs:
            by_object[obj].append(chapter)
    lines = [
        "# Library use by chapter",
        "",
        "Which chapters use each function and class of `lsa`, found by reading the code of the chapters (and of",
        "their drivers in `lsa.experiments`) when the book is built. A name missing here is not called by any",
        "chapter directly: it is a building block of the functions listed, or a tool for readers.",
        "",
    ]
    modules = sorted({m for m, _ in by_object})
    for module in modules:
        lines += [f"## `{module}`", "", "| object | used by |", "| --- | --- |"]
        for (m, qual), chapters in sorted(by_object.items()):
            if m == module:
                links = ", ".join(f"[{c}](chapters/{c}.ipynb)" for c in sorted(chapters))
                lines.append(f"| {{py:obj}}`{qual} <{m}.{qual}>` | {links} |")
        lines.append("")
    if not modules:
        lines.append("No chapter uses the library yet.")
    return "\n".join(lines) + "\n"


def write_usage_page(root: Path = REPO_ROOT, chapters: list[str] | None = None) -> Path:
    """Write ``book/library-use.md`` from the chapters' code (called by ``lsa book``)."""
    path = Path(root) / PAGE
    text = render_usage_page(chapter_usage(root, chapters))
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path
