"""What the execution engine costs and gains, side by side in one run.

1. Dask overhead: start-up of a ``LocalCluster`` (2 worker processes, 1 thread each) and the round trip of a no-op
   task, against starting a plain ``python -c pass`` subprocess (what running a chapter in this process costs
   before its kernel starts).
2. The CPU the cluster itself uses while two tasks wait (as engine tasks wait for their kernels), with the Dask
   worker's statistical profiler on (Dask's default) and off (the engine's setting).
3. ``-j 1`` against ``-j 2`` on a few smoke chapters, each mode cold (its own empty runs folder, so nothing is
   reused and every library cache is rebuilt the same way).
4. A 2 × 3 seed sweep at smoke (two values of one parameter, three seeds) with ``-j 2`` on the local cluster and
   through a single-node SLURM started here (root and Debian's slurm-wlm/munge needed; skipped otherwise).

Wall times depend on what else runs on the machine: the load average is printed before and after; compare the
ratios, and rerun on an idle machine for absolute numbers.

Usage: ``python benchmarks/bench_engine.py [--only overhead|idle|jobs|sweep] [--chapters A B C]
[--sweep-chapter C -p NAME=[v1,v2]] [--no-slurm]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def bench_overhead(repeats: int = 10) -> dict:
    from distributed import Client, LocalCluster

    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        t.append(time.perf_counter() - t0)
    sub = statistics.median(t)
    t0 = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c,
        Client(c) as client,
    ):
        startup = time.perf_counter() - t0
        client.submit(lambda: None, pure=False).result()  # warm
        rt = []
        for _ in range(repeats * 5):
            t0 = time.perf_counter()
            client.submit(lambda: None, pure=False).result()
            rt.append(time.perf_counter() - t0)
        task = statistics.median(rt)
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            client.submit(subprocess.run, [sys.executable, "-c", "pass"], pure=False).result()
            ts.append(time.perf_counter() - t0)
        task_sub = statistics.median(ts)
    return {"subprocess": sub, "startup": startup, "task": task, "task_subprocess": task_sub}


def _wait_like_a_job(seconds: float) -> int:
    """What an engine task does while its kernel computes: wait, sampling the process tree every 0.5 s."""
    import psutil

    t0 = time.time()
    while time.time() - t0 < seconds:
        psutil.Process().children(recursive=True)
        time.sleep(0.5)
    return os.getpid()


def bench_idle_cpu(seconds: float = 30.0) -> dict:
    """CPU seconds the cluster itself (client and scheduler, nanny, worker) spends while two tasks wait for
    ``seconds``, with the Dask worker's statistical profiler on (Dask's default) and off (the engine's setting)."""
    import dask
    import psutil
    from distributed import Client, LocalCluster

    out = {}
    for on in (True, False):
        with dask.config.set({"distributed.worker.profile.enabled": on, "distributed.worker.daemon": False}):
            with (
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c,
                Client(c) as client,
            ):
                time.sleep(2)
                procs = [psutil.Process(), *psutil.Process().children(recursive=True)]
                before = [sum(p.cpu_times()[:2]) for p in procs]
                client.gather([client.submit(_wait_like_a_job, seconds, pure=False) for _ in range(2)])
                out["on" if on else "off"] = sum(sum(p.cpu_times()[:2]) - b for p, b in zip(procs, before))
    return out


def _fresh_runs(tag: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"lsa-bench-{tag}-"))
    os.environ["LSA_RUNS_DIR"] = str(path)
    return path


def bench_jobs(chapters: list[str], profile: str = "smoke") -> dict:
    from lsa.runner.engine import Job, run_jobs

    out = {}
    for n in (1, 2):
        _fresh_runs(f"j{n}")
        t0 = time.perf_counter()
        outcomes = run_jobs([Job.make(c, profile) for c in chapters], n_jobs=n, raise_on_failure=False)
        out[n] = (time.perf_counter() - t0, {o.job.chapter: (o.ok, o.seconds) for o in outcomes})
    return out


