"""Neural-collapse runs: NC1–NC4 and Level-2/3 scores logged against training time.

MLPs are trained by :func:`lsa.alignment.training.train_mlp_grid` (cross-entropy) with :func:`nc_callback`;
ResNets (with or without BatchNorm) by :func:`train_classifier`, a plain SGD loop with coupled weight decay,
optional momentum and minibatches, for any ``nn.Module`` classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from lsa.alignment.commutator import commutator_magnitude
from lsa.alignment.diagnose import weight_pairs
from lsa.alignment.levels import level_scores
from lsa.alignment.neural_collapse import nc_metrics
from lsa.alignment.training import MinibatchOrder
from lsa.device import device as pick_device


@dataclass
class ClassifierConfig:
    """Knobs of :func:`train_classifier`.

    Attributes
    ----------
    steps : int
        Optimiser steps.
    lr : float
        Learning rate.
    weight_decay : float
        Coupled decay λ (PyTorch SGD ``weight_decay``).
    momentum : float
        Heavy-ball β.
    batch_size : int or None
        None = full batch.
    log_every : int
        Steps between logged points (step 0 and the last step always logged).
    seed : int
        Seeds the minibatch order.
    device : str
        ``auto`` | ``cpu`` | ``cuda``.
    """

    steps: int = 1000
    lr: float = 0.05
    weight_decay: float = 0.0
    momentum: float = 0.0
    batch_size: int | None = None
    log_every: int = 100
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        if self.steps < 1 or self.log_every < 1 or self.lr <= 0 or self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise ValueError(f"need steps>=1, log_every>=1, lr>0, weight_decay>=0, 0<=momentum<1; got {self}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be None or positive, got {self.batch_size}")


def mlp_features(model, X):
    """Penultimate activations and the classifier ``(W, b)`` of an :class:`lsa.models.mlp.MLP`."""
    _, hidden = model(X, return_hidden=True)
    last = model.layers[-1]
    return hidden[-1], last.weight, last.bias


def resnet_features(model, X):
    """Pooled penultimate features and the ``fc`` classifier of an :class:`lsa.models.resnet.ResNet`."""
    return model.features(X), model.fc.weight, model.fc.bias


@torch.no_grad()
def nc_snapshot(model, X, y, features: Callable, pairs: bool = True, max_samples: int | None = None) -> dict:
    """NC1–NC4, Level-2/3 NC scores and, per adjacent weight pair, Level-2/3 scores and commutator.

    Columns per pair ``i``: ``level2_<i>``, ``level3_<i>`` (Hungarian) and ``comm_<i>``.
    """
    was_training = model.training
    model.eval()
    if max_samples is not None and len(X) > max_samples:
        X, y = X[:max_samples], y[:max_samples]
    H, W, b = features(model, X)
    out = nc_metrics(H, y, W, b)
    model.train(was_training)
    if pairs:
        for i, (_, _, W1, W2) in enumerate(weight_pairs(model)):
            if not np.any(W1) or not np.any(W2):
                continue
            k = min(W2.shape[0], W1.shape[0], int(y.max()) + 1)
            sc = level_scores(W1, W2, k=k, commutator=False)
            out[f"level2_{i}"], out[f"level3_{i}"] = sc["level2_soft"], sc["level3_hungarian"]
            out[f"comm_{i}"] = commutator_magnitude(W1, W2)
    return out


def nc_callback(X, y, features: Callable = mlp_features, max_samples: int | None = None) -> Callable:
    """``callback(step, model)`` for :func:`lsa.alignment.training.train_mlp` that logs :func:`nc_snapshot`."""
    return lambda step, model: nc_snapshot(
        model, X.to(next(model.parameters()).device), y, features, max_samples=max_samples
    )


def train_classifier(
    model: nn.Module, X, y, config: ClassifierConfig, features: Callable = resnet_features, max_eval: int | None = 2000
):
    """Train ``model`` with softmax cross-entropy and log NC metrics and pair scores.

    Parameters
    ----------
    model : nn.Module
        Classifier whose :func:`features` returns ``(H, W, b)``.
    X : Tensor
        Inputs (images for a ResNet).
    y : LongTensor
        Labels ``0 … C−1``.
    config : ClassifierConfig
    features : callable
        ``features(model, X) -> (H, W, b)``.
    max_eval : int, optional
        NC metrics use the first ``max_eval`` samples (train set).

    Returns
    -------
    model : nn.Module
    log : DataFrame
        ``step``, ``loss``, ``accuracy`` and :func:`nc_snapshot` columns.
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    dev = pick_device(config.device)
    model = model.to(dev)
    dtype = next(model.parameters()).dtype
    X, y = X.to(dev, dtype), y.to(dev)
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    rows, batches = [], MinibatchOrder(len(X), config.batch_size, gen, dev)
    for step in range(config.steps + 1):
        if step % config.log_every == 0 or step == config.steps:
            model.eval()
            with torch.no_grad():
                logits = model(X[:max_eval])
                loss = float(nn.functional.cross_entropy(logits, y[:max_eval]))
                acc = float((logits.argmax(1) == y[:max_eval]).double().mean())
            rows.append(
                {
                    "step": step,
                    "loss": loss,
                    "accuracy": acc,
                    **nc_snapshot(model, X, y.cpu(), features, max_samples=max_eval),
                }
            )
            model.train()
        if step == config.steps:
            break
        xb, yb = batches.next(X, y)
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    model.eval()
    return model, pd.DataFrame(rows)
