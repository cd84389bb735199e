"""``--cluster slurm`` against a real single-node SLURM (munge, slurmctld and slurmd started on localhost).

Not a mock: dask-jobqueue submits batch jobs with ``sbatch``, ``slurmd`` runs the Dask workers, the workers
execute the chapters, and the runs land in ``runs/``. Skipped, with the reason, where SLURM cannot be started
(not root, not Linux, ``slurm-wlm``/``munge`` not installed; ``make test`` installs them on Debian).
"""

import json
import os
import subprocess
import sys

import pytest
from test_engine import CHAPTER

from lsa.runner.local_slurm import LocalSlurm, unavailable

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(unavailable() is not None, reason=f"no local SLURM: {unavailable()}"),
]


def test_a_sweep_of_two_smoke_runs_executes_on_slurm_and_lands_in_runs(tmp_path):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    (nb / "one.py").write_text(CHAPTER.format(name="one"))
    (nb / "one.claims.yaml").write_text("[]\n")
    runs = tmp_path / "runs"
    with LocalSlurm(tmp_path / "slurm") as slurm:
        assert slurm.node_state() == "idle"
        env = {**os.environ, "LSA_NOTEBOOKS_DIR": str(nb), "LSA_RUNS_DIR": str(runs)}
        cmd = [sys.executable, "-m", "lsa.cli", "sweep", "one", "-p", "sleep=[0.5]", "--seeds", "2"]
        cmd += ["--profile", "smoke", "-j", "2", "--cluster", "slurm", "--memory", "1GB", "--walltime", "00:10:00"]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
    assert "on SLURM (2 jobs)" in out.stdout and "2/2 done" in out.stdout
    done = sorted(p for p in (runs / "one").iterdir() if (p / "metrics.json").is_file())
    assert len(done) == 2
    assert sorted(json.loads((p / "metrics.json").read_text())["seed"] for p in done) == [0, 1]
    for p in done:
        log = (runs / "one" / "logs" / f"{p.name}.log").read_text()
        assert "SLURM job" in log and "ok in" in log  # executed inside a SLURM batch job
    assert sorted(p.name for p in (runs / "slurm-logs").glob("*.err"))  # the batch jobs' own logs
