"""Training bias-free MLPs with SGD, heavy-ball momentum, minibatches or AdamW, logging alignment quantities.

The optimiser conventions are PyTorch's, which the predicted rates
assume: ``torch.optim.SGD(weight_decay=λ)`` adds ``λW`` to the gradient (coupled decay = penalty
``(λ/2)‖W‖²``); ``AdamW`` decays decoupled. Grids of networks that differ only in activation, weight decay
and seed train as one batched computation (:func:`train_mlp_grid`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch

from lsa.alignment.commutator import commutator_magnitude
from lsa.alignment.imbalance import imbalance_norms
from lsa.data.regression import teacher_regression  # noqa: F401  (re-exported: the toy data of this module's users)
from lsa.device import device as pick_device
from lsa.linalg import as_float64
from lsa.models.mlp import ACTIVATIONS, MLP, StackedMLP


@dataclass
class TrainConfig:
    """Every knob of one training run.

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


def pair_log(model: MLP) -> dict:
    """Imbalance norms (total / diag / off-diag / relative) and commutator of every adjacent pair."""
    W = [as_float64(w) for w in model.weights()]
    row = {}
    for l in range(len(W) - 1):
        norms = imbalance_norms(W[l], W[l + 1])
        row.update({f"delta_{k}_{l + 1}": v for k, v in norms.items()})
        row[f"comm_{l + 1}"] = commutator_magnitude(W[l], W[l + 1])
    return row


class MinibatchOrder:
    """Minibatches drawn without replacement, reshuffled whenever the epoch runs out (full batch when
    ``batch_size`` is None or at least ``n``). The first permutation is drawn at construction.
    """

    def __init__(self, n: int, batch_size: int | None, generator: torch.Generator, device):
        self.n, self.batch_size, self.gen, self.device = n, batch_size, generator, device
        self.order, self.pos = torch.randperm(n, generator=generator), 0

    def indices(self) -> torch.Tensor | None:
        """The sample indices of the next minibatch (None when every step uses the full batch)."""
        if self.batch_size is None or self.batch_size >= self.n:
            return None
        if self.pos + self.batch_size > self.n:
            self.order, self.pos = torch.randperm(self.n, generator=self.gen), 0
        idx = self.order[self.pos : self.pos + self.batch_size].to(self.device)
        self.pos += self.batch_size
        return idx

    def next(self, X: torch.Tensor, Y: torch.Tensor):
        """The next ``(X_batch, Y_batch)``."""
        idx = self.indices()
        return (X, Y) if idx is None else (X[idx], Y[idx])


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


GRID_VARYING = ("activation", "weight_decay", "seed")
"""The :class:`TrainConfig` fields that may differ between the members of one :func:`train_mlp_grid` call."""


def stacked_pair_log(weights) -> dict[str, np.ndarray]:
    """:func:`pair_log` for stacked weights ``(G, out, in)``: every column is an array over the ``G`` members.

    The commutator is always the direct ``‖PQ − QP‖_F / (‖P‖_F ‖Q‖_F)`` (exact; the hidden widths of the
    grids are small).
    """
    out = {}
    with torch.no_grad():
        for l in range(len(weights) - 1):
            W, Wn = weights[l], weights[l + 1]
            P, Q = Wn.transpose(-1, -2) @ Wn, W @ W.transpose(-1, -2)
            D = P - Q
            total = torch.linalg.matrix_norm(D)
            d2 = (torch.diagonal(D, dim1=-2, dim2=-1) ** 2).sum(-1)
            nP, nQ = torch.linalg.matrix_norm(P), torch.linalg.matrix_norm(Q)
            PQ = P @ Q
            comm = torch.linalg.matrix_norm(PQ - PQ.transpose(-1, -2))
            denom = nP + nQ
            vals = {
                f"delta_total_{l + 1}": total,
                f"delta_diag_{l + 1}": d2.sqrt(),
                f"delta_offdiag_{l + 1}": (total**2 - d2).clamp(min=0).sqrt(),
                f"delta_relative_{l + 1}": torch.where(denom > 0, total / denom, torch.zeros_like(total)),
                f"comm_{l + 1}": torch.where(nP * nQ > 0, comm / (nP * nQ), torch.zeros_like(comm)),
            }
            out.update({k: v.cpu().numpy() for k, v in vals.items()})
    return out


