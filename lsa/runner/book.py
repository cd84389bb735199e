"""``lsa book``: run every chapter named in ``_toc.yml`` (reusing cached runs) and render the site.

The site is built by Jupyter Book 1 (Sphinx) with notebook execution off — papermill already executed
every chapter — warnings as errors, and MathJax 3 served from the local copy shipped by the PyPI package
``django-static-mathjax`` (no CDN), so the book builds and reads offline.

Each chapter page is the run's executed notebook with generated furniture around it (:mod:`lsa.runner.chapter_page`);
the citation metadata comes from ``CITATION.cff`` (:mod:`lsa.runner.citation`).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lsa.runner import REPO_ROOT
from lsa.runner.archive import archived_runs, write_archive_page
from lsa.runner.chapter_page import ShownRun, write_chapter_page, write_if_changed
from lsa.runner.chapters import load_chapter, toc_chapters
from lsa.runner.citation import book_bibtex, chapter_bibtex, paper_bibtex
from lsa.runner.execute import latest_run, run_chapter
from lsa.runner.status_page import write_status_page
from lsa.runner.usage import write_usage_page

MATHJAX_DEST = "book/_static/mathjax"
VERDICTS_PAGE = "book/abstract-verdicts.md"


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


CITE_ENTRIES = "book/cite-entries.md"


def write_cite_entries(shown: dict[str, ShownRun], root: Path = REPO_ROOT) -> Path:
    """Write ``book/cite-entries.md`` (included by the How to cite page): BibTeX of the book, the papers and
    each chapter, the chapters' entries naming the run shown in this build."""
    root = Path(root)
    chapters = []
    for name, run in shown.items():
        commit = run.provenance.get("commit", "") if run is not None else ""
        key, profile = (run.key, run.profile) if run is not None else ("no run", "none")
        chapters.append(chapter_bibtex(load_chapter(name, root), key, commit, profile, root))
    text = "\n".join(
        [
            "## The book",
            "",
            "```bibtex",
            book_bibtex(root),
            "```",
            "",
            "## The papers",
            "",
            "```bibtex",
            paper_bibtex(root),
            "```",
            "",
            "## One chapter",
            "",
            "Each entry names the run whose figures and numbers the chapter shows in this build (the same line "
            "closes every chapter page).",
            "",
            "```bibtex",
            "\n\n".join(chapters),
            "```",
            "",
        ]
    )
    path = root / CITE_ENTRIES
    write_if_changed(path, text.encode())
    return path


def ensure_verdicts_page(root: Path = REPO_ROOT) -> Path:
    """Keep ``book/abstract-verdicts.md`` includable: a short placeholder when the ledger has not written it."""
    path = Path(root) / VERDICTS_PAGE
    if not path.is_file():
        path.write_text(
            "No verdicts yet: the per-paper verdict table is generated from the chapter runs by `lsa book`.\n"
        )
    return path


# ----------------------------------------------------------------------------------------- the build


def _existing_run(name: str, profile: str) -> tuple[Path | None, str]:
    """The latest run at ``profile``, else the latest at another profile (default, smoke, paper), else none."""
    for prof in [profile] + [p for p in ("default", "smoke", "paper") if p != profile]:
        path = latest_run(name, prof)
        if path is not None:
            return path, prof
    return None, profile


def build_book(
    profile: str = "default",
    force: bool = False,
    root: Path = REPO_ROOT,
    log=print,
    progress: bool = True,
    reuse_latest: bool = False,
    engine: dict | None = None,
) -> Path:
    """Run the table of contents' chapters at ``profile`` and build ``_build/html``.

    Parameters
    ----------
    profile : {"smoke", "default", "paper"}
        Profile of the runs the book shows.
    force : bool
        Execute every chapter again even when a run with the same key exists.
    reuse_latest : bool
        Execute nothing: show each chapter's latest existing run at ``profile`` (or, failing that, at another
        profile, which its header card states); a chapter without any run gets a placeholder page.
    engine : dict
        Options of :func:`lsa.runner.engine.run_jobs` (``n_jobs``, ``scheduler``, ``cluster``, ``slurm``): the
        chapters execute concurrently there first (default: one per core); every failure is reported, after all
        chapters ran, and then the site is not rebuilt.

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
    results, missing, pages = [], [], {}
    all_archived = archived_runs(root)
    archived = {a.run["chapter"]: a for a in all_archived if a.run.get("profile") == "paper"}
    if not reuse_latest:
        from lsa.runner.engine import Job, JobsFailed, run_jobs
        from lsa.runner.seeds import seed_jobs
        from lsa.runner.sweep_pages import declared_sweeps, sweep_jobs

        jobs = [Job.make(name, profile, force=force) for name in toc_chapters(root)]
        jobs += [job for name in toc_chapters(root) for job in seed_jobs(name, profile)]  # findings over seeds
        jobs += [job for spec in declared_sweeps() for job in sweep_jobs(spec)]  # the sweep pages' runs
        outcomes = run_jobs(jobs, **(engine or {}), log=log, progress=progress, raise_on_failure=False)
        own = [o for o in outcomes if o.job.update_latest]  # a failed extra seed is shown, it does not block
        if any(not o.ok for o in own):
            raise JobsFailed(own)
        force = False  # executed just now: the loop below reuses each run
    for name in toc_chapters(root):
        if reuse_latest:
            path, prof = _existing_run(name, profile)
            claims = None
        else:
            run = run_chapter(name, profile=profile, force=force, progress=progress, log=log)
            path, prof, claims = run.path, profile, run.claims
        shown = pages[name] = write_chapter_page(name, path, prof, root, claims, archived.get(name))
        if shown is None:
            missing.append(name)
            log(f"[lsa] {name}: no run yet, placeholder page")
        else:
            results += shown.claims
    archived_claims = [c for a in all_archived for c in a.claims]
    write_status_page(root / "book" / "reproduction-status.md", results, profile, missing, archived=archived_claims)
    from lsa.runner.sweep_pages import write_sweep_pages

    write_sweep_pages(root, engine=engine, execute=not reuse_latest, log=log)  # one generated page per sweep
    ensure_verdicts_page(root)
    write_usage_page(root, toc_chapters(root))
    write_cite_entries(pages, root)
    _, shown_archives = write_archive_page(root)
    log(f"[lsa] archived runs shown: {len(shown_archives)}")
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
