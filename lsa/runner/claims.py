"""The claims ledger: claims declared next to each chapter, evaluated against a run's ``metrics.json``.

Each claim's ``check`` is a Python expression over metric names, evaluated by a small whitelisting
interpreter (no attribute access, no imports, only the functions in :data:`FUNCTIONS`). See
``book/chapter-contract.md`` for the file format and the meaning of identity, guarantee and finding.
"""

from __future__ import annotations

import ast
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

SOURCES = ("abstract", "derived", "ours")
KINDS = ("identity", "guarantee", "finding")
PROFILES = ("smoke", "default", "paper")
REQUIRED = ("id", "statement", "source", "kind", "profiles", "measured", "check", "expected")
OPTIONAL = ("not_applicable", "over_seeds", "seed_value")
STATUSES = ("pass", "fail", "error", "n/a", "not measured")
"""Outcomes of a claim on a run. ``n/a``: the claim is not evaluated at this profile (with the reason);
``not measured``: an archived run made before a metric the claim needs existed (never a pass)."""


class ClaimError(ValueError):
    """A claims file is malformed (names the file, the claim and the field)."""


def _mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs)


def _monotone(xs, increasing: bool, tol: float = 0.0):
    xs = list(xs)
    return all((b >= a - tol) if increasing else (b <= a + tol) for a, b in zip(xs, xs[1:]))


FUNCTIONS = {
    "abs": abs,
    "min": min,
    "max": max,
    "all": all,
    "any": any,
    "len": len,
    "sum": sum,
    "sorted": sorted,
    "mean": _mean,
    "log": math.log,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "zip": zip,
    "range": range,
    "monotone_increasing": lambda xs, tol=0.0: _monotone(xs, True, tol),
    "monotone_decreasing": lambda xs, tol=0.0: _monotone(xs, False, tol),
}
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Subscript,
    ast.Slice,
    ast.IfExp,
    ast.GeneratorExp,
    ast.ListComp,
    ast.comprehension,
    ast.Store,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.Mod,
    ast.FloorDiv,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Eq,
    ast.NotEq,
    ast.In,
    ast.NotIn,
    ast.keyword,
)


@dataclass
class Claim:
    """One declared claim (see ``book/chapter-contract.md``)."""

    id: str
    statement: str
    source: str
    kind: str
    profiles: list
    measured: str
    check: str
    expected: str
    chapter: str = ""
    not_applicable: dict = field(default_factory=dict)
    over_seeds: int = 0
    """A finding evaluated over seeds ``0..over_seeds-1`` (see :mod:`lsa.runner.seeds`); 0: one run decides."""
    seed_value: str = ""
    """For an ``over_seeds`` finding: the scalar (an expression like ``check``, e.g. ``min(slopes)``) whose
    interval over seeds is reported; empty: the first ``measured`` metric."""

    @property
    def seed_expression(self) -> str:
        """The expression summarised over seeds: ``seed_value``, else the first measured metric."""
        return self.seed_value or self.measured.split(",")[0].strip()


