"""The ``parameters`` and ``profiles`` cells of a chapter: parsing, validation and resolution.

A chapter's parameters cell holds typed, commented assignments (``steps: int = 6000  # gradient steps``);
its profiles cell holds a literal ``PROFILES`` dict. ``lsa run`` validates every override against them
*before* anything executes (see ``book/chapter-contract.md``).
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from dataclasses import dataclass
from typing import Any

TYPES = ("int", "float", "bool", "str", "list[int]", "list[float]", "list[str]")
PROFILE_NAMES = ("smoke", "default", "paper")


class ParameterError(ValueError):
    """A parameter override, a parameters cell or a profiles cell is invalid (exit status 2)."""


@dataclass(frozen=True)
class Param:
    """One chapter parameter: name, declared type, default value and its comment."""

    name: str
    type: str
    default: Any
    comment: str


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
        comment = comments.get(node.lineno, "")
        if "=" in comment:
            raise ParameterError(
                f"{where}, line {node.lineno}: the comment of {node.target.id!r} contains '=', which "
                "papermill's parameter parser cannot read; reword it"
            )
        param = Param(node.target.id, type_str, None, comment)
        params.append(Param(param.name, type_str, check_value(param, default), param.comment))
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

    if param.type.startswith("list["):
        if not isinstance(value, (list, tuple)):
            raise ParameterError(f"parameter {param.name!r} expects {param.type}, got {value!r}")
        return [scalar(param.type[5:-1], v) for v in value]
    return scalar(param.type, value)


def parse_override(param: Param, raw: str) -> Any:
    """Convert the string of ``-p name=value`` to the parameter's type.

    ``bool`` accepts true/false/1/0/yes/no; lists accept JSON or Python literals (``[0.01, 0.02]``) or a bare
    comma-separated list (``0.01,0.02``); ``str`` takes the text as is.
    """
    raw = raw.strip()
    if param.type == "str":
        return raw
    if param.type == "bool":
        low = raw.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ParameterError(f"parameter {param.name!r} expects bool (true/false), got {raw!r}")
    if param.type in ("int", "float"):
        try:
            return check_value(param, int(raw) if param.type == "int" else float(raw))
        except ValueError:
            raise ParameterError(f"parameter {param.name!r} expects {param.type}, got {raw!r}") from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = [v.strip() for v in raw.strip("[]").split(",") if v.strip()]
            if param.type != "list[str]":
                kind = int if param.type == "list[int]" else float
                try:
                    value = [kind(v) for v in value]
                except ValueError:
                    raise ParameterError(f"parameter {param.name!r} expects {param.type}, got {raw!r}") from None
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
            values[name] = check_value(by_name[name], value)
    return profiles


def resolve(params: list[Param], profiles: dict[str, dict], profile: str, overrides: dict[str, str]) -> dict:
    """Resolved parameter values: defaults, then the profile's values, then the user's overrides.

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
    for name, raw in overrides.items():
        values[name] = parse_override(by_name[name], raw) if isinstance(raw, str) else check_value(by_name[name], raw)
    values["profile"] = profile
    return values
