"""Training bias-free MLPs with SGD, heavy-ball momentum, minibatches or AdamW, logging alignment quantities.

The optimiser conventions are PyTorch's, which the predicted rates of spec ``lsa-flag-varieties.md`` §3.2
assume: ``torch.optim.SGD(weight_decay=λ)`` adds ``λW`` to the gradient (coupled decay = penalty
``(λ/2)‖W‖²``); ``AdamW`` decays decoupled. Used by the ridge-alignment chapter and Part I's other chapters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch

from lsa.alignment.commutator import commutator_magnitude
from lsa.alignment.imbalance import imbalance_norms
from lsa.device import device as pick_device
from lsa.models.mlp import ACTIVATIONS, MLP


@dataclass
class TrainConfig:
    """Every knob of one training run (spec §4.2 E1 defaults).

    Attributes
    ----------
    widths : tuple of int
        Layer widths including input and output.
    activation : str
        One of ``lsa.models.mlp.ACTIVATIONS``.
    steps : int
        Optimiser steps.
    lr : float
        Learning rate η.
    weight_decay : float
        λ (coupled for SGD, decoupled for AdamW).
    momentum : float
        Heavy-ball β for SGD.
    optimizer : {"sgd", "adamw"}
    batch_size : int or None
        None = full batch (gradient descent); otherwise seeded minibatches drawn without replacement.
    loss : {"mse", "ce"}
        ``mse`` is ``½ mean_i ‖y_i − t_i‖²``; ``ce`` is softmax cross-entropy with integer labels.
    log_every : int
        Log every this many steps (step 0 and the last step are always logged).
    seed : int
        Seeds the initialisation and the minibatch order.
    init_gain : float
        Weights ~ ``N(0, init_gain / fan_in)``.
    device : str
        ``auto`` | ``cpu`` | ``cuda``.
    """

    widths: tuple = (20, 32, 32, 5)
    activation: str = "identity"
    steps: int = 4000
    lr: float = 0.05
    weight_decay: float = 0.0
    momentum: float = 0.0
    optimizer: str = "sgd"
    batch_size: int | None = None
    loss: str = "mse"
    log_every: int = 50
    seed: int = 0
    init_gain: float = 1.0
    device: str = "auto"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.loss not in ("mse", "ce"):
            raise ValueError(f"loss must be 'mse' or 'ce', got {self.loss!r}")
        if self.steps < 1 or self.log_every < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"need steps>=1, log_every>=1, lr>0, weight_decay>=0; got {asdict(self)}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be None (full batch) or positive, got {self.batch_size}")


def teacher_regression(n: int = 200, d_in: int = 20, d_out: int = 5, seed: int = 0):
    """The E1 toy data: ``X ~ N(0, I)``, targets ``tanh(X A / √d_in)`` with ``A ~ N(0, I)`` (float64)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d_in))
    A = rng.standard_normal((d_in, d_out))
    return torch.from_numpy(X), torch.from_numpy(np.tanh(X @ A / np.sqrt(d_in)))


def pair_log(model: MLP) -> dict:
    """Imbalance norms (total / diag / off-diag / relative) and commutator of every adjacent pair."""
    W = [w.detach().cpu().double().numpy() for w in model.weights()]
    row = {}
    for l in range(len(W) - 1):
        norms = imbalance_norms(W[l], W[l + 1])
        row.update({f"delta_{k}_{l + 1}": v for k, v in norms.items()})
        row[f"comm_{l + 1}"] = commutator_magnitude(W[l], W[l + 1])
    return row


class MinibatchOrder:
    """Minibatches drawn without replacement, reshuffled whenever the epoch runs out (full batch when
    ``batch_size`` is None or at least ``n``). The first permutation is drawn at construction.

    Used by :func:`train_mlp` and :func:`lsa.alignment.nc_training.train_classifier` (ridge, commutator and
    neural-collapse chapters).
    """

    def __init__(self, n: int, batch_size: int | None, generator: torch.Generator, device):
        self.n, self.batch_size, self.gen, self.device = n, batch_size, generator, device
        self.order, self.pos = torch.randperm(n, generator=generator), 0

    def next(self, X: torch.Tensor, Y: torch.Tensor):
        """The next ``(X_batch, Y_batch)``."""
        if self.batch_size is None or self.batch_size >= self.n:
            return X, Y
        if self.pos + self.batch_size > self.n:
            self.order, self.pos = torch.randperm(self.n, generator=self.gen), 0
        idx = self.order[self.pos : self.pos + self.batch_size].to(self.device)
        self.pos += self.batch_size
        return X[idx], Y[idx]


def train_mlp(
    X: torch.Tensor, Y: torch.Tensor, config: TrainConfig, callback: Callable[[int, MLP], dict] | None = None
):
    """Train a bias-free :class:`~lsa.models.mlp.MLP` and log alignment quantities.

    Parameters
    ----------
    X : Tensor, shape (n, widths[0])
    Y : Tensor
        Targets ``(n, widths[-1])`` for ``mse``; integer labels ``(n,)`` for ``ce``.
    config : TrainConfig
    callback : callable, optional
        ``callback(step, model) -> dict`` of extra columns, called at every logged step.

    Returns
    -------
    model : MLP
    log : pandas.DataFrame
        One row per logged step: ``step``, ``loss``, ``delta_{total,diag,offdiag,relative}_l`` and
        ``comm_l`` for each hidden layer ``l`` (pair ``(W_l, W_{l+1})``), plus callback columns.

    Used by the ridge-alignment chapter (figures of ln‖Δ‖ against step) and Part I's other chapters.
    """
    if X.shape[0] != Y.shape[0] or X.shape[1] != config.widths[0]:
        raise ValueError(f"X {tuple(X.shape)} and Y {tuple(Y.shape)} do not fit widths {config.widths}")
    dev = pick_device(config.device)
    gen = torch.Generator().manual_seed(config.seed)
    model = MLP(config.widths, config.activation, init_gain=config.init_gain, generator=gen).to(dev)
    X = X.to(dev, torch.float64)
    Y = Y.to(dev, torch.long if config.loss == "ce" else torch.float64)
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def loss_fn(out, target):
        if config.loss == "mse":
            return 0.5 * ((out - target) ** 2).sum(dim=1).mean()
        return torch.nn.functional.cross_entropy(out, target)

    batches = MinibatchOrder(X.shape[0], config.batch_size, gen, dev)
    rows = []

    def log(step, loss_value):
        row = {"step": step, "loss": loss_value, **pair_log(model)}
        if callback is not None:
            row.update(callback(step, model))
        rows.append(row)

    for step in range(config.steps + 1):
        xb, yb = batches.next(X, Y)
        if step % config.log_every == 0 or step == config.steps:
            with torch.no_grad():
                log(step, float(loss_fn(model(X), Y)))
        if step == config.steps:
            break
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        opt.step()
    return model, pd.DataFrame(rows)