@dataclass
class ClaimResult:
    """The outcome of one claim on one run: one of :data:`STATUSES`, with the reason in ``detail``."""

    chapter: str
    id: str
    statement: str
    source: str
    kind: str
    expected: str
    measured: str
    profile: str
    status: str
    detail: str = ""
    run_key: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def compile_check(expr: str, where: str) -> ast.Expression:
    """Parse a check expression and reject any construct outside the whitelist."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ClaimError(f"{where}: check is not a valid expression: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ClaimError(f"{where}: check uses a disallowed construct ({type(node).__name__})")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise ClaimError(f"{where}: check may only call {', '.join(sorted(FUNCTIONS))}")
    return tree


def _check_fields(entry, required, optional, where: str) -> None:
    """A ledger entry must be a mapping with every required field and no field outside required + optional."""
    if not isinstance(entry, dict):
        raise ClaimError(f"{where}: expected a mapping")
    missing = [k for k in required if k not in entry]
    extra = [k for k in entry if k not in (*required, *optional)]
    if missing or extra:
        raise ClaimError(
            f"{where}: missing fields {missing}, unknown fields {extra}; required: {list(required)}, "
            f"optional: {list(optional)}"
        )


def load_claims(path: Path, chapter: str = "") -> list[Claim]:
    """Read and validate a ``<chapter>.claims.yaml`` file (missing file → no claims)."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        raw = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as exc:
        raise ClaimError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, list):
        raise ClaimError(f"{path}: expected a list of claims")
    claims, seen = [], set()
    for i, entry in enumerate(raw):
        where = f"{path.name} claim #{i + 1} ({entry.get('id', '?') if isinstance(entry, dict) else '?'})"
        _check_fields(entry, REQUIRED, OPTIONAL, where)
        if entry["source"] not in SOURCES:
            raise ClaimError(f"{where}: source must be one of {SOURCES}, got {entry['source']!r}")
        if entry["kind"] not in KINDS:
            raise ClaimError(f"{where}: kind must be one of {KINDS}, got {entry['kind']!r}")
        if not entry["profiles"] or any(p not in PROFILES for p in entry["profiles"]):
            raise ClaimError(f"{where}: profiles must be a non-empty subset of {PROFILES}")
        if entry["id"] in seen:
            raise ClaimError(f"{where}: duplicate claim id {entry['id']!r}")
        seen.add(entry["id"])
        compile_check(str(entry["check"]), where)
        not_applicable = _not_applicable(entry, where)
        fields = {k: (list(v) if k == "profiles" else str(v)) for k, v in entry.items() if k in REQUIRED}
        over_seeds = entry.get("over_seeds", 0)
        if over_seeds and (entry["kind"] != "finding" or not isinstance(over_seeds, int) or over_seeds < 2):
            raise ClaimError(f"{where}: over_seeds must be an integer >= 2 on a finding, got {over_seeds!r}")
        seed_value = str(entry.get("seed_value") or "").strip()
        if seed_value:
            if not over_seeds:
                raise ClaimError(f"{where}: seed_value needs over_seeds (it names what is summarised over seeds)")
            compile_check(seed_value, f"{where} seed_value")
        claims.append(
            Claim(
                **fields,
                chapter=chapter,
                not_applicable=not_applicable,
                over_seeds=over_seeds,
                seed_value=seed_value,
            )
        )
    return claims


def _not_applicable(entry: dict, where: str) -> dict:
    """Validate the optional ``not_applicable: {profile: reason}`` field.

    A claim is evaluated at the profiles in ``profiles``; at a profile named in ``not_applicable`` it is
    reported ``n/a`` with that reason (e.g. the profile's grid has nothing the claim could test). The two sets
    are disjoint and every reason is a non-empty sentence.
    """
    na = entry.get("not_applicable") or {}
    if not isinstance(na, dict):
        raise ClaimError(f"{where}: not_applicable must map a profile to a reason, got {na!r}")
    for profile, reason in na.items():
        if profile not in PROFILES:
            raise ClaimError(f"{where}: not_applicable names {profile!r}, expected one of {PROFILES}")
        if profile in entry["profiles"]:
            raise ClaimError(
                f"{where}: profile {profile!r} is both in profiles and in not_applicable; "
                "remove it from profiles, or drop its not_applicable reason"
            )
        if not str(reason or "").strip():
            raise ClaimError(f"{where}: not_applicable[{profile!r}] needs a reason")
    return {str(k): str(v).strip() for k, v in na.items()}


def _plain(value):
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        inner = ", ".join(_format(v) for v in value[:8])
        return f"[{inner}{', …' if len(value) > 8 else ''}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_format(v)}" for k, v in list(value.items())[:6]) + "}"
    return str(value)


def _missing_names(tree: ast.Expression, metrics: dict) -> list[str]:
    """Names an expression reads that are neither allowed functions, metrics nor its own loop variables."""
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return sorted(names - set(FUNCTIONS) - set(metrics) - bound)


