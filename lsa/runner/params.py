"""The ``parameters`` and ``profiles`` cells of a chapter: parsing, validation and resolution.

A chapter's parameters cell holds typed, commented assignments (``steps: int = 6000  # gradient steps``);
its profiles cell holds a literal ``PROFILES`` dict. ``lsa run`` validates every override against them
*before* anything executes (see ``book/chapter-contract.md``).

A comment may start with a **constraint** that every value (default, profile value, override; each element of
a list) must satisfy, checked before anything runs:

* an interval ``[1, inf)``, ``(0, inf)``, ``[0, 1]``, ``(-inf, 0]`` (square bracket: end included; round:
  excluded; ``inf``/``-inf`` for no bound), for ``int`` / ``float`` and their lists;
* a set of choices ``{relu, tanh, identity}`` (for ``str``; numbers for ``int``/``float``).

Path-like parameters (names ending in ``_path``, ``_dir`` or ``_root``) are made absolute by :func:`resolve`:
a value typed on the command line is relative to the directory ``lsa`` was run from, a value written in the
chapter (default or profile) is relative to the repository root (see :func:`absolute_path`).
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TYPES = ("int", "float", "bool", "str", "list[int]", "list[float]", "list[str]")
PROFILE_NAMES = ("smoke", "default", "paper")


PATH_SUFFIXES = ("_path", "_dir", "_root")


class ParameterError(ValueError):
    """A parameter override, a parameters cell or a profiles cell is invalid (exit status 2)."""


@dataclass(frozen=True)
class Constraint:
    """A declared range or set of choices of a parameter (the leading ``[a, b)`` / ``{x, y}`` of its comment)."""

    text: str
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = False
    high_closed: bool = False
    choices: tuple | None = None

    def admits(self, v: Any) -> bool:
        """Whether the scalar ``v`` satisfies the constraint."""
        if self.choices is not None:
            return v in self.choices
        above = v >= self.low if self.low_closed else v > self.low
        below = v <= self.high if self.high_closed else v < self.high
        return bool(above and below)


_INTERVAL = re.compile(r"^([\[(])\s*([^,\[\]()]+?)\s*,\s*([^,\[\]()]+?)\s*([\])])")
_CHOICES = re.compile(r"^\{([^{}]*)\}")


def _number(text: str, kind: str) -> float:
    t = text.strip().lower()
    if t in ("inf", "+inf", "∞", "+∞"):
        return math.inf
    if t in ("-inf", "-∞"):
        return -math.inf
    value = float(t)  # ValueError: reported by the caller
    return int(value) if kind == "int" and value.is_integer() else value


def parse_constraint(comment: str, type_str: str, where: str) -> Constraint | None:
    """The constraint at the start of a parameter's comment, or ``None`` when the comment has none.

    Raises
    ------
    ParameterError
        A comment that starts with ``[`` or ``{`` but is not a valid constraint for the type, or an interval
        on a ``str`` / ``bool`` parameter.
    """
    scalar = type_str[5:-1] if type_str.startswith("list[") else type_str
    text = comment.strip()
    m = _CHOICES.match(text)
    if m:
        items = [x.strip() for x in m.group(1).split(",")]
        if not all(items):
            raise ParameterError(f"{where}: empty choice in {m.group(0)!r}")
        if scalar == "str":
            choices = tuple(items)
        elif scalar in ("int", "float"):
            try:
                choices = tuple(_number(x, scalar) for x in items)
            except ValueError:
                raise ParameterError(f"{where}: choices {m.group(0)!r} are not {scalar} values") from None
        else:
            raise ParameterError(f"{where}: a {type_str} parameter cannot declare choices")
        return Constraint(m.group(0), choices=choices)
    m = _INTERVAL.match(text)
    if m and (text[0] == "[" or scalar in ("int", "float")):
        if scalar not in ("int", "float"):
            raise ParameterError(f"{where}: an interval {m.group(0)!r} needs an int or float parameter")
        try:
            low, high = _number(m.group(2), scalar), _number(m.group(3), scalar)
        except ValueError:
            raise ParameterError(f"{where}: bounds of {m.group(0)!r} must be numbers or inf") from None
        if low > high:
            raise ParameterError(f"{where}: empty interval {m.group(0)!r}")
        return Constraint(m.group(0), low, high, m.group(1) == "[", m.group(4) == "]")
    if text.startswith(("[", "{")):
        raise ParameterError(
            f"{where}: the comment starts with {text[0]!r} but is not a constraint; write an interval such as "
            "'[1, inf)' or '(0, 1]', or choices such as '{relu, tanh}', then the description"
        )
    return None


@dataclass(frozen=True)
class Param:
    """One chapter parameter: name, declared type, default value, its comment and its declared constraint."""

    name: str
    type: str
    default: Any
    comment: str
    constraint: Constraint | None = field(default=None, compare=False)

    @property
    def is_path(self) -> bool:
        """Path-like (``*_path``, ``*_dir``, ``*_root``): resolved to an absolute path by :func:`resolve`."""
        return self.type == "str" and self.name.endswith(PATH_SUFFIXES)


def _comments_by_line(source: str) -> dict[int, str]:
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def parse_parameters_cell(source: str, where: str = "parameters cell") -> list[Param]:
    """Parse a parameters cell into :class:`Param` records.

    Raises
    ------
    ParameterError
        On any statement that is not ``name: type = literal``, an unsupported type, or a default that does
        not match its declared type.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParameterError(f"{where}: not valid Python: {exc}") from None
    comments = _comments_by_line(source)
    params = []
    for node in tree.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            raise ParameterError(f"{where}, line {node.lineno}: expected 'name: type = value  # comment'")
        type_str = ast.unparse(node.annotation).replace(" ", "")
        if type_str not in TYPES:
            raise ParameterError(
                f"{where}, line {node.lineno}: type {type_str!r} of {node.target.id!r} is not one of {', '.join(TYPES)}"
            )
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ParameterError(
                f"{where}, line {node.lineno}: default of {node.target.id!r} must be a literal"
            ) from None
        # the comment may sit on any line of the statement (a formatter wraps long defaults over several lines)
        comment = next((comments[i] for i in range(node.lineno, node.end_lineno + 1) if i in comments), "")
        if "=" in comment:
            raise ParameterError(
                f"{where}, line {node.lineno}: the comment of {node.target.id!r} contains '=', which "
                "papermill's parameter parser cannot read; reword it"
            )
        constraint = parse_constraint(comment, type_str, f"{where}, line {node.lineno} ({node.target.id!r})")
        param = Param(node.target.id, type_str, None, comment, constraint)
        try:
            value = check_value(param, default)
        except ParameterError as exc:
            raise ParameterError(f"{where}, line {node.lineno}: default: {exc}") from None
        params.append(Param(param.name, type_str, value, comment, constraint))
    names = [p.name for p in params]
    for required in ("profile", "seed"):
        if required not in names:
            raise ParameterError(f"{where}: the parameter {required!r} is required by the chapter contract")
    return params


def check_value(param: Param, value: Any) -> Any:
    """Return ``value`` converted to ``param.type`` (ints accepted for floats) or raise :class:`ParameterError`."""

    def scalar(kind: str, v: Any) -> Any:
        if kind == "bool" and isinstance(v, bool):
            return v
        if kind == "int" and isinstance(v, int) and not isinstance(v, bool):
            return v
        if kind == "float" and isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        if kind == "str" and isinstance(v, str):
            return v
        raise ParameterError(f"parameter {param.name!r} expects {param.type}, got {v!r}")

    def admitted(v: Any) -> Any:
        c = param.constraint
        if c is not None and not c.admits(v):
            kind = "one of" if c.choices is not None else "in"
            raise ParameterError(f"parameter {param.name!r} must be {kind} {c.text}, got {v!r}")
        return v

    if param.type.startswith("list["):
        if not isinstance(value, (list, tuple)):
            raise ParameterError(f"parameter {param.name!r} expects {param.type}, got {value!r}")
        return [admitted(scalar(param.type[5:-1], v)) for v in value]
    return admitted(scalar(param.type, value))


def parse_override(param: Param, raw: str) -> Any:
    """Convert the string of ``-p name=value`` to the parameter's type.

    ``bool`` accepts true/false/1/0/yes/no; lists accept JSON or Python literals (``[0.01, 0.02]``) or a bare
    comma-separated list (``0.01,0.02``); ``str`` takes the text as is. A value that opens a bracket or a quote
    must be a complete literal: ``[0.01,`` is an error, never ``[0.01]``.
    """
    raw = raw.strip()
    if param.type == "str":
        return check_value(param, raw)
    if param.type == "bool":
        low = raw.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ParameterError(f"parameter {param.name!r} expects bool (true/false), got {raw!r}")
    if param.type in ("int", "float"):
        try:
            number = int(raw) if param.type == "int" else float(raw)
        except ValueError:
            raise ParameterError(f"parameter {param.name!r} expects {param.type}, got {raw!r}") from None
        return check_value(param, number)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            inner = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
            if any(ch in inner for ch in "[](){}'\""):
                raise ParameterError(
                    f"parameter {param.name!r} expects {param.type}: {raw!r} is not a complete list literal "
                    "(write [a, b, ...] or a bare a,b,...)"
                ) from None
            parts = [v.strip() for v in inner.split(",")]
            if len(parts) > 1 and "" in parts:
                raise ParameterError(f"parameter {param.name!r} expects {param.type}: empty item in {raw!r}") from None
            value = [v for v in parts if v]
            if param.type != "list[str]":
                kind = int if param.type == "list[int]" else float
                try:
                    value = [kind(v) for v in value]
                except ValueError:
                    raise ParameterError(f"parameter {param.name!r} expects {param.type}, got {raw!r}") from None
    if isinstance(value, (int, float, str)):  # one bare item: -p lambdas=0.5
        value = [value]
    return check_value(param, value)


def parse_profiles_cell(source: str, params: list[Param], where: str = "profiles cell") -> dict[str, dict]:
    """Parse ``PROFILES = {...}`` and validate every name and value against the parameters."""
    try:
        tree = ast.parse(source)
        assign = next(
            n
            for n in tree.body
            if isinstance(n, ast.Assign) and [t.id for t in n.targets if isinstance(t, ast.Name)] == ["PROFILES"]
        )
        profiles = ast.literal_eval(assign.value)
    except (SyntaxError, StopIteration, ValueError):
        raise ParameterError(f"{where}: expected a literal assignment 'PROFILES = {{...}}'") from None
    if not isinstance(profiles, dict) or set(profiles) != set(PROFILE_NAMES):
        raise ParameterError(f"{where}: PROFILES must have exactly the keys {PROFILE_NAMES}")
    by_name = {p.name: p for p in params}
    for prof, values in profiles.items():
        for name, value in values.items():
            if name not in by_name or name == "profile":
                raise ParameterError(f"{where}: profile {prof!r} sets unknown parameter {name!r}")
            try:
                values[name] = check_value(by_name[name], value)
            except ParameterError as exc:
                raise ParameterError(f"{where}: profile {prof!r}: {exc}") from None
    return profiles


def absolute_path(value: str, base: Path) -> str:
    """``value`` made absolute against ``base`` (``~`` expanded) when that path exists.

    The empty string stays empty, and a relative value that names nothing under ``base`` is kept as typed: it
    may be a model id of a local Hugging Face cache (``gpt2``), or the chapter reports the missing file.
    """
    if not value:
        return value
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    candidate = (Path(base) / path).resolve()
    return str(candidate) if candidate.exists() else value


def resolve(
    params: list[Param],
    profiles: dict[str, dict],
    profile: str,
    overrides: dict[str, str],
    cwd: Path | None = None,
    repo: Path | None = None,
) -> dict:
    """Resolved parameter values: defaults, then the profile's values, then the user's overrides.

    Path-like values (:attr:`Param.is_path`) become absolute: overrides against ``cwd`` (default: the
    working directory ``lsa`` was run from), the chapter's own values against ``repo`` (default: the
    repository root), so the chapter, which runs inside its run folder, reads the file the user meant.

    Raises
    ------
    ParameterError
        Unknown profile, unknown parameter (the message lists every valid name with its type) or a value of
        the wrong type.
    """
    if profile not in PROFILE_NAMES:
        raise ParameterError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILE_NAMES)}")
    by_name = {p.name: p for p in params}
    unknown = [n for n in overrides if n not in by_name]
    if unknown:
        valid = ", ".join(f"{p.name} ({p.type})" for p in params if p.name != "profile")
        raise ParameterError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; valid parameters: {valid}")
    if "profile" in overrides:
        raise ParameterError("set the profile with --profile, not -p profile=...")
    values = {p.name: p.default for p in params}
    values.update(profiles.get(profile, {}))
    chapter_paths = [p.name for p in params if p.is_path and values[p.name]]
    if chapter_paths:
        from lsa.paths import repo_root

        base = Path(repo) if repo is not None else repo_root()
        for name in chapter_paths:
            values[name] = absolute_path(values[name], base)
    for name, raw in overrides.items():
        values[name] = parse_override(by_name[name], raw) if isinstance(raw, str) else check_value(by_name[name], raw)
        if by_name[name].is_path:
            values[name] = absolute_path(values[name], Path(cwd) if cwd is not None else Path(os.getcwd()))
    values["profile"] = profile
    return values
