"""Bias-free multilayer perceptron used by Part I (ridge alignment, commutator, neural collapse)."""

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
        Bias-free by default, as the theorems of spec §3.2 assume.
    init_gain : float
        Weights drawn from ``N(0, init_gain / fan_in)``: 1 matches spec §4.2 E1, 2 is He init.
    generator : torch.Generator, optional
        Seeded generator for the initialisation.
    dtype : torch.dtype
        float64 by default (angles and slopes are measured to high precision).

    Used by the ridge-alignment, commutator and neural-collapse chapters.
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
