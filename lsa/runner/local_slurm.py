"""A real single-node SLURM on this machine, for trying ``--cluster slurm`` and for testing it.

Debian's ``slurm-wlm`` and ``munge`` packages run as root on localhost with no systemd and no cgroups: munge
authenticates, ``slurmctld`` schedules, ``slurmd`` executes on the one node. :class:`LocalSlurm` writes a
configuration into a scratch folder (state, spool, logs, pid files, free TCP ports), points ``SLURM_CONF`` at it,
starts the daemons, waits until the node is idle, and stops exactly the daemons it started::

    with LocalSlurm(tmp) as slurm:        # sets SLURM_CONF for this process and its children
        lsa sweep ... --cluster slurm     # sbatch / squeue talk to it

:func:`unavailable` says why it cannot start here (not root, not Linux, packages missing), so tests can skip
with that reason. ``make test`` installs the packages (``apt-get install slurm-wlm munge``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo")


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None
    )


def unavailable() -> str | None:
    """Why a local SLURM cannot be started here, or ``None`` when it can."""
    if not sys.platform.startswith("linux"):
        return f"SLURM runs on Linux only (this is {sys.platform})"
    if os.geteuid() != 0:
        return "starting munge and the SLURM daemons needs root (run the tests as root, as CI does)"
    missing = [d for d in DAEMONS if _which(d) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge; `make test` does this)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class LocalSlurm:
    """Start munge (if not already running), ``slurmctld`` and ``slurmd`` on localhost; stop them on exit.

    Parameters
    ----------
    scratch : Path
        Folder for the configuration, state, spool, logs and pid files.
    partition : str
        Name of the one partition (the default one).
    timeout : float
        Seconds to wait for the node to become idle.
    """

    def __init__(self, scratch: Path, partition: str = "debug", timeout: float = 60.0):
        self.scratch, self.partition, self.timeout = Path(scratch), partition, timeout
        self.conf = self.scratch / "slurm.conf"
        self._started: list[Path] = []  # pid files of the daemons this object started
        self._old_conf = None

    # ------------------------------------------------------------------ munge
    def _munge_ok(self) -> bool:
        try:
            cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
            return (
                cred.returncode == 0
                and subprocess.run(["unmunge"], input=cred.stdout, capture_output=True).returncode == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _start_munge(self) -> None:
        if self._munge_ok():
            return
        key = Path("/etc/munge/munge.key")
        if not key.is_file():
            key.parent.mkdir(parents=True, exist_ok=True)
            key.write_bytes(os.urandom(1024))
        for path in (key.parent, Path("/run/munge"), Path("/var/log/munge"), Path("/var/lib/munge")):
            path.mkdir(parents=True, exist_ok=True)
            shutil.chown(path, "munge", "munge")
        shutil.chown(key, "munge", "munge")
        key.chmod(0o400)
        subprocess.run(["runuser", "-u", "munge", "--", _which("munged"), "--force"], check=True, timeout=30)
        self._started.append(Path("/run/munge/munged.pid"))
        deadline = time.time() + 15
        while not self._munge_ok():
            if time.time() > deadline:
                raise RuntimeError("munged started but `munge -n | unmunge` keeps failing")
            time.sleep(0.3)

    # ------------------------------------------------------------------ slurm
    def write_conf(self) -> Path:
        host = socket.gethostname().split(".")[0]
        cpus = os.cpu_count() or 1
        mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
        s = self.scratch
        for sub in ("state", "spool", "log"):
            (s / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=local",
                    f"SlurmctldHost={host}",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    f"StateSaveLocation={s / 'state'}",
                    f"SlurmdSpoolDir={s / 'spool'}",
                    f"SlurmctldLogFile={s / 'log' / 'ctld.log'}",
                    f"SlurmdLogFile={s / 'log' / 'd.log'}",
                    f"SlurmctldPidFile={s / 'ctld.pid'}",
                    f"SlurmdPidFile={s / 'd.pid'}",
                    "ReturnToService=2",
                    "MpiDefault=none",
                    f"NodeName={host} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN",
                    f"PartitionName={self.partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        return self.conf

    def node_state(self) -> str:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip()

    def start(self) -> LocalSlurm:
        reason = unavailable()
        if reason:
            raise RuntimeError(f"cannot start a local SLURM: {reason}")
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._start_munge()
        self.write_conf()
        self._old_conf = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(self.conf)
        env = {**os.environ, "SLURM_CONF": str(self.conf)}
        for daemon, pid in (("slurmctld", "ctld.pid"), ("slurmd", "d.pid")):
            subprocess.run([_which(daemon), "-f", str(self.conf)], check=True, timeout=30, env=env)
            self._started.append(self.scratch / pid)
            time.sleep(0.5)
        deadline = time.time() + self.timeout
        while (state := self._safe_state()) not in ("idle", "mix", "alloc"):
            if time.time() > deadline:
                log = (self.scratch / "log" / "ctld.log").read_text()[-2000:] if (self.scratch / "log").exists() else ""
                self.stop()
                raise RuntimeError(f"the local SLURM node did not become idle (state {state!r}); ctld log:\n{log}")
            time.sleep(0.5)
        return self

    def _safe_state(self) -> str:
        try:
            return self.node_state()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    def stop(self) -> None:
        """Stop the daemons this object started (by the pids in their pid files), newest first."""
        for pid_file in reversed(self._started):
            pid = _read_pid(pid_file)
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
        self._started.clear()
        if self._old_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = self._old_conf

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
