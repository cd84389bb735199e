"""Where the repository, the runs and the shipped data are: one leaf module, imported by the library and the runner.

The chapters, the shipped data (``data/``) and the run folders (``runs/``) live in a checkout of the
repository, not inside the installed package. :func:`repo_root` finds that checkout:

1. ``$LSA_HOME``, if set (it must point to a checkout);
2. the folder above the package, when ``lsa`` is imported from a checkout (``pip install -e .``, or running
   from the repository root);
3. the working directory or one of its parents, when ``lsa`` was installed with a plain ``pip install .``.

Otherwise :class:`RepositoryNotFound` says how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
"""The ``lsa`` package folder (inside the checkout, or in ``site-packages`` after ``pip install .``).

:meta hide-value:
"""


class RepositoryNotFound(FileNotFoundError):
    """The checkout holding ``notebooks/``, ``data/`` and ``runs/`` could not be found."""


def is_checkout(folder: Path) -> bool:
    """Whether ``folder`` is the root of a checkout of this repository (its ``pyproject.toml`` names ``lsa``)."""
    folder = Path(folder)
    pyproject = folder / "pyproject.toml"
    if not (pyproject.is_file() and (folder / "notebooks").is_dir() and (folder / "lsa").is_dir()):
        return False
    return any(line.replace(" ", "") == 'name="lsa"' for line in pyproject.read_text().splitlines())


def find_repo_root() -> Path | None:
    """The checkout as :func:`repo_root` finds it, or ``None`` instead of an error."""
    try:
        return repo_root()
    except RepositoryNotFound:
        return None


def repo_root() -> Path:
    """The root of the repository checkout (see the module docstring for the search order).

    Raises
    ------
    RepositoryNotFound
        When ``$LSA_HOME`` is set but is not a checkout, or when no checkout is found; the message says how to
        install or where to run from.
    """
    env = os.environ.get("LSA_HOME")
    if env:
        folder = Path(env).expanduser().resolve()
        if not is_checkout(folder):
            raise RepositoryNotFound(
                f"$LSA_HOME={env!r} is not a checkout of the lsa repository (expected pyproject.toml naming "
                "'lsa', notebooks/ and lsa/ in it)"
            )
        return folder
    if is_checkout(PACKAGE_ROOT.parent):
        return PACKAGE_ROOT.parent
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if is_checkout(folder):
            return folder
    raise RepositoryNotFound(
        f"the lsa package is installed at {PACKAGE_ROOT}, outside a checkout of its repository, and neither the "
        f"working directory ({cwd}) nor $LSA_HOME is inside one. The chapters, data/ and runs/ live in the "
        "checkout: run lsa from inside it, set LSA_HOME=/path/to/checkout, or install it in editable mode "
        "(pip install -e /path/to/checkout)."
    )


def runs_dir() -> Path:
    """Folder holding every run: ``$LSA_RUNS_DIR``, else ``runs/`` at the repository root."""
    env = os.environ.get("LSA_RUNS_DIR")
    return Path(env) if env else repo_root() / "runs"


def data_dir() -> Path:
    """The shipped data folder (``data/`` at the repository root)."""
    return repo_root() / "data"
