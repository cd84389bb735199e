"""The chapter runner: parameter validation, execution with papermill, cached run folders, claims, book build.

``lsa run`` / ``lsa book`` / ``lsa claims`` / ``lsa list`` (see :mod:`lsa.cli`) are thin wrappers over
this package.
"""

from __future__ import annotations

from lsa.paths import PACKAGE_ROOT, find_repo_root, runs_dir

# The checkout (lsa.paths: $LSA_HOME, the folder above the package, or the working directory). Without one the
# CLI stops before any command with lsa.paths.RepositoryNotFound, which says how to install; the fallback
# below only keeps ``import lsa.runner`` working for library users.
REPO_ROOT = find_repo_root() or PACKAGE_ROOT.parent

__all__ = ["REPO_ROOT", "runs_dir"]
# Caches of trained models and features are lsa.cache's (keyed by the producing code), not the runner's.
