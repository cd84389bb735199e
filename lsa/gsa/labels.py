"""Invariant Channel Mapping labels SC / SA / ST on square residual interfaces, their T5 margins and the
explicit perturbation tests of protocol step P11 (GSA reconstruction: labels, bound T5).

The label names are the paper's; the rules are our reconstruction.
"""

from __future__ import annotations

import itertools

import numpy as np

from lsa.gsa.config import GSAConfig

LABELS = ("SC", "SA", "ST", "null")


def _check_square(Phi, groups):
    Phi = np.asarray(Phi, dtype=np.float64)
    if Phi.ndim != 2 or Phi.shape[0] != Phi.shape[1]:
        raise ValueError(
            f"labels need a square residual-stream incidence (same channels in and out), got shape {Phi.shape}"
        )
    groups = np.asarray(groups)
    if groups.shape != (Phi.shape[0],) or np.any(groups < 0):
        raise ValueError(f"channel groups must give a label >= 0 per channel ({Phi.shape[0]}), got {groups.shape}")
    return Phi, groups


def row_profiles(Phi, groups) -> dict:
    """Row energies R_c, self shares s_c, own-group shares q_c and group profiles pi_c (rows sum to 1)."""
    Phi, groups = _check_square(Phi, groups)
    R = np.sum(Phi**2, axis=1)
    Rs = np.where(R > 0, R, 1.0)
    G = int(groups.max()) + 1
    prof = np.stack([np.sum(Phi[:, groups == h] ** 2, axis=1) for h in range(G)], axis=1) / Rs[:, None]
    s = np.diag(Phi) ** 2 / Rs
    q = prof[np.arange(Phi.shape[0]), groups]
    return {"R": R, "s": s, "q": q, "pi": prof}


def _decide(sc, sq, sk):
    if sc and sk:
        return "SC"
    if sq and sk:
        return "SA"
    return "ST"


def channel_labels(Phi, Phi_adj, groups, cfg: GSAConfig = GSAConfig()) -> dict:
    """SC/SA/ST labels of every channel, with kappa_c = cos(pi_c at l, pi_c at the adjacent l')."""
    A, B = row_profiles(Phi, groups), row_profiles(Phi_adj, groups)
    na = np.linalg.norm(A["pi"], axis=1)
    nb = np.linalg.norm(B["pi"], axis=1)
    kappa = np.sum(A["pi"] * B["pi"], axis=1) / np.where(na * nb > 0, na * nb, 1.0)
    null = (A["R"] < 1e-6 * A["R"].mean()) | (B["R"] < 1e-6 * B["R"].mean())
    labels = [
        (
            "null"
            if null[c]
            else _decide(A["s"][c] >= cfg.theta_s, A["q"][c] >= cfg.theta_q, kappa[c] >= cfg.theta_kappa)
        )
        for c in range(len(kappa))
    ]
    return {"labels": labels, "s": A["s"], "q": A["q"], "kappa": kappa, "R": A["R"], "R_adj": B["R"]}


def label_certificate(lab: dict, groups, delta_rows, delta_rows_adj, cfg: GSAConfig = GSAConfig()) -> np.ndarray:
    """T5: a label is certified when no combination of its unstable threshold decisions changes it.

    A decision (s >= theta_s, q >= theta_q, kappa >= theta_kappa) is stable when its margin exceeds the
    T5 bound: 4 delta_c/||x_c|| for s and q, 2 sqrt(G) (4 delta_c/||x_c|| + 4 delta'_c/||x'_c||) for kappa.
    """
    G = int(np.max(groups)) + 1
    xa, xb = np.sqrt(lab["R"]), np.sqrt(lab["R_adj"])
    da, db = np.asarray(delta_rows, float), np.asarray(delta_rows_adj, float)
    ea = 4 * da / np.where(xa > 0, xa, 1e-300)
    eb = 4 * db / np.where(xb > 0, xb, 1e-300)
    bounds = {"s": ea, "q": ea, "kappa": 2 * np.sqrt(G) * (ea + eb)}
    thr = {"s": cfg.theta_s, "q": cfg.theta_q, "kappa": cfg.theta_kappa}
    ok = np.zeros(len(lab["labels"]), dtype=bool)
    for c, L in enumerate(lab["labels"]):
        if L == "null":
            continue
        dec = {k: lab[k][c] >= thr[k] for k in thr}
        unstable = [k for k in thr if not abs(lab[k][c] - thr[k]) > bounds[k][c]]
        variants = set()
        for flips in itertools.product([False, True], repeat=len(unstable)):
            d = dict(dec)
            for k, f in zip(unstable, flips):
                d[k] = (not d[k]) if f else d[k]
            variants.add(_decide(d["s"], d["q"], d["kappa"]))
        ok[c] = variants == {L}
    return ok


