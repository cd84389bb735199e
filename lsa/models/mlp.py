"""Bias-free multilayer perceptrons: one network (:class:`MLP`) or many trained together (:class:`StackedMLP`)."""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}


class MLP(nn.Module):
    """Plain MLP ``widths[0] → widths[1] → … → widths[-1]`` with one activation between layers.

    Parameters
    ----------
    widths : sequence of int
        Layer widths including input and output, e.g. ``(20, 32, 32, 5)``.
    activation : {"identity", "relu", "leaky_relu", "tanh", "gelu"}
        Nonlinearity between linear layers (none after the last).
    bias : bool
        Bias-free by default, as the imbalance law assumes.
    init_gain : float
        Weights drawn from ``N(0, init_gain / fan_in)``: 1 is the toy regression's, 2 is He init.
    generator : torch.Generator, optional
        Seeded generator for the initialisation.
    dtype : torch.dtype
        float64 by default (angles and slopes are measured to high precision).
    """

    def __init__(
        self,
        widths,
        activation: str = "relu",
        bias: bool = False,
        init_gain: float = 1.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        widths = [int(w) for w in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths needs at least two positive entries, got {widths}")
        self.widths, self.activation = widths, activation
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias, dtype=dtype) for a, b in zip(widths, widths[1:]))
        self.act = ACTIVATIONS[activation]()
        with torch.no_grad():
            for lin in self.layers:
                std = math.sqrt(init_gain / lin.in_features)
                lin.weight.copy_(torch.randn(lin.weight.shape, generator=generator, dtype=dtype) * std)
                if lin.bias is not None:
                    lin.bias.zero_()

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        hidden = []
        for i, lin in enumerate(self.layers):
            x = lin(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
                hidden.append(x)
        return (x, hidden) if return_hidden else x

    def weights(self) -> list[torch.Tensor]:
        """The weight matrices ``W_1 … W_L`` in ``nn.Linear`` (out × in) orientation."""
        return [lin.weight for lin in self.layers]


class StackedMLP(nn.Module):
    """``G`` bias-free MLPs of the same widths trained as one module: weights stacked as ``(G, out, in)``.

    Member ``g`` computes exactly what ``MLP(widths, activations[g])`` computes, through batched matrix
    products; each member may have its own activation (applied on the consecutive runs of equal activations).
    Built by :meth:`from_members` so that the initialisation of every member is the one :class:`MLP` draws.

    Parameters
    ----------
    widths : sequence of int
        Layer widths including input and output, shared by every member.
    activations : sequence of str
        One activation per member (names in :data:`ACTIVATIONS`).
    weights : sequence of Tensor
        Per layer, the stacked weights ``(G, widths[i+1], widths[i])``.
    """

    def __init__(self, widths, activations, weights):
        super().__init__()
        widths, activations = [int(w) for w in widths], list(activations)
        bad = [a for a in activations if a not in ACTIVATIONS]
        if bad:
            raise ValueError(f"activations must be among {sorted(ACTIVATIONS)}, got {bad}")
        G = len(activations)
        if len(weights) != len(widths) - 1:
            raise ValueError(f"need {len(widths) - 1} stacked weights for widths {widths}, got {len(weights)}")
        for i, W in enumerate(weights):
            if tuple(W.shape) != (G, widths[i + 1], widths[i]):
                raise ValueError(f"layer {i}: expected shape {(G, widths[i + 1], widths[i])}, got {tuple(W.shape)}")
        self.widths, self.activations = widths, activations
        self.stacked = nn.ParameterList(nn.Parameter(W.detach().clone()) for W in weights)
        self.segments, start = [], 0  # runs of consecutive members sharing an activation
        for g in range(1, G + 1):
            if g == G or activations[g] != activations[start]:
                self.segments.append((ACTIVATIONS[activations[start]](), start, g))
                start = g

    @classmethod
    def from_members(cls, models) -> StackedMLP:
        """Stack the weights of :class:`MLP` instances of equal widths (copies; the members are not shared)."""
        models = list(models)
        if not models or any(m.widths != models[0].widths for m in models):
            raise ValueError("need at least one MLP, all with the same widths")
        if any(lin.bias is not None for m in models for lin in m.layers):
            raise ValueError("StackedMLP stacks bias-free MLPs only")
        weights = [torch.stack([m.layers[i].weight.detach() for m in models]) for i in range(len(models[0].layers))]
        return cls(models[0].widths, [m.activation for m in models], weights)

    def __len__(self) -> int:
        return len(self.activations)

    def _act(self, z: torch.Tensor) -> torch.Tensor:
        if len(self.segments) == 1:
            return self.segments[0][0](z)
        return torch.cat([f(z[a:b]) for f, a, b in self.segments])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` is ``(n, widths[0])`` (the same inputs for every member) or ``(G, n, widths[0])``; returns
        ``(G, n, widths[-1])``."""
        for i, W in enumerate(self.stacked):
            x = torch.matmul(x, W.transpose(-1, -2))
            if i < len(self.stacked) - 1:
                x = self._act(x)
        return x

    def weights(self) -> list[torch.Tensor]:
        """The stacked weight tensors ``(G, out, in)``, layer by layer."""
        return list(self.stacked)

    def member(self, g: int) -> MLP:
        """Member ``g`` as an independent :class:`MLP` (a copy of its current weights)."""
        if not 0 <= g < len(self):
            raise IndexError(f"member {g} out of range for {len(self)} members")
        W0 = self.stacked[0]
        model = MLP(self.widths, self.activations[g], generator=torch.Generator().manual_seed(0), dtype=W0.dtype)
        with torch.no_grad():
            for lin, W in zip(model.layers, self.stacked):
                lin.weight.copy_(W[g])
        return model.to(W0.device)
