"""Writing a chapter's outputs: figures and ``metrics.json``.

A chapter runs with its run folder as the working directory (the runner arranges this), so the
default paths below land inside the run folder. Every chapter ends with :func:`write_metrics`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Convert numpy / torch scalars and arrays, tuples and paths to plain JSON types (NaN/inf become None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None  # JSON has no NaN/inf: written as null
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (int, str)):
        return value
    raise TypeError(f"metrics value of type {type(value).__name__} is not JSON-serialisable: {value!r}")


def write_metrics(metrics: dict[str, Any], path: str | os.PathLike = "metrics.json") -> Path:
    """Write every number a chapter's text or claims refer to, atomically.

    Parameters
    ----------
    metrics : dict
        Flat mapping from identifier-like names to numbers, booleans, strings or (nested) lists.
        Claims in ``notebooks/<chapter>.claims.yaml`` read these names.
    path : path-like
        Destination, ``metrics.json`` in the run folder by default.
    """
    bad = [k for k in metrics if not str(k).isidentifier()]
    if bad:
        raise ValueError(f"metric names must be Python identifiers (claims read them), got {bad}")
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(metrics), indent=2, sort_keys=True, allow_nan=False))
    os.replace(tmp, path)
    return path


def save_figure(fig, name: str, folder: str | os.PathLike = "figures", dpi: int = 110) -> None:
    """Save a matplotlib figure as ``figures/<name>.png`` in the run folder.

    The figure stays open, so the notebook still displays it inline; nothing is returned, so a cell ending
    with this call prints no path on the page.
    """
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"figure name must be a plain file stem, got {name!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.png"
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
