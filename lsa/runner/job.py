"""One chapter run as the engine sees it: what to run (:class:`Job`), what happened (:class:`JobOutcome`), and
:func:`execute_job`, which runs it wherever it is called -- in a Dask worker (local or SLURM) or in this process.

:func:`execute_job` never raises for a failing chapter (the failure is in the outcome), writes the job's log
``runs/<chapter>/logs/<key>.log``, samples the kernel's peak resident memory (a Dask nanny cannot see it), and
starts the kernel under the environment of a plain ``lsa run`` (see :data:`DASK_WORKER_ENV`).
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lsa.digests import code_digests
from lsa.runner import runs_dir
from lsa.runner.execute import environment

RUNNER_ROOTS = ("lsa.runner.execute",)
"""The modules that run a chapter and check its claims, with everything they import."""

_RUNNER_AT_IMPORT = code_digests(RUNNER_ROOTS)
"""Each runner module's digest when this process imported the runner. A Dask worker lives for a whole build; if
the runner's code changes on disk meanwhile, the worker would still check claims with the old code (against the
new ledger files), so :func:`execute_job` refuses to run instead."""


def runner_changed_since_import() -> list[str]:
    """The runner modules whose code on disk differs from what this process imported (empty when none)."""
    now = code_digests(RUNNER_ROOTS)
    return sorted(m for m in now.keys() | _RUNNER_AT_IMPORT.keys() if now.get(m) != _RUNNER_AT_IMPORT.get(m))


@dataclass(frozen=True)
class Job:
    """One chapter run to produce: chapter, profile, parameter overrides (strings or typed values)."""

    chapter: str
    profile: str = "default"
    overrides: tuple = ()
    force: bool = False
    update_latest: bool = True

    @classmethod
    def make(cls, chapter: str, profile: str = "default", overrides: dict | None = None, **kw) -> Job:
        return cls(chapter, profile, tuple(sorted((overrides or {}).items())), **kw)

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.overrides)
        return f"{self.chapter}[{self.profile}{', ' + extra if extra else ''}]"


@dataclass
class JobOutcome:
    """What happened to a job (picklable: it comes back from a worker)."""

    job: Job
    key: str
    params: dict
    path: str | None = None
    reused: bool = False
    seconds: float = 0.0
    claims: list = field(default_factory=list)
    error: str | None = None
    log: str | None = None
    host: str = ""
    peak_kernel_mb: float | None = None
    slurm_job: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _children_rss_mb() -> float:
    import psutil

    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total / 2**20


@contextlib.contextmanager
def _peak_kernel_memory(interval: float = 0.5) -> Iterator[list[float]]:
    """Sample the resident memory of this process's children (the kernel) until the block ends."""
    peak = [0.0]
    stop = threading.Event()

    def watch():
        while not stop.wait(interval):
            with contextlib.suppress(Exception):
                peak[0] = max(peak[0], _children_rss_mb())

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        yield peak
    finally:
        stop.set()
        t.join(timeout=2)


DASK_WORKER_ENV = ("MALLOC_TRIM_THRESHOLD_",)
"""Variables a Dask nanny sets for its own worker process (``distributed.nanny.pre-spawn-environ``) that must
not reach the chapter's kernel, which the worker starts and which would inherit them. With glibc's trim threshold
at 64 KiB, memory goes back to the operating system after every large free; the chapters' many small tensor
allocations then spent about half their CPU time in the system (measured on this project's 2-core machine:
alignment_commutator at ``default`` took 106 s on the engine against 56 s alone, its kernel's system time above
its user time). A chapter run on the engine computes under the environment of a plain ``lsa run``."""


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def execute_job(job: Job, key: str, env: dict[str, str], progress: bool = False) -> JobOutcome:
    """Run one job where this function is called (a Dask worker, or this process) and report its outcome.

    Never raises for a failing chapter: the failure is in the outcome. The log goes to
    ``runs/<chapter>/logs/<key>.log``.
    """
    from lsa.runner.execute import ChapterFailed, run_chapter

    with environment(env, drop=DASK_WORKER_ENV if _in_dask_worker() else ()):
        logs = runs_dir() / job.chapter / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{key}.log"
        host = socket.gethostname()
        t0 = time.perf_counter()
        outcome = JobOutcome(job, key, {}, log=str(log_path), host=host, slurm_job=os.environ.get("SLURM_JOB_ID"))
        with open(log_path, "a") as fh, _peak_kernel_memory() as peak:

            def log(msg: str) -> None:
                fh.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
                fh.flush()

            where = f"SLURM job {outcome.slurm_job} on {host}" if outcome.slurm_job else host
            log(f"[lsa] {job.label} on {where} (pid {os.getpid()}), key {key}")
            err = io.StringIO()
            changed = runner_changed_since_import()
            try:
                if changed:
                    raise RuntimeError(
                        f"the runner's code changed on disk since this worker imported it ({', '.join(changed)}); "
                        "its claims would be checked by the old code. Nothing was run: start the run again "
                        "(a new `lsa run` or `lsa book` starts fresh workers)"
                    )
                with contextlib.redirect_stderr(err):
                    r = run_chapter(
                        job.chapter,
                        profile=job.profile,
                        overrides=dict(job.overrides),
                        force=job.force,
                        progress=progress,
                        log=log,
                        update_latest=job.update_latest,
                    )
                outcome.path, outcome.reused, outcome.params = str(r.path), r.reused, r.params
                outcome.claims = [c.to_dict() for c in r.claims]
            except ChapterFailed as exc:
                outcome.error = str(exc)
            except Exception as exc:  # anything else (kernel never started, disk full): this job only
                outcome.error = f"{job.chapter}: {type(exc).__name__}: {exc}"
            finally:
                if err.getvalue().strip():
                    log("stderr:\n" + err.getvalue().rstrip())
            outcome.seconds = time.perf_counter() - t0
            outcome.peak_kernel_mb = round(peak[0], 1) if peak[0] else None
            log(
                f"[lsa] {'FAILED: ' + outcome.error if outcome.error else 'ok'} in {outcome.seconds:.1f} s"
                + (f", kernel peak {outcome.peak_kernel_mb:.0f} MB" if outcome.peak_kernel_mb else "")
            )
    if outcome.key != key and outcome.path:  # the worker sees other code than the submitter: say so
        outcome.key = Path(outcome.path).name
    return outcome
