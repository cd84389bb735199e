"""Checksums of the small data files shipped in ``data/``.

``data/SHA256SUMS`` lists ``<sha256>  <path relative to data/>`` per line (``sha256sum`` format). Every
loader of a shipped file calls :func:`verify` first, and the runner folds :func:`manifest_digest` into each
run's cache key, so changed data never reuses a stale run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lsa.paths import PACKAGE_ROOT, find_repo_root

# the checkout's data/ (lsa.paths finds the checkout also for a non-editable install run from inside it)
DATA_DIR = (find_repo_root() or PACKAGE_ROOT.parent) / "data"
MANIFEST = "SHA256SUMS"


class ChecksumError(RuntimeError):
    """A shipped data file is missing or its content does not match ``data/SHA256SUMS``."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_manifest(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """Mapping ``relative path -> expected sha256`` from ``data/SHA256SUMS`` (empty when absent)."""
    manifest = Path(data_dir) / MANIFEST
    if not manifest.is_file():
        return {}
    entries = {}
    for n, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ChecksumError(f"{manifest}:{n}: expected '<sha256>  <path>', got {line!r}")
        entries[parts[1].strip().lstrip("*")] = parts[0].lower()
    return entries


def verify(relpath: str, data_dir: Path = DATA_DIR) -> Path:
    """Return ``data/<relpath>`` after checking it against the manifest.

    Raises
    ------
    ChecksumError
        The file is not listed, is missing, or its checksum differs (names the file and both hashes).
    """
    data_dir = Path(data_dir)
    if not (data_dir / MANIFEST).is_file() and find_repo_root() is None:
        from lsa.paths import repo_root

        repo_root()  # raises RepositoryNotFound, which says how to install or where to run from
    expected = read_manifest(data_dir).get(relpath)
    path = data_dir / relpath
    if expected is None:
        raise ChecksumError(f"data file {relpath!r} is not listed in {data_dir / MANIFEST}")
    if not path.is_file():
        raise ChecksumError(f"data file {path} is missing (listed in {MANIFEST})")
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(f"data file {path} is corrupt or changed: sha256 {actual}, expected {expected}")
    return path


def verify_all(data_dir: Path = DATA_DIR) -> list[Path]:
    """Verify every file listed in the manifest; return their paths."""
    return [verify(rel, data_dir) for rel in sorted(read_manifest(data_dir))]


def manifest_digest(data_dir: Path = DATA_DIR) -> str:
    """A digest of the manifest itself, folded into every run key."""
    manifest = Path(data_dir) / MANIFEST
    return sha256_file(manifest) if manifest.is_file() else "no-data"


def update_manifest(data_dir: Path = DATA_DIR) -> Path:
    """Rewrite ``data/SHA256SUMS`` from the files present (a maintainer's step after adding data)."""
    data_dir = Path(data_dir)
    lines = [
        f"{sha256_file(p)}  {p.relative_to(data_dir).as_posix()}"
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    ]
    out = data_dir / MANIFEST
    out.write_text("\n".join(lines) + ("\n" if lines else ""))
    return out
