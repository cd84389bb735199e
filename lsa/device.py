"""Device selection shared by every chapter."""

from __future__ import annotations

import torch


def device(prefer: str = "auto") -> torch.device:
    """Return the torch device a chapter should use.

    Chapters pass their ``device`` parameter here, so a chapter runs unchanged on CPU and GPU.

    Parameters
    ----------
    prefer : {"auto", "cpu", "cuda"}
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU. ``"cuda"`` raises when no GPU is
        present rather than silently falling back.
    """
    if prefer not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {prefer!r}")
    if prefer == "cpu":
        return torch.device("cpu")
    if prefer == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but torch sees no CUDA device")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