def _member_losses(out: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-member loss ``(G,)`` of stacked outputs ``(G, n, C)`` (the loss of :func:`train_mlp`)."""
    if loss == "mse":
        return 0.5 * ((out - target) ** 2).sum(dim=-1).mean(dim=-1)
    G, n, C = out.shape
    labels = target.expand(G, n).reshape(-1)
    return torch.nn.functional.cross_entropy(out.reshape(-1, C), labels, reduction="none").view(G, n).mean(dim=1)


def train_mlp_grid(
    X: torch.Tensor,
    Y: torch.Tensor,
    configs,
    callbacks=None,
):
    """Train a grid of bias-free MLPs as one batched computation, with the trajectories of :func:`train_mlp`.

    The members (e.g. activations × λ × seeds) are stacked into one :class:`~lsa.models.mlp.StackedMLP`;
    every step is one batched forward/backward pass and one plain SGD update (heavy-ball momentum and coupled
    weight decay per member, PyTorch's conventions). Member ``g`` starts from the initialisation
    ``train_mlp(X, Y, configs[g])`` draws and sees the same minibatches, so its trajectory is the same up to
    floating-point rounding of the batched products (checked to 1e-10 by the test suite).

    Parameters
    ----------
    X : Tensor, shape (n, widths[0])
        Inputs, shared by every member.
    Y : Tensor
        Targets ``(n, widths[-1])`` for ``mse``; integer labels ``(n,)`` for ``ce``.
    configs : sequence of TrainConfig
        One per member; they may differ only in the fields of :data:`GRID_VARYING`; the optimiser must be SGD.
    callbacks : sequence of callable or None, optional
        One ``callback(step, model) -> dict`` (or None) per member, called at every logged step with that
        member as an :class:`~lsa.models.mlp.MLP` (a copy).

    Returns
    -------
    list of (MLP, DataFrame)
        Per member, in the order of ``configs``: the trained network and the log of :func:`train_mlp`.
    """
    configs = list(configs)
    if not configs:
        raise ValueError("train_mlp_grid needs at least one TrainConfig")
    ref = asdict(configs[0])
    for i, c in enumerate(configs):
        diff = [k for k, v in asdict(c).items() if k not in GRID_VARYING and v != ref[k]]
        if diff:
            raise ValueError(f"config {i} differs from config 0 in {diff}; only {GRID_VARYING} may vary in a grid")
    base = configs[0]
    if base.optimizer != "sgd":
        raise ValueError(f"train_mlp_grid trains with SGD only, got optimizer={base.optimizer!r}; use train_mlp")
    if X.shape[0] != Y.shape[0] or X.shape[1] != base.widths[0]:
        raise ValueError(f"X {tuple(X.shape)} and Y {tuple(Y.shape)} do not fit widths {base.widths}")
    if callbacks is not None and len(callbacks) != len(configs):
        raise ValueError(f"need one callback (or None) per config: {len(callbacks)} for {len(configs)} configs")
    dev = pick_device(base.device)
    G = len(configs)
    gens = [torch.Generator().manual_seed(c.seed) for c in configs]
    members = [MLP(base.widths, c.activation, init_gain=base.init_gain, generator=g) for c, g in zip(configs, gens)]
    model = StackedMLP.from_members(members).to(dev)
    X = X.to(dev, torch.float64)
    Y = Y.to(dev, torch.long if base.loss == "ce" else torch.float64)
    lam = torch.tensor([c.weight_decay for c in configs], dtype=torch.float64, device=dev).view(G, 1, 1)
    orders = [MinibatchOrder(X.shape[0], base.batch_size, g, dev) for g in gens]
    full = base.batch_size is None or base.batch_size >= X.shape[0]
    params = model.weights()
    bufs = [None] * len(params)
    rows = [[] for _ in range(G)]

    def log(step):
        with torch.no_grad():
            losses = _member_losses(model(X), Y, base.loss).cpu().numpy()
        pairs = stacked_pair_log(params)
        for g in range(G):
            row = {"step": step, "loss": float(losses[g]), **{k: float(v[g]) for k, v in pairs.items()}}
            if callbacks is not None and callbacks[g] is not None:
                row.update(callbacks[g](step, model.member(g)))
            rows[g].append(row)

    for step in range(base.steps + 1):
        if full:
            xb, yb = X, Y
        else:
            idx = torch.stack([o.indices() for o in orders])
            xb, yb = X[idx], Y[idx]
        if step % base.log_every == 0 or step == base.steps:
            log(step)
        if step == base.steps:
            break
        grads = torch.autograd.grad(_member_losses(model(xb), yb, base.loss).sum(), params)
        with torch.no_grad():
            for i, (W, gW) in enumerate(zip(params, grads)):
                d_p = gW + lam * W
                if base.momentum != 0:
                    bufs[i] = d_p.clone() if bufs[i] is None else bufs[i].mul_(base.momentum).add_(d_p)
                    d_p = bufs[i]
                W.add_(d_p, alpha=-base.lr)
    return [(model.member(g), pd.DataFrame(rows[g])) for g in range(G)]
