"""Driver of the ``pam_heatmaps`` chapter: build (or train, or load) each backbone and its
random-initialisation twin, extract their factor chains, run the margin protocol on each chain, and
collect the tables T1 / T2, the block-energy heatmaps of F6 and the certificate-domain membership (P12)
of every model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lsa.gsa import suite
from lsa.gsa.config import GSAConfig
from lsa.gsa.protocol import domain_membership
from lsa.gsa.zoo import probe, trained

MODELS = ("resnet", "vit", "gpt", "unet", "minilm")
"""Backbones of the suite: a CNN, a ViT, a causal LM, a diffusion U-Net and a pretrained sentence encoder."""


@dataclass(frozen=True)
class HeatmapsConfig:
    """Every knob of the chapter (the chapter's parameters, one to one).

    Parameters
    ----------
    models : tuple of str
        Backbones to analyse, a subset of :data:`MODELS`.
    scale : {"small", "paper"}
        ``small``: the small suite (trained once, cached). ``paper``: the standard-size configurations of
        :data:`lsa.gsa.suite.PAPER_CONFIGS`, loaded from ``checkpoint_dir/<kind>.pt`` when given, otherwise
        trained here with the small suite's training budget (cached); never the random twin under the
        trained label.
    checkpoint_dir : str
        Folder of local ``state_dict`` files for the paper scale ("" = train).
    small : dict
        kind -> config overrides of the small models (see :func:`lsa.gsa.zoo.trained`).
    timesteps : tuple of int
        Diffusion probe timesteps.
    n_probe : int
        Probe inputs per model.
    minilm_modes, minilm_pairs, minilm_layers :
        MiniLM factor modes, mode-J interfaces analysed, layers whose static factors are analysed.
    n_pairs : int
        Interfaces per chain of the small models, spread over depth (0 = all).
    gsa : GSAConfig
        Protocol settings.
    seed : int
        Seed of data, initialisation, probes and sketches.
    """

    models: tuple = MODELS
    scale: str = "small"
    checkpoint_dir: str = ""
    small: dict = field(default_factory=dict)
    timesteps: tuple = (20, 100, 180)
    n_probe: int = 16
    minilm_modes: tuple = ("S", "J")
    minilm_pairs: int = 2
    minilm_layers: int = 6
    n_pairs: int = 0
    gsa: GSAConfig = GSAConfig()
    seed: int = 0

    def __post_init__(self):
        if self.scale not in ("small", "paper"):
            raise ValueError(f"scale must be 'small' or 'paper', got {self.scale!r}")
        bad = sorted(set(self.models) - set(MODELS))
        if bad:
            raise ValueError(f"unknown model(s) {bad}; expected a subset of {list(MODELS)}")
        missing = sorted(set(self.models) - {"minilm"} - set(self.small)) if self.scale == "small" else []
        if missing:
            raise ValueError(f"small-scale configs missing for {missing}; pass them in `small`")


def load_model(kind: str, pretrained: bool, cfg: HeatmapsConfig):
    """The model ``kind`` of the suite: trained (or pretrained / loaded) when ``pretrained``, else its
    random-initialisation twin (same architecture and seed)."""
    if kind == "minilm":
        from lsa.models.minilm import load_minilm

        return load_minilm(pretrained=pretrained, seed=cfg.seed)[0]
    overrides = cfg.small[kind] if cfg.scale == "small" else suite.PAPER_CONFIGS[kind]
    if cfg.scale == "paper" and pretrained and cfg.checkpoint_dir:
        twin = trained(kind, cfg.seed, False, **overrides)[0]
        return suite.load_weights(twin, f"{cfg.checkpoint_dir}/{kind}.pt")
    return trained(kind, cfg.seed, pretrained, **overrides)[0]


def _probe(kind: str, cfg: HeatmapsConfig):
    if kind == "minilm":
        from lsa.models.minilm import load_minilm

        return suite.minilm_probe(load_minilm(True)[1], cfg.n_probe, 32, cfg.seed)
    return probe(kind, cfg.n_probe, cfg.seed)


@dataclass
class HeatmapsResult:
    """What the chapter plots and writes: ``T1`` (one row per model, init and chain), ``fractions`` (one row
    per interface), ``heats`` ((kind, init, chain) -> (H, support, label)), ``domain`` (one row per model
    and init: P12 membership and the first failing check), and ``T2`` (trained vs twin)."""

    T1: pd.DataFrame
    fractions: pd.DataFrame
    heats: dict
    domain: pd.DataFrame

    @property
    def T2(self) -> pd.DataFrame:
        """Aggregates per model and init (interfaces, CERT counts, median exponent, r_0.9/d and f_core)."""
        return (
            self.T1.groupby(["kind", "init"])
            .agg(
                interfaces=("interfaces", "sum"),
                CERT_emp=("CERT_emp", "sum"),
                CERT_GC=("CERT_GC", "sum"),
                VERIFY=("VERIFY", "sum"),
                alphahat=("median_alphahat", "median"),
                r90_over_d=("median_r90_over_d", "median"),
                f_core=("median_f_core", "median"),
            )
            .reset_index()
        )

    def share_trained_better(self, col: str, better: str) -> float:
        """Share of models whose trained aggregate ``col`` is larger (``better="larger"``) or smaller than the
        twin's."""
        agg = self.T2
        t = agg[agg.init == "trained"].set_index("kind")[col]
        r = agg[agg.init == "random"].set_index("kind")[col]
        return float(np.mean([(t[k] > r[k]) if better == "larger" else (t[k] < r[k]) for k in t.index]))


def run(cfg: HeatmapsConfig, progress=None) -> HeatmapsResult:
    """Run the suite: every model of ``cfg.models`` and its twin, every chain, the protocol on each.

    ``progress`` wraps the model loop (e.g. ``tqdm``); None for no progress bar.
    """
    rows, fractions, heats, dom = [], [], {}, []
    kinds = progress(cfg.models, desc="models") if progress else cfg.models
    for kind in kinds:
        x = _probe(kind, cfg)
        for tag in ("trained", "random"):
            model = load_model(kind, tag == "trained", cfg)
            modes = cfg.minilm_modes if kind == "minilm" else ("S", "J")
            chains = suite.model_chains(kind, model, x, modes, tuple(cfg.timesteps))
            if kind == "minilm" and "S" in chains:
                chains["S"] = chains["S"][: 4 * cfg.minilm_layers]
            records = []
            for chain, fs in chains.items():
                n = (cfg.minilm_pairs if chain.startswith("J") else None) if kind == "minilm" else (cfg.n_pairs or None)
                r, f, h, recs = suite.analyse_model(f"{kind} ({tag})", {chain: fs}, cfg.gsa, n, with_records=True)
                for row in r + f:
                    row.update(kind=kind, init=tag)
                rows += r
                fractions += f
                heats[(kind, tag, chain)] = h[chain]
                records += recs
            d = domain_membership(records)
            dom.append(
                {
                    "kind": kind,
                    "init": tag,
                    "inside": d["inside"],
                    "first_fail": d["first_fail"],
                    "n_interfaces": d["n_interfaces"],
                    **{f"fail_{k}": v for k, v in d["counts"].items()},
                }
            )
    return HeatmapsResult(pd.DataFrame(rows), pd.DataFrame(fractions), heats, pd.DataFrame(dom))


def heat_column_sum_dev(res: HeatmapsResult) -> float:
    """Largest deviation of a heatmap column sum from 1 (or 0 for a zero column): a consistency check."""
    return suite.heat_checks([{k: v} for k, v in res.heats.items()])["column_sum_dev"]
