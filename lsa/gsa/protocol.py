"""The numerical margin protocol P0–P12 (our stand-in for the paper's Section 10):
one function that takes a chain of factors and returns a JSON-serialisable report with pass/fail per check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lsa.gsa import gibbs_cartan as gc
from lsa.gsa.certificate import certify, certify_columns, margins
from lsa.gsa.config import GSAConfig
from lsa.gsa.factors import Factor, interfaces
from lsa.gsa.labels import channel_labels, label_certificate, label_flip_rates
from lsa.gsa.pam import (
    decompose,
    pam_structure,
    row_groups,
    row_groups_argmax,
    row_groups_blocks,
    structure_diff,
    summary,
)
from lsa.gsa.spectra import Spectrum, degenerate_clusters, dense_spectrum, randomized_spectrum
from lsa.gsa.transport import physical_incidence, source_incidence, transport, truncation_bounds
from lsa.gsa.windows import Window, dominant_window
from lsa.report import to_jsonable


@dataclass
class FactorAnalysis:
    """Steps P1–P4 for one factor: spectrum, window, Gibbs–Cartan fit and check G."""

    factor: Factor
    spec: Spectrum
    window: Window
    alpha: float
    alpha_top: float
    ls_slope: float
    eps_star: float
    residuals: dict
    G: bool
    dense: np.ndarray | None = None

    def certified_tail(self, k: int) -> float:
        """tau_alphahat(k) + eps* (T2), the model-certified tail beyond rank k."""
        return float(gc.orbit_tail(self.spec.r, self.alpha, k)) + self.eps_star

    def record(self) -> dict:
        """The per-factor JSON record of the protocol outputs."""
        return to_jsonable(
            {
                "name": self.factor.name,
                "mode": self.factor.mode,
                "shape": list(self.factor.shape),
                "k": self.window.k,
                "r_q": {str(q): v for q, v in self.window.r_q.items()},
                "gap": self.window.gap,
                "capped": self.window.capped,
                "W": self.window.W,
                "alphahat": self.alpha,
                "alpha_top": self.alpha_top,
                "ls_slope": self.ls_slope,
                "eps_star": self.eps_star,
                "G": self.G,
                "residuals": self.residuals,
                "fro_norm": float(np.sqrt(self.spec.fro2)),
                "exact": self.spec.exact,
                "svd_residual": self.spec.residual,
            }
        )


def analyse_factor(f: Factor, cfg: GSAConfig = GSAConfig()) -> FactorAnalysis:
    """P1–P4: spectrum (dense below ``cfg.dense_max``, else randomized JVP/VJP SVD), window, fit, check G.

    For a randomized (partial) spectrum the fit completes the unknown tail mass flat over ranks K+1..r
    (our convention); eps* is always computed on the known ranks, where tau_emp is exact.
    """
    r = min(f.shape)
    A = None
    if r <= cfg.dense_max:
        A = f.dense()
        spec = dense_spectrum(A)
    else:
        spec = randomized_spectrum(f.op, min(r, cfg.k_max + 16), cfg.oversample, cfg.n_iter, cfg.seed)
    win = dominant_window(spec, cfg)
    fit = fit_tail_model(spec, cfg.k_max + 16)
    return FactorAnalysis(
        f,
        spec,
        win,
        fit["alpha"],
        fit["alpha_top"],
        fit["ls_slope"],
        fit["eps_star"],
        fit["residuals"],
        bool(fit["eps_star"] <= cfg.eps_max),
        A,
    )


def fit_tail_model(spec: Spectrum, K_max: int) -> dict:
    """P4: the Gibbs–Cartan fit of a (possibly partial) spectrum and its fitted-tail error.

    For a partial spectrum (top K of r values) the unknown tail mass ``1 - sum_{i<=K} p_i`` is spread flat
    over ranks K+1..r before fitting (our convention); eps* is computed on the known ranks
    ``1..min(K, K_max)``, where ``tau_emp`` is exact given ``spec.fro2``.

    Returns
    -------
    dict with ``alpha`` (KL/moment fit), ``alpha_top``, ``ls_slope``, ``eps_star`` and ``residuals``.
    """
    r = spec.r
    p = spec.p
    if spec.K < r:
        p = np.concatenate([p, np.full(r - spec.K, max(1.0 - p.sum(), 0.0) / (r - spec.K))])
    alpha = gc.fit_alpha(p)
    K = min(spec.K, K_max)
    return {
        "alpha": alpha,
        "alpha_top": gc.fit_alpha_top(p),
        "ls_slope": gc.ls_slope(p),
        "eps_star": gc.fitted_tail_error(spec.tail(np.arange(1, K + 1)), r, alpha),
        "residuals": gc.chart_residuals(p, alpha),
    }


@dataclass
class InterfaceAnalysis:
    """Steps P5–P10 for one interface, with the matrices kept for plotting."""

    src: FactorAnalysis
    dst: FactorAnalysis
    record: dict
    mats: dict = field(default_factory=dict)


def _apply(fa: FactorAnalysis):
    return fa.dense if fa.dense is not None else fa.factor.op


def analyse_interface(a: FactorAnalysis, b: FactorAnalysis, cfg: GSAConfig = GSAConfig()) -> InterfaceAnalysis:
    """P5–P10 on the interface a -> b: transport, incidences, T1/T2 bounds, PAM structures, margins, decisions."""
    k, k2 = a.window.k, b.window.k
    tr = transport(a.spec, k, b.spec, k2)
    B_tr, B_full = source_incidence(a.spec, k, b.spec, k2, _apply(b))
    Phi_tr, Phi_full = physical_incidence(a.spec, k, b.spec, k2, a.dense, b.dense)
    emp = truncation_bounds(a.spec, k, b.spec, k2)
    gcb = truncation_bounds(a.spec, k, b.spec, k2, a.certified_tail(k), b.certified_tail(k2))
    W = a.window.W and b.window.W
    G = a.G and b.G
    rec, mats = (
        {
            "src": a.factor.name,
            "dst": b.factor.name,
            "k": k,
            "k2": k2,
            "W": W,
            "G": G,
            "kappa": tr["kappa"],
            "kappa0": tr["kappa0"],
            "theta_max": tr["theta_max"],
        },
        {},
    )
    clusters = degenerate_clusters(a.spec.s[:k], cfg.g_deg)  # source modes: block columns
    src_blocks = None if all(len(c) == 1 for c in clusters) else clusters
    for tag, P_tr, P_full, groups, dF, dcols, cols in (
        (
            "B",
            B_tr,
            B_full,
            row_groups_argmax(B_tr, col_clusters=src_blocks) if cfg.row_groups == "argmax" else row_groups(B_tr, cfg),
            (emp["B_F"], gcb["B_F"]),
            emp["delta_cols"],
            src_blocks,
        ),
        (
            "Phi",
            Phi_tr,
            Phi_full,
            row_groups_blocks(Phi_tr.shape[0], cfg.block_size),
            (emp["Phi_F"], gcb["Phi_F"]),
            None,
            None,
        ),
    ):
        st = pam_structure(P_tr, groups, cfg, cols)
        m = margins(st, cfg)
        dec = decompose(P_tr, st)
        cert_emp = W and (
            certify(st, dF[0], cfg, m) or (dcols is not None and certify_columns(st, dcols, dF[0], cfg, m))
        )
        cert_gc = W and G and certify(st, dF[1], cfg, m)
        verify, actual = None, None
        if P_full is not None:
            verify = not structure_diff(st, pam_structure(P_full, groups, cfg, cols))
            actual = float(np.linalg.norm(P_full - P_tr))
        rec[tag] = {
            "delta_F_emp": dF[0],
            "delta_F_GC": dF[1],
            "actual_F": actual,
            "rho": m["rho"],
            "rho_act": m["rho_act"],
            "rho_pair": m["rho_pair"],
            "rho_noise": m["rho_noise"],
            "f_core": dec["f_core"],
            "f_ovl": dec["f_overlap"],
            "f_noise": dec["f_noise"],
            "N": st.N,
            "CERT_emp": bool(cert_emp),
            "CERT_GC": bool(cert_gc),
            "VERIFY": verify,
            "bug": bool(cert_emp and verify is False),
            **summary(st),
        }
        if tag == "B":
            rec[tag]["delta_cols"] = dcols
            rec[tag]["n_col_blocks"] = int(st.c.size)
        mats[tag] = {"tr": P_tr, "full": P_full, "groups": groups, "struct": st, "margins": m}
    mats["T"] = tr["T"]
    rec["Phi"]["delta_2_emp"] = emp["Phi_2"]
    rec["labels_defined"] = a.factor.in_space == b.factor.out_space and a.factor.kind != "transition"
    return InterfaceAnalysis(a, b, rec, mats)


def run_protocol(
    factors: list[Factor], cfg: GSAConfig = GSAConfig(), pairs=None, labels: bool = True, n_label_draws: int = 64
) -> dict:
    """The whole margin protocol P0–P12 on a chain of factors.

    Parameters
    ----------
    factors : list of Factor
    cfg : GSAConfig
    pairs : list of (l, l+1), optional
        Interfaces to analyse; default every valid consecutive pair (:func:`lsa.gsa.factors.interfaces`).
    labels : bool
        Run P11 (SC/SA/ST labels, T5 certificates, label flip rates) on square residual interfaces.

    Returns
    -------
    dict
        ``{"config", "factors", "interfaces", "summary", "domain"}`` (JSON-serialisable) plus the key
        ``"_analysis"`` holding the in-memory :class:`InterfaceAnalysis` objects for plotting (pop it
        before serialising).
    """
    if not isinstance(cfg, GSAConfig):
        raise TypeError(f"cfg must be a GSAConfig, got {type(cfg).__name__}")
    pairs = interfaces(factors) if pairs is None else [tuple(p) for p in pairs]
    for l, l2 in pairs:
        if not (0 <= l < len(factors) and 0 <= l2 < len(factors)):
            raise ValueError(f"interface ({l}, {l2}) is outside the {len(factors)} factors")
        if factors[l].out_space != factors[l2].in_space:
            raise ValueError(
                f"interface ({l}, {l2}) is invalid: {factors[l].name} writes {factors[l].out_space} "
                f"but {factors[l2].name} reads {factors[l2].in_space}"
            )
    used = sorted({i for p in pairs for i in p})
    fa = {i: analyse_factor(factors[i], cfg) for i in used}
    ia = [analyse_interface(fa[l], fa[l2], cfg) for l, l2 in pairs]
    lab_idx = [i for i, x in enumerate(ia) if labels and x.record["labels_defined"]]
    for pos, i in enumerate(lab_idx):
        rec, Phi = ia[i].record, ia[i].mats["Phi"]["tr"]
        adj = lab_idx[pos + 1] if pos + 1 < len(lab_idx) else (lab_idx[pos - 1] if pos > 0 else i)
        Phi_adj = ia[adj].mats["Phi"]["tr"]
        if Phi_adj.shape != Phi.shape:
            adj, Phi_adj = i, Phi
        groups = row_groups_blocks(Phi.shape[0], cfg.block_size)
        lab = channel_labels(Phi, Phi_adj, groups, cfg)
        d, d_adj = rec["Phi"]["delta_F_emp"], ia[adj].record["Phi"]["delta_F_emp"]
        ok = label_certificate(lab, groups, np.full(len(groups), d), np.full(len(groups), d_adj), cfg)
        flips = label_flip_rates(Phi, Phi_adj, groups, max(d, 1e-12), n_draws=n_label_draws, cfg=cfg, seed=cfg.seed)
        counts = {L: int(sum(x == L for x in lab["labels"])) for L in ("SC", "SA", "ST", "null")}
        rec["labels"] = {
            "counts": counts,
            "certified_fraction": float(ok.mean()),
            "LABEL_CERT": bool(ok.all()),
            "flip_rates": {str(f): v for f, v in flips.items()},
        }
        ia[i].mats["labels"] = lab
    recs = [x.record for x in ia]
    n_bug = sum(r["B"]["bug"] or r["Phi"]["bug"] for r in recs)
    summ = {
        "n_interfaces": len(recs),
        "CERT_emp": sum(r["B"]["CERT_emp"] for r in recs),
        "CERT_GC": sum(r["B"]["CERT_GC"] for r in recs),
        "VERIFY": sum(bool(r["B"]["VERIFY"]) for r in recs),
        "CERT_emp_phys": sum(r["Phi"]["CERT_emp"] for r in recs),
        "VERIFY_phys": sum(bool(r["Phi"]["VERIFY"]) for r in recs),
        "bugs": n_bug,
        "median_rho_over_delta": float(np.median([r["B"]["rho"] / max(r["B"]["delta_F_emp"], 1e-300) for r in recs])),
        "median_alphahat": float(np.median([fa[i].alpha for i in used])),
        "median_r90_over_d": float(
            np.median([(fa[i].window.r_q.get(0.9) or fa[i].spec.K) / fa[i].spec.r for i in used])
        ),
    }
    domain = all(r["B"]["CERT_GC"] for r in recs) and all(r.get("labels", {}).get("LABEL_CERT", True) for r in recs)
    return {
        "config": cfg.to_dict(),
        "factors": [fa[i].record() for i in used],
        "interfaces": to_jsonable(recs),
        "summary": to_jsonable(summ),
        "domain": bool(domain),
        "_analysis": ia,
    }


DOMAIN_STEPS = ("W", "G", "N", "radius", "labels")
"""The checks of the certificate domain (P12) in protocol order: window gap (P3), fit (P4), noise bound (P8),
radius against the certified truncation bound (P9–P10), label certificate (P11)."""


def first_failure(record: dict) -> str | None:
    """The first check of :data:`DOMAIN_STEPS` that an interface record of :func:`run_protocol` fails, or
    None when it passes all of them (CERT_GC and, where labels are defined, LABEL_CERT).

    A failed radius test names the binding term: ``"radius (active gap)"``, ``"radius (overlap margin)"`` or
    ``"radius (noise slack)"``.
    """
    B = record["B"]
    if not record["W"]:
        return "W"
    if not record["G"]:
        return "G"
    if not B["N"]:
        return "N"
    if not B["CERT_GC"]:
        terms = {"active gap": B["rho_act"], "overlap margin": B["rho_pair"], "noise slack": B["rho_noise"]}
        binding = min(terms, key=lambda t: np.inf if terms[t] is None else terms[t])
        return f"radius ({binding})"
    if not record.get("labels", {}).get("LABEL_CERT", True):
        return "labels"
    return None


def domain_membership(records: list[dict]) -> dict:
    """P12 on the interface records of one model: ``inside`` (every interface passes every domain check),
    ``first_fail`` (the most frequent first failure, ties broken by protocol order; None when inside) and
    ``counts`` (first failures by check)."""
    if not records:
        raise ValueError("domain membership needs at least one interface record")
    fails = [first_failure(r) for r in records]
    counts = {}
    for f in fails:
        if f is not None:
            counts[f] = counts.get(f, 0) + 1
    order = {s: i for i, s in enumerate(DOMAIN_STEPS)}
    first = min(counts, key=lambda f: (-counts[f], order[f.split(" ")[0]], f)) if counts else None
    return {"inside": not counts, "first_fail": first, "counts": counts, "n_interfaces": len(records)}
