"""The execution engine: independent chapter runs in parallel on Dask, from a laptop to a SLURM cluster.

``lsa run A B -j 2``, ``lsa book -j 2`` and ``lsa sweep`` hand a list of :class:`Job` to :func:`run_jobs`, which

1. validates every job first (chapter, parameters, claims file, data checksums): bad input stops everything
   before anything runs;
2. reuses, in this process, every job whose run key already has a complete run folder;
3. executes the rest, each in its own Jupyter kernel, on one of three back ends:

   * in this process, one after another, when one worker suffices (``-j 1`` or a single job);
   * a Dask ``LocalCluster`` of ``-j`` worker *processes* with one thread each (papermill changes the working
     directory and is not thread-safe, so two chapters never share a process);
   * an existing Dask scheduler (``--scheduler ADDRESS``), or a ``SLURMCluster`` started through dask-jobqueue
     (``--cluster slurm``, one chapter at a time per SLURM job; see :class:`SlurmConfig`).

Every chapter runs through :func:`lsa.runner.execute.run_chapter`, so the all-or-nothing rule is the same on
every back end: a failing chapter leaves ``runs/<chapter>/failed-<key>/`` and never replaces a good run, and it
never stops the other chapters. Runs land in the same ``runs/`` folder whichever machine executed them (the
folder is passed to the worker explicitly; on a cluster it must be on a shared file system).

Known traps, and what is done about them:

* Kernels started at the same moment can collide on ZMQ ports: a kernel that fails to *start* is retried
  (:class:`lsa.runner.execute.LocalExecutor`).
* BLAS and torch inside each kernel are pinned to one thread (:data:`lsa.runner.execute.THREAD_ENV`), so
  ``-j N`` chapters use N cores, not N × cores. The pin holds for ``-j 1`` and for a plain ``lsa run`` too: the
  run key does not contain ``-j``, so what a run computes must not depend on it.
* A Dask nanny watches the memory of its worker process, not of the kernel that the worker spawns, so a memory
  limit there would be an illusion: the local cluster sets none. Instead each job samples the resident memory of
  its kernel and reports the peak (log file and summary line); on SLURM, ``--mem`` per job is where memory is
  enforced (by the site's cgroups).
* A worker that dies (killed, out of memory) fails only its chapter; the task is not retried.

Each executed job writes a log file, ``runs/<chapter>/logs/<key>.log``, with the runner's messages, the host,
the wall time, the kernel's peak memory and the error, if any.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lsa.data.checksums import verify_all
from lsa.runner import durations, runs_dir
from lsa.runner.chapters import load_chapter, notebooks_dir
from lsa.runner.claims import load_claims
from lsa.runner.execute import THREAD_ENV
from lsa.runner.job import Job, JobOutcome, execute_job
from lsa.runner.keys import key_inputs
from lsa.runner.params import resolve
from lsa.runner.slurm_config import SlurmConfig

PASSED_ENV = ("LSA_NOTEBOOKS_DIR", "LSA_RESULTS_DIR", "LSA_DATA_DIR")
"""Environment variables forwarded to workers (with ``LSA_RUNS_DIR``, always set to this process's runs folder)."""


class EngineError(ValueError):
    """Bad engine options (jobs, scheduler, cluster configuration); exit status 2."""


class JobsFailed(RuntimeError):
    """Some jobs failed (after every job had its chance); ``outcomes`` holds all of them."""

    def __init__(self, outcomes: list[JobOutcome]):
        self.outcomes = outcomes
        failed = [o for o in outcomes if not o.ok]
        names = ", ".join(o.job.label for o in failed)
        super().__init__(f"{len(failed)} of {len(outcomes)} failed: {names}")


# ------------------------------------------------------------------------------------------------ planning
@dataclass
class Planned:
    job: Job
    key: str
    params: dict


def plan(jobs: list[Job], dedupe: bool = True) -> list[Planned]:
    """Validate every job and compute its key, before anything executes (``dedupe``: each run once).

    Raises
    ------
    ChapterNotFound, ParameterError, ClaimError, ChecksumError
        The first bad job (nothing has run).
    """
    verify_all()
    out, seen = [], set()
    for job in jobs:
        chapter = load_chapter(job.chapter)
        params = resolve(chapter.params, chapter.profiles, job.profile, dict(job.overrides))
        load_claims(chapter.claims_path, chapter.name)
        key = key_inputs(chapter.path, params).key()
        # send typed, resolved values (paths made absolute here), so a worker elsewhere resolves the same run
        job = dataclasses.replace(job, overrides=tuple((k, params[k]) for k, _ in job.overrides))
        if dedupe and (job.chapter, key) in seen:
            continue  # the same run twice (e.g. a sweep value equal to the default): once
        seen.add((job.chapter, key))
        out.append(Planned(job, key, params))
    return out


def is_done(p: Planned) -> bool:
    return (runs_dir() / p.job.chapter / p.key / "metrics.json").is_file()


# ------------------------------------------------------------------------------------------------ back ends
def default_jobs() -> int:
    """Number of cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_env() -> dict[str, str]:
    """What a worker needs to find the same chapters and write into the same ``runs/``."""
    env = {"LSA_RUNS_DIR": str(runs_dir().resolve()), "LSA_NOTEBOOKS_DIR": str(notebooks_dir().resolve())}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    env.update(THREAD_ENV)
    return env


@contextlib.contextmanager
def dask_client(n_workers: int, scheduler: str | None = None, cluster: str | None = None, slurm=None):
    """A ``distributed.Client`` on a local cluster, an existing scheduler or a SLURM cluster."""
    import dask
    from distributed import Client, LocalCluster

    settings = {
        "distributed.scheduler.allowed-failures": 0,
        "distributed.worker.daemon": False,
        # the worker's statistical profiler samples the task's thread every 10 ms, though that thread only waits
        # for the kernel: off, the cluster's own CPU use drops by about a third (benchmarks/bench_engine.py)
        "distributed.worker.profile.enabled": False,
    }
    with dask.config.set(settings):
        if scheduler:
            with Client(scheduler) as client:
                yield client
        elif cluster == "slurm":
            from dask_jobqueue import SLURMCluster

            cfg = slurm or SlurmConfig()
            Path(cfg.cluster_kwargs()["log_directory"]).mkdir(parents=True, exist_ok=True)
            with SLURMCluster(**cfg.cluster_kwargs()) as c, Client(c) as client:
                c.scale(jobs=n_workers)
                yield client
        elif cluster in (None, "local"):
            import logging

            with (
                LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    memory_limit=0,  # the nanny cannot see the kernel's memory; measured per job instead
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                ) as c,
                Client(c) as client,
            ):
                yield client
        else:
            raise EngineError(f"unknown cluster {cluster!r}; expected 'local' or 'slurm'")


def _line(outcome: JobOutcome) -> str:
    if outcome.error:
        return f"FAILED {outcome.job.label}: {outcome.error} (log: {outcome.log})"
    what = "reused" if outcome.reused else f"done in {outcome.seconds:.1f} s"
    mem = f", kernel peak {outcome.peak_kernel_mb:.0f} MB" if outcome.peak_kernel_mb else ""
    host = f" on {outcome.host}" if outcome.host and outcome.host != socket.gethostname() else ""
    if outcome.slurm_job:
        host += f" (SLURM job {outcome.slurm_job})"
    return f"{outcome.job.label} {what}{mem}{host}"


def _longest_first(
    planned: list[Planned], todo: list[int], hints: dict, log: Callable[[str], None] | None
) -> list[int]:
    """``todo`` reordered so that the runs expected to take longest start first (:mod:`lsa.runner.durations`)."""
    history = durations.history()
    secs = [durations.expected(planned[i].job.chapter, planned[i].job.profile, history, hints) for i in todo]
    order = durations.longest_first(secs)
    if log and len(todo) > 1:
        shown = [f"{planned[todo[k]].job.label} {'?' if secs[k] is None else f'{secs[k]:.0f} s'}" for k in order]
        log(f"[lsa] start order, longest expected first: {', '.join(shown)}")
    return [todo[k] for k in order]


def run_jobs(
    jobs: list[Job],
    n_jobs: int | None = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    slurm: SlurmConfig | None = None,
    log: Callable[[str], None] = print,
    progress: bool = False,
    raise_on_failure: bool = True,
) -> list[JobOutcome]:
    """Produce every job's run: validate all, reuse what exists, execute the rest concurrently.

    Parameters
    ----------
    jobs : list of Job
    n_jobs : int
        Concurrent chapters (default: the number of cores). On SLURM, the number of SLURM jobs.
    scheduler : str
        Address of an existing Dask scheduler (``tcp://host:8786``).
    cluster : {None, "local", "slurm"}
    slurm : SlurmConfig
        Options of ``--cluster slurm``.
    log : callable
        Progress lines: one per finished job with the counts done / running / failed.
    progress : bool
        Papermill's cell progress bar (only when executing in this process).
    raise_on_failure : bool
        Raise :class:`JobsFailed` at the end if any job failed (after all of them ran).

    Returns
    -------
    list of JobOutcome
        In the order of the planned (deduplicated) jobs.
    """
    if n_jobs is not None and n_jobs < 1:
        raise EngineError(f"-j/--jobs must be at least 1, got {n_jobs}")
    if scheduler and cluster not in (None, "local"):
        raise EngineError("give either --scheduler ADDRESS or --cluster, not both")
    planned = plan(jobs)
    hints = durations.load_hints()  # a malformed hints file stops here, before anything runs
    n_jobs = n_jobs or default_jobs()
    env = worker_env()
    outcomes: dict[int, JobOutcome] = {}
    todo = []
    for i, p in enumerate(planned):
        if is_done(p) and not p.job.force:
            outcomes[i] = execute_job(p.job, p.key, env)  # reuse: evaluates claims, moves the latest pointer
            log(f"[lsa] {_line(outcomes[i])}")
        else:
            todo.append(i)
    remote = scheduler is not None or cluster not in (None, "local")
    workers = min(n_jobs, len(todo))
    todo = _longest_first(planned, todo, hints, log if workers > 1 or remote else None)
    if todo and workers == 1 and not remote:
        for n, i in enumerate(todo, 1):
            p = planned[i]
            log(f"[lsa] {p.job.label}: executing ({n}/{len(todo)}), log {runs_dir() / p.job.chapter / 'logs'}")
            outcomes[i] = execute_job(p.job, p.key, env, progress=progress)
            failed = sum(not o.ok for o in outcomes.values())
            log(f"[lsa] {n}/{len(todo)} done, {failed} failed — {_line(outcomes[i])}")
    elif todo:
        from distributed import as_completed

        t0 = time.perf_counter()
        where = scheduler or (f"SLURM ({workers} jobs)" if cluster == "slurm" else f"{workers} local worker processes")
        log(f"[lsa] executing {len(todo)} run(s) on {where}; one log per run in runs/<chapter>/logs/<key>.log")
        with dask_client(workers, scheduler, cluster, slurm) as client:
            log(f"[lsa] cluster up in {time.perf_counter() - t0:.1f} s")
            # at most one run in flight per worker thread, the rest wait here in longest-first order: Dask would
            # otherwise hand every task to a worker at once, and a long run queued behind a short one on one
            # worker could start last
            slots = max(workers, sum(client.nthreads().values())) if scheduler else workers
            queue, futures, running = list(todo), {}, as_completed()

            def submit_next() -> None:
                i = queue.pop(0)
                p = planned[i]
                f = client.submit(execute_job, p.job, p.key, env, key=f"lsa-{p.job.chapter}-{p.key}", pure=False)
                futures[f] = i
                running.add(f)

            for _ in range(min(slots, len(queue))):
                submit_next()
            done = failed = 0
            for fut in running:
                i = futures.pop(fut)
                try:
                    outcomes[i] = fut.result()
                except Exception as exc:  # the worker died (killed, out of memory, walltime)
                    p = planned[i]
                    outcomes[i] = JobOutcome(p.job, p.key, p.params, error=f"worker lost: {type(exc).__name__}: {exc}")
                done += 1
                failed += not outcomes[i].ok
                if queue:
                    submit_next()
                log(f"[lsa] {done}/{len(todo)} done, {len(futures)} running, {failed} failed — {_line(outcomes[i])}")
    result = [outcomes[i] for i in range(len(planned))]
    if raise_on_failure and any(not o.ok for o in result):
        raise JobsFailed(result)
    return result
