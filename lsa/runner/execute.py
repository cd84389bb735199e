"""Executing a chapter into a cached, atomically published run folder.

Run folder: ``runs/<chapter>/<key>/`` with ``<chapter>.ipynb`` (executed), ``figures/``, ``params.json``,
``metrics.json``, ``claims.json`` and ``run.json``. The key is :func:`lsa.runner.keys.KeyInputs.key` (chapter
source, resolved parameters, data manifest, package versions, the chapter's ``lsa`` import closure); its inputs
and per-module digests are recorded in ``run.json`` so that ``lsa status`` can say why a run is stale. The chapter
executes in ``runs/<chapter>/.tmp-<key>-<pid>/``; only a complete run is renamed
into place, so a failing or interrupted run never replaces a good one. A failed run is kept, for
inspection, in ``runs/<chapter>/failed-<key>/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import jupytext
import nbformat

from lsa.data.checksums import verify_all
from lsa.runner import runs_dir
from lsa.runner.chapters import Chapter, load_chapter
from lsa.runner.claims import ClaimResult, evaluate_chapter, load_claims
from lsa.runner.keys import key_inputs
from lsa.runner.params import resolve
from lsa.runner.provenance import provenance

HIDDEN_TAGS = ("parameters", "injected-parameters", "profiles")
THREAD_ENV = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "TORCH_NUM_THREADS",
    )
}
"""Environment of every kernel the runner starts: one BLAS / OpenMP / torch thread. The run key does not contain
the thread count or ``-j``, so what a run computes must not depend on them; a chapter that wants more threads says
so with a parameter (``torch.set_num_threads`` / ``threadpoolctl`` inside the chapter), which is in the key."""

KERNEL_START_RETRIES = 3
"""Attempts at starting a kernel: kernels started at the same moment can race for the same ZMQ ports."""


@contextlib.contextmanager
def environment(env: dict[str, str], drop: tuple[str, ...] = ()) -> Iterator[None]:
    """``os.environ`` updated with ``env`` and without ``drop`` inside the block, restored after it."""
    old = {k: os.environ.get(k) for k in (*env, *drop)}
    os.environ.update(env)
    for k in drop:
        os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ChapterFailed(RuntimeError):
    """A chapter raised while executing; the message is one line and names the kept notebook."""


class Executor(Protocol):
    """How a notebook gets executed. Local processes today; a cluster engine can implement the same call."""

    def execute(self, notebook: Path, output: Path, parameters: dict, cwd: Path, progress: bool) -> None: ...


class KernelStartFailed(RuntimeError):
    """The Jupyter kernel could not be started (after retries); no cell ran."""


def _cells_executed(output: Path) -> int:
    """Number of code cells of ``output`` that papermill started (0 when the file is missing or unreadable)."""
    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:  # a half-written file means nothing ran
        return 0
    return sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count"))


class LocalExecutor:
    """Executes with papermill in a local Jupyter kernel (the current Python's ``python3`` kernel).

    A kernel that fails to *start* (papermill raises something other than a cell error, and no cell has run) is
    retried up to ``retries`` times after a short random pause: concurrent kernel starts can collide on ZMQ
    ports ("Address already in use") or time out waiting for ``kernel_info`` on a loaded machine.
    """

    def __init__(self, kernel_name: str = "python3", timeout: int | None = None, retries: int = KERNEL_START_RETRIES):
        self.kernel_name, self.timeout, self.retries = kernel_name, timeout, retries

    def execute(self, notebook: Path, output: Path, parameters: dict, cwd: Path, progress: bool) -> None:
        import random

        from papermill.exceptions import PapermillExecutionError

        for attempt in range(1, self.retries + 1):
            try:
                return self._execute_once(notebook, output, parameters, cwd, progress)
            except PapermillExecutionError:
                raise
            except Exception as exc:
                if _cells_executed(output) or attempt == self.retries:
                    if not _cells_executed(output):
                        raise KernelStartFailed(
                            f"the kernel did not start after {attempt} attempts: {type(exc).__name__}: {exc}"
                        ) from exc
                    raise
                print(
                    f"[lsa] kernel start failed ({type(exc).__name__}: {str(exc)[:120]}); retry {attempt}",
                    file=sys.stderr,
                )
                time.sleep(0.5 + random.random() * attempt)

    def _execute_once(self, notebook: Path, output: Path, parameters: dict, cwd: Path, progress: bool) -> None:
        import papermill

        with environment(THREAD_ENV):  # the kernel inherits this process's environment
            self._papermill(papermill, notebook, output, parameters, cwd, progress)

    def _papermill(self, papermill, notebook: Path, output: Path, parameters: dict, cwd: Path, progress: bool) -> None:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            cwd=str(cwd),
            kernel_name=self.kernel_name,
            progress_bar=progress,
            execution_timeout=self.timeout,
            log_output=False,
            # the kernel's own start-up warnings would bury the run's one-line error
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )


@dataclass
class RunResult:
    """What ``lsa run`` produced: where, under which key, whether it was reused, and the claim outcomes."""

    chapter: str
    key: str
    path: Path
    params: dict
    reused: bool
    seconds: float
    claims: list[ClaimResult] = field(default_factory=list)


def run_key(chapter: Chapter, params: dict) -> str:
    """The cache key of a run (see :mod:`lsa.runner.keys` for what it covers and why)."""
    return key_inputs(chapter.path, params).key()


def _mark_hidden(nb) -> None:
    """Tag parameter / profile cells ``hide-cell`` (shown collapsed) and the metrics cell ``hide-input``.

    The metrics cell is the code cell that calls ``lsa.write_metrics``: its output (if any) stays visible, the
    bookkeeping code does not.
    """
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if any(t in tags for t in HIDDEN_TAGS) and "hide-cell" not in tags:
            tags.append("hide-cell")
        if cell.cell_type == "code" and "write_metrics(" in cell.source and "hide-input" not in tags:
            if "hide-cell" not in tags:
                tags.append("hide-input")
        if tags != list(cell.get("metadata", {}).get("tags", [])):
            cell.metadata["tags"] = tags


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
    os.replace(tmp, path)


def latest_pointer(chapter: str, profile: str) -> Path:
    return runs_dir() / chapter / f"latest-{profile}.json"


def latest_run(chapter: str, profile: str) -> Path | None:
    """The run folder that ``lsa run CHAPTER --profile PROFILE`` last produced or reused, if any."""
    pointer = latest_pointer(chapter, profile)
    if not pointer.is_file():
        return None
    path = runs_dir() / chapter / json.loads(pointer.read_text())["key"]
    return path if (path / "metrics.json").is_file() else None


def evaluate_claims(chapter: Chapter, run_path: Path, profile: str) -> list[ClaimResult]:
    """Evaluate the chapter's claims against ``run_path/metrics.json`` and write ``claims.json`` there."""
    metrics = json.loads((run_path / "metrics.json").read_text())
    results = evaluate_chapter(chapter, metrics, profile, run_path.name)
    _write_json(run_path / "claims.json", [r.to_dict() for r in results])
    return results


class _Terminated(BaseException):
    """Raised by the SIGTERM handler so that kill behaves like Ctrl-C (cleanup, good run untouched)."""


def run_chapter(
    name: str,
    profile: str = "default",
    overrides: dict | None = None,
    force: bool = False,
    progress: bool = True,
    executor: Executor | None = None,
    log=print,
    update_latest: bool = True,
) -> RunResult:
    """Validate, execute (or reuse) and check one chapter. The engine behind ``lsa run``.

    Parameters
    ----------
    name : str
        Chapter name (``notebooks/<name>.py``).
    profile : {"smoke", "default", "paper"}
    overrides : dict
        ``{name: value}`` (strings are parsed as on the command line); validated before anything runs.
    force : bool
        Execute even when a run with the same key exists (the new run replaces it only on success).
    progress : bool
        Show papermill's per-cell progress bar.
    executor : Executor
        Defaults to :class:`LocalExecutor`.
    log : callable
        Receives the runner's one-line messages.
    update_latest : bool
        Point ``runs/<chapter>/latest-<profile>.json`` (what ``lsa claims`` and the book read) at this run. A sweep
        passes ``False``: its grid points must not replace the chapter's book run.

    Raises
    ------
    ChapterNotFound, ParameterError, ClaimError, ChecksumError
        Before anything executes or is written.
    ChapterFailed
        A cell raised; the failed notebook is kept in ``runs/<chapter>/failed-<key>/``.
    """
    chapter = load_chapter(name)
    params = resolve(chapter.params, chapter.profiles, profile, dict(overrides or {}))
    load_claims(chapter.claims_path, chapter.name)  # a malformed claims file fails before execution
    verify_all()  # a missing or corrupt shipped data file fails before execution, naming the file
    inputs = key_inputs(chapter.path, params)
    key = inputs.key()
    base = runs_dir() / name
    final = base / key
    t0 = time.perf_counter()
    if final.is_dir() and (final / "metrics.json").is_file() and not force:
        log(f"[lsa] {name}: reusing run {key} ({final}); pass --force to execute again")
        if update_latest:
            _write_json(latest_pointer(name, profile), {"key": key, "params": params})
        claims = evaluate_claims(chapter, final, profile)
        return RunResult(name, key, final, params, True, time.perf_counter() - t0, claims)

    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    nb = jupytext.read(chapter.path, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, out = tmp / f"{name}.source.ipynb", tmp / f"{name}.ipynb"
    nbformat.write(nb, src)
    _write_json(tmp / "params.json", params)
    log(f"[lsa] {name}: executing at profile {profile!r} into {final} (key {key})")
    # signal handlers can only be installed from the main thread (not inside a Dask worker's task thread)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main_thread else None

    def on_term(signum, frame):
        raise _Terminated()

    if main_thread:
        signal.signal(signal.SIGTERM, on_term)
    try:
        (executor or LocalExecutor()).execute(src, out, params, tmp, progress)
        if not (tmp / "metrics.json").is_file():
            raise ChapterFailed(
                f"{name}: finished without writing metrics.json (the last cell must call lsa.write_metrics)"
            )
    except (KeyboardInterrupt, _Terminated):
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"[lsa] {name}: interrupted; the previous good run (if any) is untouched")
        raise KeyboardInterrupt from None
    except Exception as exc:
        failed = base / f"failed-{key}"
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(tmp, failed)
        ename = getattr(exc, "ename", type(exc).__name__)
        evalue = str(getattr(exc, "evalue", exc)).strip().splitlines()
        msg = f"{ename}: {evalue[0] if evalue else ''}"
        raise ChapterFailed(f"{name}: {msg} (failed notebook kept in {failed / (name + '.ipynb')})") from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)

    src.unlink()
    executed = nbformat.read(out, as_version=4)
    _mark_hidden(executed)
    nbformat.write(executed, out)
    old = None
    if final.exists():
        old = base / f".old-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    if update_latest:
        _write_json(latest_pointer(name, profile), {"key": key, "params": params})
    seconds = time.perf_counter() - t0
    _write_json(
        final / "run.json",
        {
            "chapter": name,
            "key": key,
            "profile": profile,
            "seconds": round(seconds, 2),
            "python": sys.version.split()[0],
            "provenance": provenance(),
            "host": socket.gethostname(),
            "key_inputs": inputs.to_dict(),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    claims = evaluate_claims(chapter, final, profile)
    log(f"[lsa] {name}: done in {seconds:.1f} s")
    return RunResult(name, key, final, params, False, seconds, claims)
