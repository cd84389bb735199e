"""Layer-level experiment: one linear fed heavy-tailed inputs with offset-dominated outlier channels.

Large language models have a few input channels with very large activations; in many of them most of the
energy is a near-constant offset. Wanda's ``||X_j||`` mixes offset and fluctuation; CVR's variance factor
separates them. This module generates such inputs, prunes one layer with every method from
calibration statistics, and measures the output error on held-out inputs, both raw and *centred* (after
removing the error's mean over tokens, i.e. the part a bias correction could absorb).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lsa.prune.calibration import ChannelStats
from lsa.prune.pipeline import PruneConfig, prune_layer


@dataclass(frozen=True)
class OutlierConfig:
    """Input distribution and layer shape of the controlled experiment.

    ``n_offset`` channels have a large constant offset ``offset`` (sign random) and small spread
    ``offset_std``; ``n_spread`` channels have a large spread ``spread_scale``; the rest are Student-t with
    integer ``df`` degrees of freedom and unit scale.
    """

    d_in: int = 256
    d_out: int = 256
    n_tokens: int = 4096
    n_offset: int = 8
    offset: float = 20.0
    offset_std: float = 0.2
    n_spread: int = 8
    spread_scale: float = 5.0
    df: int = 3

    def __post_init__(self):
        if self.n_offset + self.n_spread > self.d_in:
            raise ValueError("n_offset + n_spread must not exceed d_in")
        if not isinstance(self.df, int) or self.df <= 2:
            raise ValueError(f"df must be an integer > 2 (finite variance), got {self.df!r}")


def outlier_inputs(cfg: OutlierConfig, n_tokens: int, seed: int) -> torch.Tensor:
    """Draw ``(n_tokens, d_in)`` float32 inputs; channel roles are fixed by ``seed`` only via the
    generator, so calibration and test draws with different seeds share the channel layout (first
    ``n_offset`` channels offset-dominated, next ``n_spread`` high-variance).
    """
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_tokens, cfg.d_in, generator=g, dtype=torch.float64)
    chi2 = (torch.randn(n_tokens, cfg.d_in, cfg.df, generator=g, dtype=torch.float64) ** 2).sum(-1)
    x = z / torch.sqrt(chi2 / cfg.df) / (cfg.df / (cfg.df - 2)) ** 0.5  # Student-t, unit variance
    signs = torch.where(torch.arange(cfg.n_offset) % 2 == 0, 1.0, -1.0)
    x[:, : cfg.n_offset] = signs * cfg.offset + cfg.offset_std * torch.randn(n_tokens, cfg.n_offset, generator=g)
    sl = slice(cfg.n_offset, cfg.n_offset + cfg.n_spread)
    x[:, sl] = x[:, sl] * cfg.spread_scale
    return x.float()


def layer_errors(weight: torch.Tensor, new_weight: torch.Tensor, x: torch.Tensor) -> dict:
    """Relative output error of a pruned layer on inputs ``x`` (float64).

    ``raw = ||X(W − W̃)ᵀ||² / ||XWᵀ||²``; ``centred`` uses the error and the output with their means over
    tokens removed.
    """
    x = x.to(torch.float64)
    y = x @ weight.to(torch.float64).T
    e = y - x @ new_weight.to(torch.float64).T
    yc, ec = y - y.mean(0), e - e.mean(0)
    return {"raw": float((e**2).sum() / (y**2).sum()), "centred": float((ec**2).sum() / (yc**2).sum())}


def run_outlier_experiment(
    methods: dict[str, PruneConfig], cfg: OutlierConfig = OutlierConfig(), seed: int = 0
) -> dict:
    """Prune one random Gaussian layer with every method; return per-method errors and channel stats.

    Parameters
    ----------
    methods : dict
        Label → :class:`PruneConfig` (any method; the pattern is read from it).
    cfg : OutlierConfig
    seed : int
        Seeds the weights (``seed``), the calibration inputs (``seed+1``) and the test inputs (``seed+2``).

    Returns
    -------
    dict
        ``errors``: label → ``{"raw", "centred"}``; ``stats``: per-channel ``norm``, ``mean``, ``std`` of
        the calibration inputs (lists) and ``role`` per channel.
    """
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(cfg.d_out, cfg.d_in, generator=g) / cfg.d_in**0.5
    x_cal = outlier_inputs(cfg, cfg.n_tokens, seed + 1)
    x_test = outlier_inputs(cfg, cfg.n_tokens, seed + 2)
    errors = {}
    for label, pc in methods.items():
        stats = ChannelStats(cfg.d_in, gram=pc.method == "sparsegpt" or (pc.ec and pc.ec_config.needs_gram))
        stats.add(x_cal)
        layer = nn.Linear(cfg.d_in, cfg.d_out, bias=False)
        layer.weight.data.copy_(weight)
        prune_layer(layer, stats, pc)
        errors[label] = layer_errors(weight, layer.weight.data, x_test)
    stats = ChannelStats(cfg.d_in)
    stats.add(x_cal)
    role = ["offset"] * cfg.n_offset + ["spread"] * cfg.n_spread + ["t"] * (cfg.d_in - cfg.n_offset - cfg.n_spread)
    return {
        "errors": errors,
        "stats": {
            "norm": stats.sq_norm.sqrt().tolist(),
            "mean": stats.mean.tolist(),
            "std": stats.var.sqrt().tolist(),
            "role": role,
        },
    }
