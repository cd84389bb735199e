"""The chapter runner: parameter validation, execution with papermill, cached run folders, claims, book build.

``lsa run`` / ``lsa book`` / ``lsa claims`` / ``lsa list`` (see :mod:`lsa.cli`) are thin wrappers over
this package.
"""

from __future__ import annotations

from pathlib import Path

from lsa.paths import runs_dir

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["REPO_ROOT", "runs_dir"]
# Caches of trained models and features are lsa.cache's (keyed by the producing code), not the runner's.
