"""Mask selection from scores: per output row, per layer, or N:M; and sparsity patterns.

A mask is a boolean tensor of the weight's shape, ``True`` = keep. N:M means *N zeros in every group of M
consecutive input positions of a row* (the naming of the Wanda/RIA code; for 2:4 and 4:8 it coincides with
NVIDIA's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

GROUPS = ("row", "layer")


@dataclass(frozen=True)
class Pattern:
    """A sparsity pattern: unstructured ``sparsity`` in [0, 1), or N:M (``n`` zeros per ``m``)."""

    sparsity: float = 0.5
    n: int = 0
    m: int = 0

    def __post_init__(self):
        if self.m:
            if not (isinstance(self.n, int) and isinstance(self.m, int) and 0 < self.n < self.m):
                raise ValueError(f"N:M pattern needs integers 0 < N < M, got {self.n}:{self.m}")
        elif not (0.0 <= float(self.sparsity) < 1.0):
            raise ValueError(f"sparsity must lie in [0, 1), got {self.sparsity}")

    @property
    def is_nm(self) -> bool:
        """True for an N:M pattern."""
        return self.m > 0

    @property
    def target(self) -> float:
        """Target fraction of zeros."""
        return self.n / self.m if self.is_nm else float(self.sparsity)

    @property
    def label(self) -> str:
        """``"50%"`` or ``"2:4"``."""
        return f"{self.n}:{self.m}" if self.is_nm else f"{round(100 * self.sparsity)}%"


def parse_pattern(spec: str | float) -> Pattern:
    """Parse ``"0.5"``, ``0.5``, ``"50%"`` or ``"2:4"`` into a :class:`Pattern`.

    Raises
    ------
    ValueError
        On anything else, naming the accepted forms.
    """
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Pattern(sparsity=float(spec))
    s = str(spec).strip()
    if mt := re.fullmatch(r"(\d+)\s*:\s*(\d+)", s):
        return Pattern(n=int(mt[1]), m=int(mt[2]))
    if mt := re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", s):
        return Pattern(sparsity=float(mt[1]) / 100)
    try:
        return Pattern(sparsity=float(s))
    except ValueError:
        raise ValueError(
            f"cannot read sparsity pattern {spec!r}; expected a fraction in [0, 1) such as "
            f"0.5, a percentage such as '50%', or N:M such as '2:4'"
        ) from None


def select_mask(score: torch.Tensor, pattern: Pattern, group: str = "row") -> torch.Tensor:
    """Keep-mask that prunes the lowest scores under ``pattern``.

    Parameters
    ----------
    score : (d_out, d_in) tensor
    pattern : Pattern
    group : {"row", "layer"}
        Unstructured only. ``row``: prune exactly ``floor(d_in·s)`` lowest entries of every row (stable
        sort, Wanda). ``layer``: prune exactly ``int(d_out·d_in·s)`` lowest entries of the whole matrix
        (stable sort; magnitude and RIA's default group). The reference code thresholds at
        ``sorted[k]`` with ``≤``, which prunes one entry more (and more on ties); we prune exactly ``k``.
        N:M: in every row and group of M consecutive columns, the N lowest are pruned (``topk``).
    """
    if score.ndim != 2:
        raise ValueError(f"score must be 2-D, got shape {tuple(score.shape)}")
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    d_out, d_in = score.shape
    mask = torch.ones(score.shape, dtype=torch.bool, device=score.device)
    if pattern.is_nm:
        if d_in % pattern.m:
            raise ValueError(f"N:M pattern {pattern.label} needs d_in divisible by {pattern.m}, got {d_in}")
        groups = score.contiguous().reshape(d_out, d_in // pattern.m, pattern.m)
        idx = torch.topk(groups, pattern.n, dim=-1, largest=False).indices
        gm = torch.ones_like(groups, dtype=torch.bool).scatter_(-1, idx, False)
        return gm.reshape(d_out, d_in)
    if group == "row":
        k = int(d_in * pattern.sparsity)
        if k:
            idx = torch.sort(score, dim=1, stable=True).indices[:, :k]
            mask.scatter_(1, idx, False)
        return mask
    k = int(score.numel() * pattern.sparsity)
    if k:
        idx = torch.sort(score.flatten(), stable=True).indices[:k]
        mask.view(-1)[idx] = False
    return mask


def check_mask(mask: torch.Tensor, pattern: Pattern, group: str = "row") -> bool:
    """True when ``mask`` has exactly the pattern's zeros (per row, per layer, or N per M-group)."""
    d_out, d_in = mask.shape
    zeros = ~mask
    if pattern.is_nm:
        if d_in % pattern.m:
            return False
        return bool((zeros.reshape(d_out, -1, pattern.m).sum(-1) == pattern.n).all())
    if group == "row":
        return bool((zeros.sum(1) == int(d_in * pattern.sparsity)).all())
    return int(zeros.sum()) == int(mask.numel() * pattern.sparsity)
