"""Static certificate radius of a PAM (T4): active-column gaps, pairwise overlap margins and the noise slack,
the column-refined test, the constructive support flip just beyond the radius, and random-perturbation
soundness tests (GSA reconstruction: bound T4; protocol steps P9–P10).
"""

from __future__ import annotations

import numpy as np

from lsa.gsa.config import GSAConfig
from lsa.gsa.pam import PAMStructure, column_blocks, pam_structure, structure_diff

REL_FAIL = 1e-9  # a margin within this relative distance of zero counts as a fail (protocol section 4)


def margins(struct: PAMStructure, cfg: GSAConfig = GSAConfig()) -> dict:
    """Margins of T4 and the Frobenius certificate radius.

    Returns
    -------
    dict with ``gamma`` (G x n active gaps), ``pi`` (n x n overlap margins), ``mu`` (noise slack),
    ``rho_act``, ``rho_pair``, ``rho_noise`` and ``rho`` = their minimum (0 when the noise bound fails),
    and ``argmin_act`` = (g*, j*) attaining the smallest active gap.
    """
    a, c = struct.a, struct.c
    gamma = np.abs(a - cfg.tau * c[None, :])
    n = c.size
    pi = np.abs(struct.omega - cfg.tau2)
    iu = np.triu_indices(n, 1)
    live = (c[iu[0]] > 0) & (c[iu[1]] > 0)
    if np.any(live):
        denom = 2.0 * (1.0 / c[iu[0]][live] + 1.0 / c[iu[1]][live])
        rho_pair = float(np.min(pi[iu][live] / denom))
    else:
        rho_pair = np.inf
    mu = cfg.nu * struct.fro - struct.eta
    rho_act = float(np.min(gamma) / (1.0 + cfg.tau)) if gamma.size else np.inf
    rho_noise = mu / (1.0 + cfg.nu)
    rho = min(rho_act, rho_pair, rho_noise) if mu > REL_FAIL * struct.fro else 0.0
    g_star, j_star = np.unravel_index(int(np.argmin(gamma)), gamma.shape) if gamma.size else (0, 0)
    return {
        "gamma": gamma,
        "pi": pi,
        "mu": float(mu),
        "rho_act": rho_act,
        "rho_pair": rho_pair,
        "rho_noise": float(rho_noise),
        "rho": float(max(rho, 0.0)),
        "argmin_act": (int(g_star), int(j_star)),
    }


def _strict(margin, bound, scale) -> bool:
    """margin > bound with the protocol's fail band: the difference must exceed 1e-9 relative."""
    return bool(np.all(np.asarray(margin) - np.asarray(bound) > REL_FAIL * scale))


def certify(struct: PAMStructure, delta_F: float, cfg: GSAConfig = GSAConfig(), marg: dict | None = None) -> bool:
    """Scalar T4 test: N holds and delta_F < rho (strictly, outside the 1e-9 fail band)."""
    m = marg or margins(struct, cfg)
    return bool(struct.N and m["mu"] > REL_FAIL * struct.fro and _strict(m["rho"], delta_F, max(m["rho"], 1e-300)))


def certify_columns(
    struct: PAMStructure, delta_cols, delta_F: float, cfg: GSAConfig = GSAConfig(), marg: dict | None = None
) -> bool:
    """Column-refined T4 test with per-column perturbation bounds ``delta_cols`` (>= ||Delta[:, j]||_2).

    With column blocks the bound of block ``J`` is ``sqrt(sum_{j in J} delta_j^2)``
    (>= ||Delta[:, J]||_F).
    """
    m = marg or margins(struct, cfg)
    d = np.asarray(delta_cols, dtype=np.float64)
    if struct.col_block is not None and d.shape == struct.col_block.shape:
        d = np.sqrt(np.bincount(struct.col_block, weights=d**2, minlength=struct.c.size))
    c = struct.c
    if d.shape != c.shape:
        raise ValueError(f"delta_cols must have one entry per PAM column ({c.size}), got shape {d.shape}")
    scale = max(float(c.max()), 1e-300)
    ok_act = _strict(m["gamma"], (1.0 + cfg.tau) * d[None, :], scale)
    iu = np.triu_indices(c.size, 1)
    live = (c[iu[0]] > 0) & (c[iu[1]] > 0)
    need = 2.0 * (d[iu[0]] / np.where(c[iu[0]] > 0, c[iu[0]], 1) + d[iu[1]] / np.where(c[iu[1]] > 0, c[iu[1]], 1))
    ok_pair = _strict(m["pi"][iu][live], need[live], 1.0) if np.any(live) else True
    ok_noise = _strict(m["mu"], (1.0 + cfg.nu) * delta_F, max(struct.fro, 1e-300))
    return bool(struct.N and ok_act and ok_pair and ok_noise)


