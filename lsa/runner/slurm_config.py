"""Options of ``--cluster slurm``: the ``SLURMCluster`` (dask-jobqueue) that :mod:`lsa.runner.engine` starts.

One Dask worker per SLURM job, one chapter at a time per worker. The options come from a YAML file
(``--cluster-config FILE``) and command-line flags; :meth:`SlurmConfig.cluster_kwargs` turns them into
``dask_jobqueue.SLURMCluster`` keyword arguments.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lsa.runner import runs_dir


class SlurmConfigError(ValueError):
    """A cluster configuration file is missing or malformed, or names an unknown option."""


@dataclass
class SlurmConfig:
    """Options of the ``SLURMCluster`` behind ``--cluster slurm`` (one Dask worker per SLURM job).

    Read from a YAML file (``--cluster-config FILE``, keys as below) and overridden by command-line flags.
    dask-jobqueue's own configuration (``~/.config/dask/jobqueue.yaml``) supplies anything left unset.

    Attributes
    ----------
    queue : str
        Partition (``#SBATCH -p``).
    walltime : str
        Per job, ``HH:MM:SS``. A job runs chapters one after another until its walltime; a chapter cut off by it
        fails alone and reruns next time (its good run, if any, is untouched).
    memory : str
        Per job, e.g. ``"8GB"`` (``#SBATCH --mem``): where a chapter's memory is enforced.
    cores : int
        CPUs per job (``#SBATCH --cpus-per-task``); the kernel still runs one BLAS thread.
    gpus : int
        GPUs per job (``#SBATCH --gres=gpu:N``).
    account : str
        ``#SBATCH -A``.
    job_extra_directives : list of str
        More ``#SBATCH`` options, e.g. ``["--constraint=a100"]``.
    job_script_prologue : list of str
        Shell lines run before the worker starts (``module load …``, ``source venv/bin/activate``).
    scheduler_host : str
        Address the Dask scheduler binds to; ``127.0.0.1`` on a single node, the login node's address otherwise.
    interface : str
        Network interface of the workers (``ib0``), when hosts differ.
    python : str
        Python on the compute nodes (default: this interpreter).
    log_directory : str
        Where SLURM writes the jobs' stdout/stderr (default ``runs/slurm-logs``).
    """

    queue: str | None = None
    walltime: str = "01:00:00"
    memory: str = "4GB"
    cores: int = 1
    gpus: int = 0
    account: str | None = None
    job_extra_directives: list = field(default_factory=list)
    job_script_prologue: list = field(default_factory=list)
    scheduler_host: str | None = None
    interface: str | None = None
    python: str | None = None
    log_directory: str | None = None

    @classmethod
    def from_file(cls, path: str | Path | None, **overrides) -> SlurmConfig:
        """Read ``path`` (YAML mapping) if given, then apply the non-``None`` ``overrides``."""
        data = {}
        if path is not None:
            path = Path(path)
            if not path.is_file():
                raise SlurmConfigError(f"cluster configuration {path} does not exist")
            data = yaml.safe_load(path.read_text()) or {}
            if not isinstance(data, dict):
                raise SlurmConfigError(f"{path}: expected a mapping of SLURM options, got {type(data).__name__}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise SlurmConfigError(
                f"unknown SLURM option(s) {', '.join(unknown)}; valid: {', '.join(cls.__dataclass_fields__)}"
            )
        return cls(**data)

    def cluster_kwargs(self) -> dict:
        """Keyword arguments of ``dask_jobqueue.SLURMCluster``."""
        extra = list(self.job_extra_directives)
        if self.gpus:
            extra.append(f"--gres=gpu:{self.gpus}")
        kw = {
            # one worker with one thread per job: papermill is not thread-safe, so one chapter at a time;
            # job_cpu still reserves ``cores`` CPUs for the kernel
            "cores": 1,
            "processes": 1,
            "job_cpu": self.cores,
            "memory": self.memory,
            "walltime": self.walltime,
            "job_extra_directives": extra,
            "job_script_prologue": list(self.job_script_prologue),
            "python": self.python or sys.executable,
            "log_directory": self.log_directory or str(runs_dir() / "slurm-logs"),
        }
        if self.queue:
            kw["queue"] = self.queue
        if self.account:
            kw["account"] = self.account
        if self.interface:
            kw["interface"] = self.interface
        if self.scheduler_host:
            kw["scheduler_options"] = {"host": self.scheduler_host}
        return kw
