"""Provenance of a run: where and with what it was computed (written into every ``run.json``)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from lsa.runner import REPO_ROOT


def provenance(root: Path = REPO_ROOT) -> dict:
    """Where a run happened: Python, torch, the accelerator (or CPU), host, and the git commit of ``root``.

    Written into every ``run.json`` by the runner (``lsa.runner.execute``), so archived runs say what
    produced them.
    """
    out = {
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
    try:
        import torch

        out["torch"] = torch.__version__
        out["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover - torch is a dependency
        out["device"] = "cpu"
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        # archived results are outputs, not code: a run made after another was archived is still clean
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode == 0:
            out["commit"] = commit.stdout.strip()
            out["dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return out
