"""Effective ranks r_q and dominant effective-rank windows with gap snapping (protocol steps P2–P3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsa.gsa.config import GSAConfig
from lsa.gsa.spectra import Spectrum


def effective_ranks(spec: Spectrum, qs=(0.5, 0.8, 0.9, 0.95, 0.99)) -> dict:
    """r_q = min{k : sum_{i<=k} p_i >= q} for each q; ``None`` when r_q exceeds the known ranks K."""
    cum = np.cumsum(spec.p)
    out = {}
    for q in qs:
        if not 0 < q <= 1:
            raise ValueError(f"energy levels must lie in (0, 1], got {q}")
        k = int(np.searchsorted(cum, q - 1e-12) + 1)
        out[float(q)] = k if k <= spec.K else None
    return out


def relative_gap(spec: Spectrum, k: int) -> float:
    """g_k = (sigma_k - sigma_{k+1}) / sigma_k, with sigma_{r+1} = 0."""
    if not 1 <= k <= spec.r:
        raise ValueError(f"window k={k} must lie in [1, r={spec.r}]")
    sk = spec.sigma(k)
    return (sk - spec.sigma(k + 1)) / sk if sk > 0 else 0.0


@dataclass
class Window:
    """Dominant window of a factor: size ``k``, relative gap at its edge, and the check W."""

    k: int
    gap: float
    capped: bool
    determined: bool
    W: bool
    r_q: dict


def dominant_window(spec: Spectrum, cfg: GSAConfig = GSAConfig(), k: int | None = None) -> Window:
    """Window k = r_{q_win}, gap-snapped inside [r_{q_lo}, r_{q_hi}], capped at ``k_max``.

    Parameters
    ----------
    spec : Spectrum
    cfg : GSAConfig
    k : int, optional
        An explicit window size instead of the rule; must not exceed the rank or the known ranks.

    Check W: the window is determined (r_{q_hi} <= K) and its edge gap is >= ``g_min``.
    """
    rq = effective_ranks(spec, tuple(sorted(set(cfg.q_grid) | {cfg.q_lo, cfg.q_win, cfg.q_hi})))
    if k is not None:
        if not 1 <= k <= spec.r:
            raise ValueError(
                f"window request k={k} is larger than the rank r={spec.r} of the factor (expected 1 <= k <= {spec.r})"
            )
        if k >= spec.K and spec.K < spec.r:
            raise ValueError(
                f"window request k={k} needs sigma_{k + 1}, but only K={spec.K} singular values "
                f"are known (expected k < {spec.K})"
            )
        g = relative_gap(spec, k)
        return Window(k, g, False, True, g >= cfg.g_min, rq)
    lo, mid, hi = rq[cfg.q_lo], rq[cfg.q_win], rq[cfg.q_hi]
    determined = hi is not None
    if not determined:  # window rule needs r_{q_hi}; fall back to the largest known rank below K
        lo = lo if lo is not None else spec.K - 1
        mid = mid if mid is not None else spec.K - 1
        hi = spec.K - 1
    cands = list(range(max(1, lo), max(1, hi) + 1))
    cands = [c for c in cands if c <= spec.r and (c < spec.K or spec.K == spec.r)]
    gaps = [relative_gap(spec, c) for c in cands]
    best = cands[int(np.argmax(gaps))] if cands else max(1, mid)
    capped = best > cfg.k_max
    if capped:
        best = cfg.k_max
    g = relative_gap(spec, best)
    return Window(int(best), float(g), bool(capped), bool(determined), bool(determined and g >= cfg.g_min), rq)
