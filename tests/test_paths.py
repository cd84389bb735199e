"""Finding the checkout when lsa is installed without ``-e``: from the working directory or ``$LSA_HOME``, or a
clear error that says how to install. A plain ``pip install .`` is simulated by a copy of the package outside
any checkout, imported from a scratch folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lsa.paths import PACKAGE_ROOT, RepositoryNotFound, is_checkout, repo_root

REPO = PACKAGE_ROOT.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A 'site-packages' holding a copy of lsa, as a non-editable install leaves it."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(PACKAGE_ROOT, site / "lsa", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _lsa(site: Path, cwd: Path, *args: str, home: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSA_")}
    env["PYTHONPATH"] = str(site)
    if home is not None:
        env["LSA_HOME"] = home
    code = "import sys; from lsa.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_checkout_is_recognised():
    assert is_checkout(REPO) and not is_checkout(PACKAGE_ROOT)
    assert repo_root() == REPO


def test_lsa_home_must_be_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("LSA_HOME", str(tmp_path))
    with pytest.raises(RepositoryNotFound, match="LSA_HOME"):
        repo_root()
    monkeypatch.setenv("LSA_HOME", str(REPO))
    assert repo_root() == REPO


def test_installed_copy_outside_a_checkout(site, tmp_path):
    # the copy is really outside: its own folder is no checkout
    probe = _lsa(site, tmp_path, "list")
    assert probe.returncode == 2
    assert "outside a checkout" in probe.stderr and "LSA_HOME" in probe.stderr and "pip install -e" in probe.stderr
    assert "Traceback" not in probe.stderr
    # run from inside the checkout (a subfolder will do): found from the working directory
    inside = _lsa(site, REPO / "notebooks", "list")
    assert inside.returncode == 0, inside.stderr
    assert "alignment_ridge" in inside.stdout
    # run from elsewhere with $LSA_HOME
    home = _lsa(site, tmp_path, "list", home=str(REPO))
    assert home.returncode == 0, home.stderr
    assert "alignment_ridge" in home.stdout


def test_installed_copy_reads_the_checkouts_data(site):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSA_")}
    env["PYTHONPATH"] = str(site)
    code = "import lsa.data.checksums as c, lsa.runner as r; print(c.DATA_DIR); print(r.REPO_ROOT); print(c.__file__)"
    run = dict(env=env, capture_output=True, text=True, check=True)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO / "data", **run)  # not the repo root: no lsa/ there
    data_dir, root, module = out.stdout.split()
    assert Path(data_dir) == REPO / "data" and Path(root) == REPO and Path(module).is_relative_to(site)
