"""Stable digests of configurations, files and code, for run keys and library caches.

Two questions are answered here, once, for the whole package:

* *Which value is this?* :func:`stable_hash` digests JSON-like configurations (dicts, lists, scalars, paths,
  NumPy arrays and scalars, dataclasses). It refuses objects it cannot digest faithfully instead of falling
  back to ``str()``, whose truncated NumPy reprs make different arrays collide.
* *Which code produced it?* :func:`import_closure` follows the ``lsa`` imports of a module or a script
  statically (imports inside functions included), and :func:`code_digest` hashes the bytes of every module
  in that closure. A run key or a cache entry keyed by it is invalidated by an edit to any module that the
  producing code can execute, and by nothing else.

Why a static closure and not a depfile of the modules a run actually imported: the static closure is known
before anything runs (``lsa status`` can say a run is stale without executing it), it is a superset of what
can execute (a branch not taken this time still counts), and it costs a parse of ~100 small files. It
over-approximates in one way: a module imported but not used still counts, which is the safe direction.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from lsa.paths import PACKAGE_ROOT


# --------------------------------------------------------------------------------------------- values
def _canonical(obj: Any, where: str = "value") -> Any:
    """A JSON-serialisable canonical form of ``obj``, or :class:`TypeError` naming what cannot be hashed."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        # JSON has no NaN/inf; repr keeps them distinct and round-trips every finite float exactly.
        return x if math.isfinite(x) else {"__float__": repr(x)}
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return {"__path__": obj.as_posix()}
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        if arr.dtype == object:
            raise TypeError(f"stable_hash: {where} is an object array; convert it to a numeric array or a list")
        return {"__ndarray__": [arr.dtype.str, list(arr.shape), hashlib.sha256(arr.tobytes()).hexdigest()]}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__dataclass__": type(obj).__qualname__, "fields": _canonical(dataclasses.asdict(obj), where)}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"stable_hash: {where} has a key of type {type(k).__name__}; use str keys")
            out[str(k)] = _canonical(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        return {"__set__": sorted(json.dumps(_canonical(v, where), sort_keys=True) for v in obj)}
    raise TypeError(
        f"stable_hash: cannot digest {where} of type {type(obj).__module__}.{type(obj).__qualname__}; "
        "expected None, bool, int, float, str, Path, numpy array/scalar, dataclass, dict, list, "
        "tuple or set"
    )


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex digest of a configuration, independent of dict order.

    Parameters
    ----------
    obj : object
        ``None``, ``bool``, ``int``, ``float``, ``str``, :class:`~pathlib.Path`, NumPy arrays (by dtype, shape
        and bytes) and scalars, dataclass instances, and dicts / lists / tuples / sets of these.
    length : int
        Number of hex characters kept.

    Raises
    ------
    TypeError
        For any other object (naming where it sits inside ``obj``).
    """
    blob = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------------- code
def module_path(name: str) -> Path | None:
    """The source file of an ``lsa`` module (``lsa.alignment.ridge`` → ``.../alignment/ridge.py``), if any."""
    if name != "lsa" and not name.startswith("lsa."):
        return None
    parts = name.split(".")[1:]
    if not parts:
        return PACKAGE_ROOT / "__init__.py"
    rel = Path(*parts)
    for candidate in (PACKAGE_ROOT / rel.with_suffix(".py"), PACKAGE_ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.resolve().relative_to(PACKAGE_ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports_of_source(source: str, module: str | None, is_package: bool) -> set[str]:
    """The ``lsa`` modules named by every import statement in ``source`` (at any depth)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the importing module's package
                if module is None:
                    continue
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.add(target)
            # ``from lsa.gsa import zoo`` imports the submodule lsa.gsa.zoo
            names.update(f"{target}.{a.name}" for a in node.names)
    found = set()
    for name in names:
        if name == "lsa" or name.startswith("lsa."):
            # a dotted name imports each of its parent packages too
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                if module_path(".".join(parts[:i])) is not None:
                    found.add(".".join(parts[:i]))
    return found


@cache
def _direct_imports(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    module = _module_name(path)
    return frozenset(_imports_of_source(path.read_text(), module, path.name == "__init__.py"))


def import_closure(roots: Iterable[str | Path]) -> list[str]:
    """Every ``lsa`` module that the given modules or scripts can import, transitively, sorted.

    Parameters
    ----------
    roots : iterable of str or Path
        Module names (``"lsa.mri.segment"``) or paths of Python files. A path outside the package (a chapter
        script) contributes its imports but is not itself in the result.

    Returns
    -------
    list of str
        Module names, including the packages (``__init__``) on every imported dotted path.
    """
    todo: list[str] = []
    for root in roots:
        if isinstance(root, Path) or str(root).endswith(".py"):
            path = Path(root).resolve()
            if path.is_relative_to(PACKAGE_ROOT):
                todo.append(_module_name(path))
            else:
                todo.extend(_imports_of_source(path.read_text(), None, False))
        else:
            if module_path(str(root)) is None:
                raise ValueError(f"import_closure: {root!r} is not a module of the lsa package")
            todo.append(str(root))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_path(name)
        st = path.stat()
        todo.extend(_direct_imports(path, st.st_mtime_ns, st.st_size) - seen)
    return sorted(seen)


def code_digest(roots: Iterable[str | Path]) -> str:
    """SHA-256 over the names and bytes of every module in :func:`import_closure` of ``roots``."""
    h = hashlib.sha256()
    for name in import_closure(roots):
        h.update(name.encode() + b"\0" + module_path(name).read_bytes() + b"\0")
    return h.hexdigest()


def code_digests(roots: Iterable[str | Path]) -> dict[str, str]:
    """Per-module SHA-256 of the closure, for saying *which* module changed when a key moves."""
    return {name: file_digest(module_path(name)) for name in import_closure(roots)}
