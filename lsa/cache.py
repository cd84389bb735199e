"""One on-disk cache for expensive intermediates (trained models, extracted features), keyed by what produced them.

An entry's key is :func:`lsa.digests.stable_hash` of two things:

* the **code** that produced it: :func:`lsa.digests.code_digest` of the producing module, i.e. the bytes of
  that module and of every ``lsa`` module it can import. Editing the UNet trainer invalidates the cached UNets
  and leaves the GSA zoo's models alone; there are no hand-kept version tags;
* the **configuration**: everything else that determines the entry (settings, seeds, data digests).

The root is ``$LSA_CACHE_DIR``, else ``<runs dir>/cache`` (:func:`lsa.paths.runs_dir`). Deleting it is always
safe: every entry is recomputed on demand. Two ways to use it:

* :func:`entry` + :func:`atomic_write` for files whose format matters (model weights in safetensors or
  ``torch.save``, loaded back with ``torch.load(weights_only=True)``; JSON);
* :func:`memory`, a :class:`joblib.Memory` whose location carries the code digest, for picklable results of a
  function of hashable arguments (joblib hashes the arguments, arrays included, and writes atomically).

Writes are atomic (a temporary file in the same folder, then :func:`os.replace`), so an interrupted run never
leaves a truncated entry and concurrent writers of the same entry cannot corrupt it. Two chapters that need
the same expensive entry at the same time (the MultiUNet of Part IV, the small GPT of Part III, a model of the
GSA zoo) should not both compute it: :func:`producing` lets the first compute it while the others wait, then
read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lsa.digests import code_digest, stable_hash
from lsa.paths import runs_dir


def root() -> Path:
    """The cache root: ``$LSA_CACHE_DIR``, else ``<runs dir>/cache``."""
    env = os.environ.get("LSA_CACHE_DIR")
    return Path(env) if env else runs_dir() / "cache"


def folder(kind: str) -> Path:
    """``root()/kind``, created if missing (``kind`` may hold slashes, e.g. ``"mri/unet"``)."""
    path = root() / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def key(producer: str, config: Any = None, length: int = 16) -> str:
    """The key of an entry produced by the module ``producer`` (e.g. ``"lsa.mri.segment"``) from ``config``.

    Parameters
    ----------
    producer : str
        Name of the module whose code computes the entry; its static import closure enters the key.
    config : object
        Anything :func:`lsa.digests.stable_hash` accepts (dicts, dataclasses, arrays, scalars).
    length : int
        Hex characters kept.
    """
    return stable_hash({"code": code_digest([producer]), "config": config}, length)


def entry(kind: str, producer: str, config: Any = None, suffix: str = "", prefix: str = "") -> Path:
    """Path of the entry ``folder(kind)/<prefix><key(producer, config)><suffix>`` (it may not exist yet).

    ``prefix`` only makes the file name readable (e.g. ``"resnet-"``); the key alone identifies the entry.
    """
    return folder(kind) / f"{prefix}{key(producer, config)}{suffix}"


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary path beside ``path``, then rename it to ``path``.

    The temporary name keeps ``path``'s suffix (``np.savez`` and friends look at it) and is unique per call, so
    concurrent writers never share one. On any error the temporary file is removed and the error re-raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


@contextlib.contextmanager
def producing(path: Path) -> Iterator[Path]:
    """Hold an exclusive lock on the entry ``path`` while checking for it and, if absent, computing and writing it.

    A second process that enters ``producing`` for the same entry waits until the first leaves, then finds the
    entry written and reads it instead of computing it again::

        with cache.producing(path):
            if path.is_file():
                return load(path)
            result = compute()
            atomic_write(path, ...)

    The lock is an ``flock`` on a hidden file beside the entry; it is released when the block ends or the
    process dies, so a killed producer never blocks the others. (On a network file system without ``flock``
    support the lock may not exclude processes on other machines; the atomic write still keeps the entry
    whole.)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(f".{path.name}.lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_json(path: Path, obj: Any) -> Path:
    """Atomically write ``obj`` as JSON."""
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj)))


def read_json(path: Path) -> Any:
    """Read a JSON entry."""
    return json.loads(Path(path).read_text())


def memory(kind: str, producer: str):
    """A :class:`joblib.Memory` under ``folder(kind)/<code digest of producer>``.

    Decorate the computation with ``memory(kind, producer).cache(fn, ignore=[...])``: joblib keys each call by
    the function and its arguments, the folder by the producing code.
    """
    from joblib import Memory

    return Memory(location=folder(kind) / key(producer), verbose=0)