def _run(tree: ast.Expression, metrics: dict, name: str):
    """Evaluate a compiled, whitelisted expression with the metrics as its only variables."""
    env = {"__builtins__": {}, **FUNCTIONS, **{k: _plain(v) for k, v in metrics.items()}}
    return eval(compile(tree, name, "eval"), env)


def expression_value(expr: str, metrics: dict) -> float | None:
    """The value of a whitelisted expression (as in ``check``) on a run's metrics, as a finite float.

    ``None`` when a metric is missing, the expression fails, or the result is not a finite number; used for
    the per-seed value of an ``over_seeds`` finding.
    """
    tree = compile_check(expr, f"expression {expr!r}")
    if _missing_names(tree, metrics):
        return None
    try:
        value = _run(tree, metrics, f"<value {expr}>")
    except Exception:  # a None (NaN) metric or a type error: no value for this seed
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value) if math.isfinite(value) else None


def evaluate(claim: Claim, metrics: dict, profile: str, run_key: str = "", archived: bool = False) -> ClaimResult:
    """Evaluate one claim against a run's metrics.

    Parameters
    ----------
    claim, metrics, profile, run_key
        The claim, the run's ``metrics.json``, the run's profile and key.
    archived : bool
        The run is an archived one (``results/``), possibly made before the claim or one of its metrics
        existed. A metric missing from such a run gives ``not measured`` (the run cannot say anything about the
        claim; it is never counted as a pass). In a fresh run a missing metric is a defect: ``error``.

    Returns
    -------
    ClaimResult
        ``n/a`` at a profile the claim is not evaluated at (with the stated reason), ``error`` for a missing
        metric in a fresh run, a non-boolean result or an exception, else ``pass`` / ``fail``.
    """
    measured = "; ".join(
        f"{m.strip()} = {_format(metrics[m.strip()])}" if m.strip() in metrics else f"{m.strip()} = (missing)"
        for m in claim.measured.split(",")
    )
    base = dict(
        chapter=claim.chapter,
        id=claim.id,
        statement=claim.statement,
        source=claim.source,
        kind=claim.kind,
        expected=claim.expected,
        measured=measured,
        profile=profile,
        run_key=run_key,
    )
    if profile in claim.not_applicable:
        return ClaimResult(**base, status="n/a", detail=claim.not_applicable[profile])
    if profile not in claim.profiles:
        return ClaimResult(
            **base, status="n/a", detail=f"not declared at {profile}; applies to {', '.join(claim.profiles)}"
        )
    tree = compile_check(claim.check, f"{claim.chapter}:{claim.id}")
    missing = _missing_names(tree, metrics)
    if missing and archived:
        detail = f"not measured in this run (made before {', '.join(missing)} existed); rerun at {profile} to check"
        return ClaimResult(**base, status="not measured", detail=detail)
    if missing:
        return ClaimResult(**base, status="error", detail=f"metrics missing from the run: {', '.join(missing)}")
    try:
        value = _run(tree, metrics, f"<claim {claim.id}>")
    except Exception as exc:  # a None (NaN) metric or a type error is a failed evaluation, not a crash
        return ClaimResult(**base, status="error", detail=f"{type(exc).__name__}: {exc}")
    if not isinstance(value, (bool, np.bool_)):
        return ClaimResult(**base, status="error", detail=f"check returned {value!r}, not a boolean")
    return ClaimResult(**base, status="pass" if value else "fail")


def evaluate_chapter(
    chapter, metrics: dict, profile: str, run_key: str = "", archived: bool = False
) -> list[ClaimResult]:
    """Every claim of ``chapter`` (a :class:`lsa.runner.chapters.Chapter`) evaluated on one run's metrics.

    The runner calls it after a run, as do ``lsa claims`` and the archived-runs page (``archived=True``: see
    :func:`evaluate`).
    """
    return [evaluate(c, metrics, profile, run_key, archived) for c in load_claims(chapter.claims_path, chapter.name)]


def is_defect(result: ClaimResult) -> bool:
    """A failed identity or guarantee, or a claim that could not be evaluated: a bug, never an honest outcome."""
    return result.status == "error" or (result.status == "fail" and result.kind in ("identity", "guarantee"))
