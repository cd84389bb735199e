"""The chapter runner: parameter validation, execution with papermill, cached run folders, claims, book build.

``lsa run`` / ``lsa book`` / ``lsa claims`` / ``lsa list`` (see :mod:`lsa.cli`) are thin wrappers over
this package.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def runs_dir() -> Path:
    """Folder holding every run (``runs/`` at the repository root, or ``$LSA_RUNS_DIR``)."""
    return Path(os.environ.get("LSA_RUNS_DIR", REPO_ROOT / "runs"))


def cache_dir(name: str = "") -> Path:
    """A persistent cache folder for expensive intermediates (trained models, extracted features).

    Chapters key their cache entries by a hash of everything that determines them (use
    :func:`lsa.runner.keys.stable_hash`), so a changed configuration never reuses a stale entry.

    Parameters
    ----------
    name : str
        Sub-folder, e.g. ``"pam_models"``; created if missing.
    """
    path = runs_dir() / "cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path
