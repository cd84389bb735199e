"""Driver of the ``gsa_spectra`` chapter: the small trained models and their random twins as factor chains
(static weights, mean channel Jacobians, tap-unfolded convolutions), their per-factor analyses, and the
tables of the chapter's diagnostics (depth profiles, Gram average against mean Jacobian, DC against tap
spectra, token-local against broadcast-mean Jacobians).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lsa.gsa import gibbs_cartan as gc
from lsa.gsa.config import GSAConfig
from lsa.gsa.factors import jacobian_factors, static_factors
from lsa.gsa.jacobian import MeanChannelJacobian, gram_vs_mean, token_local_difference
from lsa.gsa.protocol import FactorAnalysis, analyse_factor
from lsa.gsa.zoo import probe, trained

CHAINS = ("ResNet S", "ResNet J", "GPT J")
"""The chains of the chapter: ResNet static weights (mode S), ResNet and GPT mean Jacobians (mode J)."""


@dataclass(frozen=True)
class SpectraConfig:
    """Models and protocol settings of the chapter.

    Parameters
    ----------
    resnet, gpt : dict
        Config overrides of the small ResNet and GPT (see :func:`lsa.gsa.zoo.trained`).
    n_probe : int
        Probe inputs of the mode-J factors.
    gsa : GSAConfig
        Protocol settings (window cap, fit threshold, seeds).
    seed : int
        Seed of data, initialisation and probes.
    """

    resnet: dict = field(default_factory=dict)
    gpt: dict = field(default_factory=dict)
    n_probe: int = 32
    gsa: GSAConfig = GSAConfig()
    seed: int = 0


@dataclass
class SpectraRun:
    """The chains, tap-unfolded conv chains and per-factor analyses of a run, keyed by (chain, init)."""

    chains: dict
    taps: dict
    analyses: dict

    def profiles(self) -> pd.DataFrame:
        """One row per factor: fitted exponents, r_0.9/d, window, eps*, Hellinger residual, checks G and W."""
        return pd.DataFrame(
            [
                {
                    "chain": c,
                    "init": t,
                    "depth": i,
                    "factor": fa.factor.name,
                    "d": fa.spec.r,
                    "alphahat": fa.alpha,
                    "alpha_top": fa.alpha_top,
                    "ls_slope": fa.ls_slope,
                    "r90_over_d": (fa.window.r_q[0.9] or fa.spec.K) / fa.spec.r,
                    "k": fa.window.k,
                    "eps_star": fa.eps_star,
                    "R_H": fa.residuals["R_H"],
                    "G": fa.G,
                    "W": fa.window.W,
                }
                for (c, t), fas in self.analyses.items()
                for i, fa in enumerate(fas)
            ]
        )


def build(cfg: SpectraConfig) -> SpectraRun:
    """Train (cached) or build the models, extract the chains, analyse every factor (P1–P4)."""
    chains, taps = {}, {}
    for tag, is_trained in (("trained", True), ("random", False)):
        resnet, _ = trained("resnet", cfg.seed, is_trained, **cfg.resnet)
        gpt, _ = trained("gpt", cfg.seed, is_trained, **cfg.gpt)
        chains[("ResNet S", tag)] = static_factors(resnet)
        taps[tag] = static_factors(resnet, conv="taps")
        chains[("ResNet J", tag)] = jacobian_factors(resnet, probe("resnet", cfg.n_probe, cfg.seed))
        chains[("GPT J", tag)] = jacobian_factors(gpt, probe("gpt", cfg.n_probe, cfg.seed))
    analyses = {key: [analyse_factor(f, cfg.gsa) for f in fs] for key, fs in chains.items()}
    return SpectraRun(chains, taps, analyses)


def gram_table(run: SpectraRun) -> tuple[pd.DataFrame, dict]:
    """Gram average against mean Jacobian on every mode-J factor: a table (margin, mean_rel_err,
    energy_ratio) and the spectra, keyed by (chain, init, depth)."""
    rows, curves = [], {}
    for (chain, init), fas in run.analyses.items():
        if not chain.endswith(" J"):
            continue
        for i, fa in enumerate(fas):
            g = gram_vs_mean(fa.factor.op, fa.spec.dense())
            curves[(chain, init, i)] = (g["s_mean"], g["s_gram"])
            rows.append(
                {
                    "chain": chain,
                    "init": init,
                    "depth": i,
                    "factor": fa.factor.name,
                    **{k: g[k] for k in ("margin", "mean_rel_err", "energy_ratio")},
                }
            )
    return pd.DataFrame(rows), curves


def taps_table(run: SpectraRun, gsa: GSAConfig) -> pd.DataFrame:
    """Fitted exponent and relative 90 % effective rank of every ResNet conv, DC-reduced against tap-unfolded."""
    rows = []
    for tag in ("trained", "random"):
        for f_dc, f_tap in zip(run.chains[("ResNet S", tag)], run.taps[tag]):
            a_dc, a_tap = analyse_factor(f_dc, gsa), analyse_factor(f_tap, gsa)
            rows.append(
                {
                    "init": tag,
                    "factor": f_dc.name,
                    "alphahat_dc": a_dc.alpha,
                    "alphahat_taps": a_tap.alpha,
                    "r90_over_d_dc": (a_dc.window.r_q[0.9] or a_dc.spec.K) / a_dc.spec.r,
                    "r90_over_d_taps": (a_tap.window.r_q[0.9] or a_tap.spec.K) / a_tap.spec.r,
                }
            )
    return pd.DataFrame(rows)


def token_table(run: SpectraRun, mlp_sequences: int | None = None) -> pd.DataFrame:
    """Token-local against broadcast-mean Jacobian on every GPT factor (attention and MLP sub-blocks).

    Parameters
    ----------
    run : SpectraRun
    mlp_sequences : int, optional
        Compare the two on the first ``mlp_sequences`` probe sequences only for the token-wise MLP sub-blocks
        (the broadcast-mean Jacobian is then recomputed on the same sequences). There they are equal on any
        input, so the comparison is a check of the code, and the token-local Jacobian costs one JVP per
        position and input channel: this is the knob of its cost. Attention sub-blocks, whose difference is
        the measurement, always use every probe sequence. ``None``: every sequence for both.
    """
    if mlp_sequences is not None and mlp_sequences < 1:
        raise ValueError(f"mlp_sequences must be a positive integer or None, got {mlp_sequences!r}")
    rows = []
    for init in ("trained", "random"):
        for fa in run.analyses[("GPT J", init)]:
            sub_block = fa.factor.name.split(".")[-1]
            op, broadcast = fa.factor.op, fa.spec.dense()
            if sub_block == "mlp" and mlp_sequences is not None and mlp_sequences < op.x.shape[0]:
                op, broadcast = MeanChannelJacobian(op.fn, op.x[:mlp_sequences], op.cd, op.chunk), None
            t0 = time.perf_counter()
            diff = token_local_difference(op, broadcast)
            rows.append(
                {
                    "init": init,
                    "factor": fa.factor.name,
                    "sub_block": sub_block,
                    "n_sequences": int(op.x.shape[0]),
                    **diff,
                    "seconds": time.perf_counter() - t0,
                }
            )
    return pd.DataFrame(rows)


def tails_certified(analyses: list[FactorAnalysis], K_max: int) -> bool:
    """Whether ``tau_emp(k) <= tau_alphahat(k) + eps*`` at every known rank ``k <= min(K, K_max)`` of every
    factor: true by the definition of eps* (a consistency check of the fit code, not evidence)."""
    ok = True
    for fa in analyses:
        kk = np.arange(1, min(fa.spec.K, K_max) + 1)
        ok &= bool(np.all(fa.spec.tail(kk) <= gc.orbit_tail(fa.spec.r, fa.alpha, kk) + fa.eps_star + 1e-15))
    return ok