def bench_sweep(chapter: str, grid: dict, seeds: int, slurm: bool) -> dict:
    from lsa.runner.sweep import run_sweep

    out = {}
    _fresh_runs("sweep-local")
    t0 = time.perf_counter()
    r = run_sweep(chapter, grid, seeds=seeds, profile="smoke", engine={"n_jobs": 2})
    out["local -j 2"] = (time.perf_counter() - t0, len(r.failed))
    if slurm:
        from lsa.runner.engine import SlurmConfig
        from lsa.runner.local_slurm import LocalSlurm, unavailable

        reason = unavailable()
        if reason:
            out["slurm"] = f"skipped: {reason}"
        else:
            runs = _fresh_runs("sweep-slurm")
            with LocalSlurm(runs / "_slurm"):
                t0 = time.perf_counter()
                cfg = SlurmConfig(memory="3GB", walltime="01:00:00")
                r = run_sweep(
                    chapter, grid, seeds=seeds, profile="smoke", engine={"n_jobs": 2, "cluster": "slurm", "slurm": cfg}
                )
                out["SLURM, 2 jobs"] = (time.perf_counter() - t0, len(r.failed))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chapters", nargs="+", default=["head_overlap", "asd_segmentation", "alignment_commutator"])
    ap.add_argument("--sweep-chapter", default="head_overlap")
    ap.add_argument("-p", dest="grid", action="append", default=None, metavar="NAME=[V1,V2]")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-slurm", action="store_true")
    ap.add_argument("--only", choices=("overhead", "idle", "jobs", "sweep"), action="append")
    args = ap.parse_args()
    only = set(args.only or ("overhead", "idle", "jobs", "sweep"))
    grid = dict(g.split("=", 1) for g in (args.grid or ["null_draws=[5,10]"]))
    print(f"[bench] start: {_load()}, {os.cpu_count()} CPUs", flush=True)
    if "overhead" in only:
        o = bench_overhead()
        print("\n== Dask overhead (medians)")
        print(f"plain subprocess `python -c pass`     {o['subprocess'] * 1e3:8.1f} ms")
        print(
            f"LocalCluster(2 workers) start-up       {o['startup'] * 1e3:8.1f} ms  = "
            f"{o['startup'] / o['subprocess']:.1f}x"
        )
        print(f"no-op task round trip                  {o['task'] * 1e3:8.1f} ms  = {o['task'] / o['subprocess']:.2f}x")
        print(
            f"task running that subprocess           {o['task_subprocess'] * 1e3:8.1f} ms  = "
            f"{o['task_subprocess'] / o['subprocess']:.2f}x",
            flush=True,
        )
    if "idle" in only:
        i = bench_idle_cpu()
        print("\n== CPU of the cluster itself while two tasks wait 30 s (2 workers)")
        print(f"worker profiler on (Dask's default)    {i['on']:6.2f} CPU s")
        print(f"worker profiler off (the engine)       {i['off']:6.2f} CPU s  = {i['off'] / i['on']:.2f}x", flush=True)
    if "jobs" in only:
        j = bench_jobs(args.chapters)
        print(f"\n== -j 1 vs -j 2, smoke, cold: {', '.join(args.chapters)}")
        for n, (wall, per) in j.items():
            each = ", ".join(f"{c} {s:.0f} s{'' if ok else ' FAILED'}" for c, (ok, s) in per.items())
            print(f"-j {n}: {wall:7.1f} s   ({each})")
        print(f"speed-up -j 2 / -j 1: {j[1][0] / j[2][0]:.2f}x", flush=True)
    if "sweep" in only:
        s = bench_sweep(args.sweep_chapter, grid, args.seeds, not args.no_slurm)
        n = len(next(iter(grid.values())).strip("[]").split(",")) * args.seeds
        print(f"\n== sweep {args.sweep_chapter} {grid} x {args.seeds} seeds = {n} smoke runs, cold")
        for k, v in s.items():
            print(f"{k:16s} {v if isinstance(v, str) else f'{v[0]:7.1f} s ({v[1]} failed)'}")
    print(f"\n[bench] end: {_load()}")


if __name__ == "__main__":
    main()
