"""Driver of the ``pam_certificates`` chapter: the small trained ResNet (modes S and J) and GPT (mode J) as
factor chains, the margin protocol on each, the table of interfaces, and the guarantee checks computed on
the run's own objects (bounds, decomposition, soundness and tightness, degenerate rotation, label fragility,
randomized against dense Jacobians, invariances, determinism).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lsa.gsa import checks
from lsa.gsa.config import GSAConfig
from lsa.gsa.factors import jacobian_factors, static_factors
from lsa.gsa.protocol import run_protocol
from lsa.gsa.zoo import probe, trained


@dataclass(frozen=True)
class CertificatesConfig:
    """Models, protocol settings and test sizes of the chapter.

    Parameters
    ----------
    resnet, gpt : dict
        Config overrides of the small ResNet and GPT (see :func:`lsa.gsa.zoo.trained`).
    n_probe : int
        Probe inputs of the mode-J factors.
    label_draws : int
        Random perturbations per interface in the label flip-rate test (P11).
    gsa : GSAConfig
        Protocol settings.
    seed : int
        Seed of data, initialisation, probes, sketches and perturbations.
    """

    resnet: dict = field(default_factory=dict)
    gpt: dict = field(default_factory=dict)
    n_probe: int = 32
    label_draws: int = 32
    gsa: GSAConfig = GSAConfig()
    seed: int = 0


def build(cfg: CertificatesConfig) -> tuple[dict, dict]:
    """The trained models' chains ``{"ResNet S", "ResNet J", "GPT J"}`` and the protocol report of each."""
    resnet, _ = trained("resnet", cfg.seed, True, **cfg.resnet)
    gpt, _ = trained("gpt", cfg.seed, True, **cfg.gpt)
    chains = {
        "ResNet S": static_factors(resnet),
        "ResNet J": jacobian_factors(resnet, probe("resnet", cfg.n_probe, cfg.seed)),
        "GPT J": jacobian_factors(gpt, probe("gpt", cfg.n_probe, cfg.seed)),
    }
    reports = {name: run_protocol(fs, cfg.gsa, n_label_draws=cfg.label_draws) for name, fs in chains.items()}
    return chains, reports


def interface_table(reports: dict) -> pd.DataFrame:
    """One row per interface of every chain: windows, alignment, radius, bounds, checks and decisions of the
    source-mode PAM (``rho_struct`` is the radius from the active gaps and overlap margins alone)."""
    return pd.DataFrame(
        [
            {
                "chain": n,
                "interface": f"{r['src']}→{r['dst']}",
                "k": r["k"],
                "k'": r["k2"],
                "kappa": r["kappa"],
                "theta_max": r["theta_max"],
                "rho": r["B"]["rho"],
                "delta_emp": r["B"]["delta_F_emp"],
                "delta_GC": r["B"]["delta_F_GC"],
                "actual": r["B"]["actual_F"],
                "rho_struct": min(r["B"]["rho_act"], r["B"]["rho_pair"] if r["B"]["rho_pair"] is not None else np.inf),
                "W": r["W"],
                "G": r["G"],
                "N": r["B"]["N"],
                "CERT_emp": r["B"]["CERT_emp"],
                "CERT_GC": r["B"]["CERT_GC"],
                "VERIFY": r["B"]["VERIFY"],
            }
            for n, rep in reports.items()
            for r in rep["interfaces"]
        ]
    )


def guarantee_checks(
    chains: dict,
    reports: dict,
    cfg: CertificatesConfig,
    n_random: int = 20,
    n_draws: int = 200,
    n_trained_cases: int = 8,
) -> dict:
    """Every guarantee and identity of the chapter computed on this run.

    Parameters
    ----------
    chains, reports : dict
        From :func:`build`.
    cfg : CertificatesConfig
    n_random : int
        Random block-sparse PAMs for the soundness and tightness tests.
    n_draws : int
        Random perturbations per scale in the soundness test.
    n_trained_cases : int
        Trained-model PAMs with a positive radius added to the soundness test.

    Returns
    -------
    dict
        ``ratios`` (T1 actual/bound), ``decomposition`` (orthogonality and energy errors), ``soundness``,
        ``rotation``, ``labels`` (label fragility), ``jacobian`` (randomized vs dense), ``invariance``,
        ``deterministic``, ``gc_dominates``, ``cert_any`` and ``bugs`` (CERT without VERIFY).
    """
    gsa = cfg.gsa
    analyses = [ia for rep in reports.values() for ia in rep["_analysis"]]
    pams = [(ia.mats[t]["tr"], ia.mats[t]["groups"]) for ia in analyses for t in ("B", "Phi")]
    pams += [
        (ia.mats[t]["full"], ia.mats[t]["groups"])
        for ia in analyses
        for t in ("B", "Phi")
        if ia.mats[t]["full"] is not None
    ]
    rng = np.random.default_rng(cfg.seed)
    cases = [checks.structured_pam(rng) for _ in range(n_random)]
    trained_cases = [(ia.mats[t]["tr"], ia.mats[t]["groups"]) for ia in analyses for t in ("B", "Phi")]
    cases += [c for c in trained_cases if checks.margins_of(*c, gsa)["rho"] > 0][:n_trained_cases]
    again = run_protocol(chains["ResNet S"], gsa, n_label_draws=cfg.label_draws)
    return {
        "ratios": checks.bound_ratios(analyses),
        "decomposition": checks.decomposition_errors(pams, gsa),
        "soundness": checks.soundness_and_tightness(cases, n_draws, cfg=gsa, seed=cfg.seed),
        "rotation": checks.degenerate_rotation(cfg.seed),
        "labels": checks.label_fragility(gsa),
        "jacobian": checks.jacobian_agreement(chains["ResNet J"][0], k=4, n_ref=4, seed=cfg.seed),
        "invariance": all(checks.invariance(P, g, gsa, cfg.seed) for P, g in cases[:5]),
        "deterministic": checks.json_digest(again) == checks.json_digest(reports["ResNet S"]),
        "gc_dominates": bool(
            all(
                r["B"]["delta_F_GC"] >= r["B"]["delta_F_emp"] * (1 - 1e-12)
                for rep in reports.values()
                for r in rep["interfaces"]
            )
        ),
        "cert_any": sum(
            int(r["B"]["CERT_emp"]) + int(r["Phi"]["CERT_emp"]) for rep in reports.values() for r in rep["interfaces"]
        ),
        "bugs": sum(rep["summary"]["bugs"] for rep in reports.values()),
    }
