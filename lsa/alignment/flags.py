"""Flags of a weight matrix and the intersection table of two flags.

A flag of type ``r_1 < … < r_m`` is the nested sequence of top-``r_j`` singular subspaces. The relative
position of the write flag of ``W_l`` and the read flag of ``W_{l+1}`` is the table
``d_ij = dim(F_i ∩ G_j)`` (numerically ``d_τ``); generic position gives ``max(0, r_i + r_j − n)``, identical
flags give ``min(r_i, r_j)``.
"""

from __future__ import annotations

import numpy as np

from lsa.alignment.levels import pair_subspaces
from lsa.linalg import effective_rank, intersection_dim, soft_overlap

ENERGY_LADDER = (0.5, 0.75, 0.9, 0.99)


def flag_ladder(s, energies=ENERGY_LADDER) -> list[int]:
    """Flag type from singular-energy cut-offs: distinct effective ranks, increasing."""
    dims = sorted({effective_rank(s, e) for e in energies})
    return [d for d in dims if d > 0]


def dyadic_ladder(n: int) -> list[int]:
    """The dyadic flag type ``1, 2, 4, … < n``."""
    out, r = [], 1
    while r < n:
        out.append(r)
        r *= 2
    return out


def flag_intersection_table(W_l, W_next, ladder=None, tau: float = 1e-2) -> dict:
    """Intersection table of the write flag of ``W_l`` and the read flag of ``W_{l+1}``.

    Parameters
    ----------
    W_l, W_next : array_like
        Adjacent weights (``nn.Linear`` orientation).
    ladder : sequence of int, optional
        Flag type ``r_1 < … < r_m`` used for both flags; default the energy ladder 50/75/90/99 % of
        the smaller-rank side.
    tau : float
        Tolerance of the numerical intersection dimension.

    Returns
    -------
    dict
        ``ladder``, ``table`` (``m × m`` int ``d_ij``), ``soft`` (``m × m`` normalised soft overlaps),
        ``generic`` (``max(0, r_i + r_j − n)``) and ``aligned`` (``min(r_i, r_j)``).
    """
    U, s_l, V, s_n = pair_subspaces(W_l, W_next)
    n = U.shape[0]
    if ladder is None:
        ladder = flag_ladder(s_l if effective_rank(s_l) <= effective_rank(s_n) else s_n)
    ladder = [int(r) for r in ladder]
    if (
        any(b <= a for a, b in zip(ladder, ladder[1:]))
        or not ladder
        or ladder[0] < 1
        or ladder[-1] > min(U.shape[1], V.shape[1])
    ):
        raise ValueError(f"ladder must be strictly increasing within [1, {min(U.shape[1], V.shape[1])}], got {ladder}")
    m = len(ladder)
    table, soft = np.zeros((m, m), dtype=int), np.zeros((m, m))
    for i, ri in enumerate(ladder):
        for j, rj in enumerate(ladder):
            table[i, j] = intersection_dim(U[:, :ri], V[:, :rj], tau)
            soft[i, j] = soft_overlap(U[:, :ri], V[:, :rj])
    r = np.array(ladder)
    return {
        "ladder": ladder,
        "table": table,
        "soft": soft,
        "generic": np.maximum(0, r[:, None] + r[None, :] - n),
        "aligned": np.minimum(r[:, None], r[None, :]),
    }