def adversarial_label_perturbation(Phi, groups, cfg: GSAConfig = GSAConfig(), overshoot: float = 1e-6):
    """Smallest single-entry (self-share) or own-group rescaling that pushes one channel's s_c or q_c across
    its threshold; returns (Delta, info). Aimed at the smallest label margin (protocol P11).
    """
    Phi, groups = _check_square(Phi, groups)
    best = None
    for c in range(Phi.shape[0]):
        R = float(np.sum(Phi[c] ** 2))
        if R == 0:
            continue
        own = groups == groups[c]
        for kind, idx, thr in (("s", np.array([c]), cfg.theta_s), ("q", np.flatnonzero(own), cfg.theta_q)):
            e_in = float(np.sum(Phi[c, idx] ** 2))
            e_out = R - e_in
            if e_out <= 0:
                continue
            cur = e_in / R
            target = thr * (1 - overshoot) if cur >= thr else thr * (1 + overshoot)
            new_in = target * e_out / (1 - target)  # e_in' / (e_in' + e_out) = target
            scale = np.sqrt(new_in / e_in) if e_in > 0 else None
            if scale is None:
                continue
            norm = abs(scale - 1) * np.sqrt(e_in)
            if best is None or norm < best[0]:
                best = (norm, c, kind, idx, scale)
    if best is None:
        raise ValueError("no channel share can be moved across its threshold")
    norm, c, kind, idx, scale = best
    D = np.zeros_like(Phi)
    D[c, idx] = Phi[c, idx] * (scale - 1)
    return D, {"norm": float(np.linalg.norm(D)), "channel": int(c), "share": kind}


def label_flip_rates(
    Phi,
    Phi_adj,
    groups,
    delta: float,
    factors=(0.5, 1.0, 2.0),
    n_draws: int = 64,
    cfg: GSAConfig = GSAConfig(),
    seed: int = 0,
) -> dict:
    """Fraction of channels whose label changes under random Delta with ||Delta||_F = f * delta (P11)."""
    base = channel_labels(Phi, Phi_adj, groups, cfg)["labels"]
    rng = np.random.default_rng(seed)
    out = {}
    for f in factors:
        flips = 0
        for _ in range(n_draws):
            D = rng.standard_normal(np.shape(Phi))
            D *= f * delta / np.linalg.norm(D)
            new = channel_labels(np.asarray(Phi) + D, Phi_adj, groups, cfg)["labels"]
            flips += sum(a != b for a, b in zip(base, new))
        out[float(f)] = flips / (n_draws * len(base))
    return out


def label_fragile_example(d: int = 16, block: int = 8, noise: float = 0.02, seed: int = 0):
    """A square residual incidence whose static PAM structures are robust but one SC label sits next to
    theta_s = 0.5 (claim 7): near-identity with channel 0 sharing its row equally with a group neighbour.
    """
    if d < 2 * block or block < 2:
        raise ValueError(f"need at least two groups of >= 2 channels, got d={d}, block={block}")
    rng = np.random.default_rng(seed)
    Phi = np.eye(d) + noise * rng.standard_normal((d, d)) / np.sqrt(d)
    Phi[0, 0], Phi[0, 1] = 1.0, 0.98
    return Phi, np.arange(d) // block
