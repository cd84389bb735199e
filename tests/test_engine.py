"""The Dask engine: concurrent chapters on a LocalCluster, failures isolated, validation first, kernel retries,
thread pinning, SLURM job scripts. Chapters are tiny test chapters in a temporary layout (never the book's)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHAPTER = """# %% [markdown]
# # {name}

# %% tags=["profiles"]
PROFILES = {{"smoke": {{}}, "default": {{}}, "paper": {{}}}}

# %% tags=["parameters"]
profile: str = "default"  # profile
seed: int = 0  # seed
sleep: float = 3.0  # seconds
fail: bool = False  # raise in the second cell

# %%
import os
import time

import torch

import lsa

t0 = time.time()
time.sleep(sleep)
if fail:
    raise RuntimeError("deliberate failure of {name}")

# %%
lsa.write_metrics(
    {{
        "start": t0,
        "end": time.time(),
        "pid": os.getppid(),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset"),
        "torch_threads": torch.get_num_threads(),
        "seed": seed,
    }}
)
"""


@pytest.fixture
def layout(tmp_path):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    for name in ("one", "two"):
        (nb / f"{name}.py").write_text(CHAPTER.format(name=name))
        (nb / f"{name}.claims.yaml").write_text("[]\n")
    (nb / "bad.py").write_text(CHAPTER.format(name="bad").replace("fail: bool = False", "fail: bool = True"))
    (nb / "bad.claims.yaml").write_text("[]\n")
    env = {
        **os.environ,
        "LSA_NOTEBOOKS_DIR": str(nb),
        "LSA_RUNS_DIR": str(tmp_path / "runs"),
        "LSA_RESULTS_DIR": str(tmp_path / "results"),
    }
    return tmp_path, env


def lsa(env, *args):
    return subprocess.run([sys.executable, "-m", "lsa.cli", *args], capture_output=True, text=True, env=env)


def runs_of(root: Path, name: str) -> list[Path]:
    base = root / "runs" / name
    return [p for p in base.iterdir() if (p / "metrics.json").is_file()] if base.exists() else []


def test_two_chapters_run_concurrently_on_two_workers_with_one_thread(layout):
    root, env = layout
    out = lsa(env, "run", "one", "two", "--profile", "smoke", "-j", "2", "-q")
    assert out.returncode == 0, out.stderr
    assert "on 2 local worker processes" in out.stdout and "2/2 done" in out.stdout
    (a,), (b,) = runs_of(root, "one"), runs_of(root, "two")
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    # both kernels were alive at the same time, in different worker processes
    assert ma["start"] < mb["end"] and mb["start"] < ma["end"]
    assert ma["pid"] != mb["pid"]
    assert ma["omp"] == mb["omp"] == "1" and ma["torch_threads"] == mb["torch_threads"] == 1
    # the Dask nanny's malloc setting for its worker process does not reach the kernel the worker starts
    assert ma["malloc_trim"] == mb["malloc_trim"] == "unset"
    for r, name in ((a, "one"), (b, "two")):
        log = (root / "runs" / name / "logs" / f"{r.name}.log").read_text()
        assert "ok in" in log and "kernel peak" in log
    # the plain single-chapter path pins the same threads (the key does not say how a run was executed)
    single = lsa(env, "run", "one", "--profile", "smoke", "-q", "-p", "sleep=0.1")
    assert single.returncode == 0, single.stderr
    (c,) = [r for r in runs_of(root, "one") if r != a]
    assert json.loads((c / "metrics.json").read_text())["omp"] == "1"
    # again: everything is reused in this process, no cluster is started
    again = lsa(env, "run", "one", "two", "--profile", "smoke", "-j", "2", "-q")
    assert again.returncode == 0 and again.stdout.count("reused") == 2 and "worker" not in again.stdout


def test_a_failing_chapter_stops_no_other_and_is_named_in_the_exit(layout):
    root, env = layout
    out = lsa(env, "run", "bad", "one", "--profile", "smoke", "-j", "2", "-q", "-p", "sleep=0.5")
    assert out.returncode == 1
    assert "RuntimeError: deliberate failure of bad" in out.stderr
    assert out.stderr.strip().splitlines()[-1] == "lsa: failed: bad[smoke, sleep=0.5]"
    assert len(runs_of(root, "one")) == 1 and runs_of(root, "bad") == []
    (failed,) = (root / "runs" / "bad").glob("failed-*")
    assert (failed / "bad.ipynb").is_file()
    assert "FAILED" in (root / "runs" / "bad" / "logs" / f"{failed.name.removeprefix('failed-')}.log").read_text()


def test_bad_input_for_one_chapter_stops_all_before_anything_runs(layout):
    root, env = layout
    out = lsa(env, "run", "one", "two", "-j", "2", "-p", "nosuch=1")
    assert out.returncode == 2 and "unknown parameter(s) 'nosuch'" in out.stderr
    assert not (root / "runs").exists()
    out = lsa(env, "run", "one", "two", "-j", "0")
    assert out.returncode == 2 and "-j/--jobs must be at least 1" in out.stderr


def test_a_kernel_that_fails_to_start_is_retried_and_a_cell_error_is_not(tmp_path, monkeypatch):
    from papermill.exceptions import PapermillExecutionError

    from lsa.runner.execute import KernelStartFailed, LocalExecutor

    calls = []

    def flaky(self, notebook, output, parameters, cwd, progress):
        calls.append(1)
        if len(calls) == 1:  # what papermill raises when two kernels raced for a port
            raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(LocalExecutor, "_execute_once", flaky)
    monkeypatch.setattr("time.sleep", lambda s: None)
    LocalExecutor().execute(tmp_path / "in.ipynb", tmp_path / "out.ipynb", {}, tmp_path, False)
    assert len(calls) == 2

    def never(self, *a):
        raise OSError("Address already in use")

    monkeypatch.setattr(LocalExecutor, "_execute_once", never)
    with pytest.raises(KernelStartFailed, match="did not start after 3 attempts: OSError: Address already in use"):
        LocalExecutor().execute(tmp_path / "in.ipynb", tmp_path / "out.ipynb", {}, tmp_path, False)

    cell_errors = []

    def cell_error(self, *a):
        cell_errors.append(1)
        raise PapermillExecutionError(0, 1, "x = 1", "RuntimeError", "boom", [])

    monkeypatch.setattr(LocalExecutor, "_execute_once", cell_error)
    with pytest.raises(PapermillExecutionError):
        LocalExecutor().execute(tmp_path / "in.ipynb", tmp_path / "out.ipynb", {}, tmp_path, False)
    assert len(cell_errors) == 1


def test_slurm_options_from_file_and_flags_reach_the_job_script(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster

    from lsa.runner.slurm_config import SlurmConfig, SlurmConfigError

    cfg_file = tmp_path / "slurm.yaml"
    cfg_file.write_text(
        "queue: gpu\nwalltime: '02:00:00'\ncores: 4\njob_extra_directives: ['--constraint=a100']\n"
        "job_script_prologue: ['source /opt/venv/bin/activate']\nscheduler_host: 127.0.0.1\n"
    )
    cfg = SlurmConfig.from_file(cfg_file, memory="16GB", gpus=2, walltime=None, log_directory=str(tmp_path / "logs"))
    with SLURMCluster(**cfg.cluster_kwargs()) as cluster:
        script = cluster.job_script()
    for line in (
        "#SBATCH -p gpu",
        "#SBATCH -t 02:00:00",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=15G",
        "#SBATCH --constraint=a100",
        "#SBATCH --gres=gpu:2",
        "source /opt/venv/bin/activate",
        "--nthreads 1",
    ):
        assert line in script, f"{line!r} not in job script:\n{script}"
    cfg_file.write_text("partition: gpu\n")
    with pytest.raises(SlurmConfigError, match="unknown SLURM option"):
        SlurmConfig.from_file(cfg_file)
    with pytest.raises(SlurmConfigError, match="does not exist"):
        SlurmConfig.from_file(tmp_path / "nosuch.yaml")


def _hints(root: Path, seconds: dict) -> None:
    doc = {"seconds": {name: {"smoke": s} for name, s in seconds.items()}}
    (root / "notebooks" / "durations.json").write_text(json.dumps(doc))


def _three(root: Path) -> None:
    (root / "notebooks" / "three.py").write_text(CHAPTER.format(name="three"))
    (root / "notebooks" / "three.claims.yaml").write_text("[]\n")
    _hints(root, {"one": 1, "two": 100, "three": 50})


def _metrics(root: Path, name: str) -> dict:
    (run,) = runs_of(root, name)
    return json.loads((run / "metrics.json").read_text())


def test_the_longest_expected_runs_start_first_and_one_per_worker(layout):
    root, env = layout
    _three(root)
    out = lsa(env, "run", "one", "two", "three", "--profile", "smoke", "-j", "2", "-q", "-p", "sleep=2")
    assert out.returncode == 0, out.stderr
    assert "longest expected first: two[smoke, sleep=2.0] 100 s, three[smoke, sleep=2.0] 50 s, one[" in out.stdout
    m = {n: _metrics(root, n) for n in ("one", "two", "three")}
    # two workers: the two long runs start together, the short one only when a worker is free
    assert m["one"]["start"] >= min(m["two"]["end"], m["three"]["end"]) - 0.05


def test_one_after_another_the_order_is_the_same(layout):
    root, env = layout
    _three(root)
    out = lsa(env, "run", "one", "two", "three", "--profile", "smoke", "-j", "1", "-q", "-p", "sleep=0.1")
    assert out.returncode == 0, out.stderr
    m = {n: _metrics(root, n) for n in ("one", "two", "three")}
    assert m["two"]["end"] <= m["three"]["start"] and m["three"]["end"] <= m["one"]["start"]


def test_expected_durations_prefer_the_last_recorded_run_over_the_hint(tmp_path):
    from lsa.runner import durations

    for key, finished, seconds in (("a", "2026-01-01T00:00:00Z", 10.0), ("b", "2026-02-01T00:00:00Z", 30.0)):
        folder = tmp_path / "runs" / "ch" / key
        folder.mkdir(parents=True)
        rec = {"chapter": "ch", "profile": "smoke", "finished": finished, "seconds": seconds}
        (folder / "run.json").write_text(json.dumps(rec))
    (tmp_path / "runs" / "ch" / "broken").mkdir()
    (tmp_path / "runs" / "ch" / "broken" / "run.json").write_text("{")
    history = durations.recorded(tmp_path / "runs")
    assert history == {("ch", "smoke"): 30.0}  # the most recent run, not the longest; a broken record is skipped
    hints = {("ch", "smoke"): 5.0, ("ch", "default"): 99.0}
    assert durations.expected("ch", "smoke", history, hints) == 30.0
    assert durations.expected("ch", "default", history, hints) == 99.0
    assert durations.expected("ch", "paper", history, hints) is None
    assert durations.longest_first([10.0, None, 50.0, 10.0, None]) == [1, 4, 2, 0, 3]
    # an archived run (results/<profile>/<chapter>/run.json) counts when runs/ has none of that profile
    archived = tmp_path / "results" / "paper" / "ch"
    archived.mkdir(parents=True)
    rec = {"chapter": "ch", "profile": "paper", "finished": "2025-01-01T00:00:00Z", "seconds": 222.0}
    (archived / "run.json").write_text(json.dumps(rec))
    (tmp_path / "results" / "smoke" / "ch").mkdir(parents=True)
    (tmp_path / "results" / "smoke" / "ch" / "run.json").write_text(json.dumps(rec | {"profile": "smoke"}))
    both = durations.history(tmp_path / "runs", tmp_path / "results")
    assert both == {("ch", "smoke"): 30.0, ("ch", "paper"): 222.0}  # runs/ over results/
    path = durations.write_hints(history, tmp_path / "d.json")
    assert durations.write_hints({("x", "paper"): 1.04}, path) == path
    assert durations.load_hints(path) == {("ch", "smoke"): 30.0, ("x", "paper"): 1.0}  # merged, rounded
    path.write_text('{"seconds": {"ch": {"smoke": -1}}}')
    with pytest.raises(durations.DurationsError, match="finite and >= 0"):
        durations.load_hints(path)


def test_a_malformed_hints_file_stops_the_run_before_anything_runs(layout):
    root, env = layout
    (root / "notebooks" / "durations.json").write_text('{"seconds": {"one": 5}}')
    out = lsa(env, "run", "one", "two", "-j", "2", "--profile", "smoke")
    assert out.returncode == 2 and "durations.json: expected {'seconds'" in out.stderr
    assert not (root / "runs").exists()


def test_a_worker_refuses_to_run_once_the_runner_code_changed_on_disk(tmp_path, monkeypatch):
    import shutil

    import lsa.digests
    from lsa.paths import PACKAGE_ROOT
    from lsa.runner import job as J

    copy = tmp_path / "src" / "lsa"  # the digests read this copy, as a long-lived worker reads the checkout
    shutil.copytree(PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(lsa.digests, "PACKAGE_ROOT", copy)
    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path / "runs"))
    assert J.runner_changed_since_import() == []
    claims = copy / "runner" / "claims.py"
    claims.write_text(claims.read_text() + "\n# edited while a build runs\n")
    assert J.runner_changed_since_import() == ["lsa.runner.claims"]
    ran = []
    monkeypatch.setattr("lsa.runner.execute.run_chapter", lambda *a, **k: ran.append(1))
    out = J.execute_job(J.Job("head_overlap", "smoke"), "somekey", {})
    assert not out.ok and ran == []
    assert "lsa.runner.claims" in out.error and "start the run again" in out.error
    assert "FAILED" in Path(out.log).read_text()
