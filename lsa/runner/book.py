"""``lsa book``: run every chapter named in ``_toc.yml`` (reusing cached runs) and render the site.

The site is built by Jupyter Book 1 (Sphinx) with notebook execution off — papermill already executed
every chapter — warnings as errors, and MathJax 3 served from the local copy shipped by the PyPI package
``django-static-mathjax`` (no CDN), so the book builds and reads offline.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lsa.runner import REPO_ROOT
from lsa.runner.archive import write_archive_page
from lsa.runner.chapters import CHAPTER_PAGE_DIR, toc_chapters
from lsa.runner.execute import run_chapter
from lsa.runner.status_page import write_status_page

MATHJAX_DEST = "book/_static/mathjax"


def install_mathjax(root: Path = REPO_ROOT) -> Path:
    """Copy MathJax 3 (``es5/``) from the PyPI package ``django-static-mathjax`` into ``book/_static/mathjax``.

    The package is located without importing it (it is a Django app; only its static files are used).
    """
    spec = importlib.util.find_spec("mathjax")
    src = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5" if spec else None
    if src is None or not (src / "tex-mml-chtml.js").is_file():
        raise FileNotFoundError(
            "MathJax 3 not found: install the book extra (pip install -e '.[book]'), "
            "which provides django-static-mathjax"
        )
    dest = Path(root) / MATHJAX_DEST / "es5"
    if not (dest / "tex-mml-chtml.js").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest)
    return dest


def _copy_if_changed(src: Path, dest: Path) -> None:
    """Copy unless identical, so Sphinx's incremental build skips unchanged chapters."""
    if not dest.is_file() or dest.read_bytes() != src.read_bytes():
        shutil.copyfile(src, dest)


def build_book(
    profile: str = "default", force: bool = False, root: Path = REPO_ROOT, log=print, progress: bool = True
) -> Path:
    """Run the table of contents' chapters at ``profile`` and build ``_build/html``.

    Returns
    -------
    Path
        ``_build/html/index.html``.

    Raises
    ------
    ChapterFailed
        A chapter failed (its notebook is kept beside the last good run); the site is not rebuilt.
    subprocess.CalledProcessError
        Jupyter Book reported an error or a warning.
    """
    root = Path(root)
    pages = root / CHAPTER_PAGE_DIR
    pages.mkdir(parents=True, exist_ok=True)
    results = []
    for name in toc_chapters(root):
        run = run_chapter(name, profile=profile, force=force, progress=progress, log=log)
        results += run.claims
        _copy_if_changed(run.path / f"{name}.ipynb", pages / f"{name}.ipynb")
    write_status_page(root / "book" / "reproduction-status.md", results, profile)
    _, archived = write_archive_page(root)
    log(f"[lsa] archived runs shown: {len(archived)} ({', '.join(str(a.path.relative_to(root)) for a in archived)})")
    install_mathjax(root)
    log("[lsa] building the site with Jupyter Book (execution off, warnings as errors)")
    t0 = time.perf_counter()
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--warningiserror", "--keep-going"]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-6000:] + done.stderr[-6000:])
        raise subprocess.CalledProcessError(done.returncode, cmd)
    index = root / "_build" / "html" / "index.html"
    log(f"[lsa] site ready in {time.perf_counter() - t0:.1f} s: {index}")
    return index
