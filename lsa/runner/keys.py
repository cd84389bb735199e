"""The run key: exactly the inputs that decide whether a chapter's run folder can be reused.

A run is reused when, and only when, these are unchanged:

* ``chapter``: the SHA-256 of the chapter's jupytext source, *all* of it. Markdown and comments count on
  purpose: the executed notebook is the book page, so a prose edit must produce a new page.
* ``params``: the resolved parameters (profile values plus ``-p`` overrides, typed), so ``-p n=5`` and a profile
  that sets ``n`` to 5 are the same run.
* ``data``: the digest of ``data/SHA256SUMS``; the per-file checksums are recorded beside it so that ``lsa status``
  can name the data file that changed.
* ``packages``: the installed versions of the third-party packages whose numerics the chapters depend on
  (:data:`PACKAGES`): a new torch or scikit-learn can change a trained model or a fitted score.
* ``code``: :func:`lsa.digests.code_digest` of the chapter's *static import closure*, i.e. the bytes of every
  ``lsa`` module that an ``import`` statement reachable from the chapter names, imports inside functions
  included. The per-module digests are recorded too, to say which module changed.

Why the static closure rather than a depfile of the modules a run actually imported (``sys.modules`` written by
a last cell): it is known before anything executes, so ``lsa status`` can say "stale, because lsa/prune/masks.py
changed" without running anything and without a two-level lookup; it is a superset of what can execute (a branch
not taken in this run still counts, which is the safe direction); and it costs a parse of about a hundred small
files. Its soundness rests on one rule of this code base, checked by ``tests/test_keys.py``: no ``lsa`` module is
imported by a computed name (``importlib.import_module``, ``__import__``) or by ``import *``.

Consequences a reader can check with ``lsa status``: an edit to ``lsa/cli.py`` or to a runner module that no
chapter imports reruns nothing; an edit to ``lsa/prune/masks.py`` reruns the two pruning chapters and nothing
else. Whatever is *not* in the key is not tracked: environment variables, the machine, the GPU (recorded as
provenance in ``run.json``, not keyed), and files a chapter might read outside ``data/``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from lsa import digests
from lsa.data.checksums import manifest_digest, read_manifest
from lsa.digests import code_digest, code_digests, module_path, stable_hash

PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "transformers", "pyradiomics")
"""Third-party distributions whose installed version is part of every run key."""

KEY_FORMAT = 2
"""Bumped whenever the set of key inputs changes; run folders of another format are never reused."""


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class KeyInputs:
    """Everything a run key is computed from, as recorded in ``run.json`` under ``"key_inputs"``."""

    chapter: str
    params: dict
    data: str
    packages: dict
    code: str
    modules: dict = field(default_factory=dict)
    data_files: dict = field(default_factory=dict)
    format: int = KEY_FORMAT

    def key(self) -> str:
        """The run key: a digest of the inputs (the per-module and per-file digests are summarised by
        ``code`` and ``data``)."""
        return stable_hash(
            {
                "format": self.format,
                "chapter": self.chapter,
                "params": self.params,
                "data": self.data,
                "packages": self.packages,
                "code": self.code,
            }
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> KeyInputs:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def key_inputs(chapter_path: Path, params: dict) -> KeyInputs:
    """The key inputs of a chapter source run with resolved ``params``.

    Parameters
    ----------
    chapter_path : Path
        ``notebooks/<name>.py``.
    params : dict
        Resolved parameters (:func:`lsa.runner.params.resolve`).
    """
    chapter_path = Path(chapter_path)
    return KeyInputs(
        chapter=hashlib.sha256(chapter_path.read_bytes()).hexdigest(),
        params=dict(params),
        data=manifest_digest(),
        packages=package_versions(),
        code=code_digest([chapter_path]),
        modules=code_digests([chapter_path]),
        data_files=read_manifest(),
    )


def _fmt(v) -> str:
    return json.dumps(v) if not isinstance(v, str) else repr(v)


def explain_change(old: dict | None, new: KeyInputs) -> list[str]:
    """Why a run recorded with key inputs ``old`` is not reusable under ``new``: one reason per line.

    Parameters
    ----------
    old : dict or None
        ``run.json["key_inputs"]`` of the previous run (``None`` when that run predates recorded inputs).
    new : KeyInputs
        The inputs now.

    Returns
    -------
    list of str
        Empty when nothing differs (then the keys are equal).
    """
    if old is None:
        return ["the previous run predates recorded key inputs (made by an older runner)"]
    if old.get("format") != new.format:
        return [f"the run-key format changed ({old.get('format')} → {new.format})"]
    reasons = []
    if old.get("chapter") != new.chapter:
        reasons.append("the chapter source changed")
    op, np_ = old.get("params", {}), new.params
    for name in sorted(set(op) | set(np_)):
        if op.get(name, "<absent>") != np_.get(name, "<absent>"):
            reasons.append(f"parameter {name}: {_fmt(op.get(name))} → {_fmt(np_.get(name))}")
    if old.get("data") != new.data:
        of, nf = old.get("data_files", {}), new.data_files
        files = sorted(f for f in set(of) | set(nf) if of.get(f) != nf.get(f))
        reasons.append("data changed: " + (", ".join(f"data/{f}" for f in files) or "data/SHA256SUMS"))
    for name in sorted(set(old.get("packages", {})) | set(new.packages)):
        a, b = old.get("packages", {}).get(name), new.packages.get(name)
        if a != b:
            reasons.append(f"package {name}: {a} → {b}")
    if old.get("code") != new.code:
        om, nm = old.get("modules", {}), new.modules
        changed = sorted(m for m in set(om) & set(nm) if om[m] != nm[m])
        added = sorted(set(nm) - set(om))
        removed = sorted(set(om) - set(nm))
        parts = [f"{_module_file(m)} changed" for m in changed]
        parts += [f"{_module_file(m)} now imported" for m in added]
        parts += [f"{_module_file(m)} no longer imported" for m in removed]
        reasons.append("code: " + ("; ".join(parts) or "the closure digest differs"))
    return reasons


def _module_file(name: str) -> str:
    """``lsa.prune.masks`` → ``lsa/prune/masks.py`` (``lsa/x/__init__.py`` for a package), for messages."""
    path = module_path(name)
    if path is None:
        return name
    return path.relative_to(digests.PACKAGE_ROOT.parent).as_posix()