def constructive_flip(P, groups, cfg: GSAConfig = GSAConfig(), overshoot: float = 1e-7, col_clusters=None):
    """The perturbation of T4's tightness statement: rescale the block P[G_g*, j*] with the smallest active
    gap just past the threshold, so that membership of g* in S_j* flips (``j*`` a column block when
    ``col_clusters`` merges degenerate modes).

    Returns
    -------
    Delta : ndarray
        The perturbation (zero outside the block); ``P + Delta`` has a different support.
    info : dict
        ``norm`` = ||Delta||_F, ``bound`` = gamma/(1 - tau) (= (1+tau)/(1-tau) rho_act), and (g*, j*).

    Blocks whose flip would need a zero column (a single row group holding the whole column) are skipped
    in favour of the next-smallest gap.
    """
    P = np.asarray(P, dtype=np.float64)
    struct = pam_structure(P, groups, cfg, col_clusters)
    cols_of = [np.flatnonzero(column_blocks(P.shape[1], col_clusters) == j) for j in range(struct.c.size)]
    gamma = np.abs(struct.a - cfg.tau * struct.c[None, :])
    groups = np.asarray(groups)
    for flat in np.argsort(gamma, axis=None, kind="stable"):
        g, j = np.unravel_index(int(flat), gamma.shape)
        a, c = struct.a[g, j], struct.c[j]
        rest2 = c**2 - a**2
        if c == 0 or rest2 <= 1e-24 * c**2:
            continue
        t_star = cfg.tau * np.sqrt(rest2 / (1.0 - cfg.tau**2))  # a' = tau c' exactly
        active = bool(struct.support[g, j])
        step = max(overshoot * abs(a - t_star), 1e-12 * c)
        t = t_star - step if active else t_star + step
        rows, cols = np.flatnonzero(groups == g), cols_of[j]
        Delta = np.zeros_like(P)
        block = P[np.ix_(rows, cols)]
        if a > 0:
            Delta[np.ix_(rows, cols)] = block * (t / a) - block
        else:
            Delta[rows[0], cols[0]] = t
        return Delta, {
            "norm": float(np.linalg.norm(Delta)),
            "bound": float(gamma[g, j] / (1.0 - cfg.tau)),
            "g": int(g),
            "j": int(j),
            "active": active,
        }
    raise ValueError("no support membership of this PAM can be flipped by rescaling a single block")


def perturbation_test(
    P,
    groups,
    radius: float,
    scales=(0.25, 0.5, 0.9, 0.999),
    n_draws: int = 200,
    cfg: GSAConfig = GSAConfig(),
    seed: int = 0,
    col_clusters=None,
) -> dict:
    """Soundness test of T4: draw ``n_draws`` Gaussian Delta per scale s with ||Delta||_F = s * radius and
    return the fraction whose structures equal those of P (check 5), at the column blocks
    ``col_clusters`` if given.
    """
    P = np.asarray(P, dtype=np.float64)
    base = pam_structure(P, groups, cfg, col_clusters)
    rng = np.random.default_rng(seed)
    out = {}
    for s in scales:
        same = 0
        for _ in range(n_draws):
            D = rng.standard_normal(P.shape)
            D *= s * radius / np.linalg.norm(D)
            same += not structure_diff(base, pam_structure(P + D, groups, cfg, col_clusters))
        out[float(s)] = same / n_draws
    return out
