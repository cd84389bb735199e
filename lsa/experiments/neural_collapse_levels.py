"""Driver of the neural-collapse chapter: alignment of residual blocks against weight decay.

:func:`block_pair_alignment` scores the ``(conv1, conv2)`` pair of every basic block of a trained
:class:`lsa.models.resnet.ResNet` (channel space as the hidden space); :func:`residual_sweep` trains ResNets
with and without BatchNorm over a λ grid and collects those scores beside the Neural Collapse metrics;
:func:`mlp_nc_grid` trains the chapter's MLP grids.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from lsa.alignment.diagnose import weight_pairs
from lsa.alignment.levels import level_scores
from lsa.alignment.nc_training import ClassifierConfig, nc_callback, train_classifier
from lsa.alignment.training import TrainConfig, train_mlp_grid
from lsa.models.resnet import ResNet


def block_pair_alignment(model: ResNet, energy: float = 0.9) -> pd.DataFrame:
    """Level-2 soft overlap, ``d_τ`` (τ = 1e-2, as a fraction of ``k``), chance and commutator of every block's
    ``(conv1, conv2)`` pair; ``k`` is the effective rank at ``energy``. Pairs with an all-zero side are skipped."""
    rows = []
    for name, kind, W1, W2 in weight_pairs(model):
        if kind != "conv" or not np.any(W1) or not np.any(W2):
            continue
        sc = level_scores(W1, W2, energy=energy)
        rows.append(
            {
                "pair": name,
                "k": sc["k"],
                "soft_overlap": sc["level2_soft"],
                "chance": sc["level2_chance"],
                "d_tau_frac": sc["level2_dim_tau0.01"] / sc["k"],
                "commutator": sc["commutator"],
            }
        )
    return pd.DataFrame(rows)


def residual_sweep(X, y, config: ClassifierConfig, lambdas, in_channels: int, widths, blocks: int, seed: int = 0):
    """Train one ResNet per (BatchNorm on/off, λ) with the same initialisation seed.

    Returns
    -------
    final : DataFrame
        Per run: ``batchnorm``, ``lam``, the last row of the training log (loss, accuracy, NC metrics) and the
        block-pair means ``soft_overlap``, ``chance``, ``d_tau_frac``, ``commutator``.
    pairs : DataFrame
        :func:`block_pair_alignment` rows of every run.
    """
    finals, pairs = [], []
    for bn in (True, False):
        for lam in lambdas:
            torch.manual_seed(seed)
            net = ResNet(in_channels, int(y.max()) + 1, tuple(widths), blocks, batchnorm=bn)
            net, log = train_classifier(net, X, y, ClassifierConfig(**{**config.__dict__, "weight_decay": float(lam)}))
            bp = block_pair_alignment(net).assign(batchnorm=bn, lam=float(lam))
            pairs.append(bp)
            means = bp[["soft_overlap", "chance", "d_tau_frac", "commutator"]].mean().to_dict() if len(bp) else {}
            finals.append({"batchnorm": bn, "lam": float(lam), **log.iloc[-1].to_dict(), **means})
    return pd.DataFrame(finals), pd.concat(pairs, ignore_index=True)


def mlp_nc_grid(X, y, base: TrainConfig, activations, lambdas) -> dict:
    """Cross-entropy MLPs over activation × λ, trained as one batched computation, logging Neural Collapse
    metrics and per-pair Level scores (:func:`lsa.alignment.nc_training.nc_callback`) at every logged step.

    Returns ``{(activation, λ): log}``.
    """
    runs = [(a, float(lam)) for a in activations for lam in lambdas]
    cfgs = [replace(base, activation=a, weight_decay=lam, loss="ce") for a, lam in runs]
    trained = train_mlp_grid(X, y, cfgs, callbacks=[nc_callback(X, y)] * len(cfgs))
    return {run: log for run, (_, log) in zip(runs, trained)}
