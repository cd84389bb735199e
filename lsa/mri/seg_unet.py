"""A small 2D UNet (torch), the building block of the tri-planar MultiUNet.

Encoder: per level two [Conv 3x3 -> InstanceNorm -> ReLU] blocks, then 2x2 max-pooling; decoder:
transposed-conv upsampling, concatenation with the skip, two conv blocks; a 1x1 head. Inputs must have
sides divisible by ``2 ** (len(channels) - 1)``.

"""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.InstanceNorm2d(cout, affine=True),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.InstanceNorm2d(cout, affine=True),
        nn.ReLU(inplace=True),
    )


class UNet2D(nn.Module):
    """2D UNet with ``len(channels) - 1`` down-sampling steps.

    Parameters
    ----------
    in_channels, out_channels : int
    channels : tuple of int
        Feature widths per level, e.g. ``(16, 32, 64, 128)`` (paper profile) or ``(8, 16, 32)`` (smoke).

    """

    def __init__(self, in_channels: int = 1, out_channels: int = 2, channels=(16, 32, 64, 128)):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) < 2 or min(channels) < 1:
            raise ValueError(f"channels must list >= 2 positive widths, got {channels}")
        self.channels = channels
        self.down = nn.ModuleList()
        cin = in_channels
        for c in channels:
            self.down.append(_block(cin, c))
            cin = c
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for c_hi, c_lo in zip(channels[::-1][:-1], channels[::-1][1:]):
            self.up.append(nn.ConvTranspose2d(c_hi, c_lo, 2, stride=2))
            self.dec.append(_block(2 * c_lo, c_lo))
        self.head = nn.Conv2d(channels[0], out_channels, 1)
        self.pool = nn.MaxPool2d(2)

    @property
    def divisor(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"UNet2D expects (batch, channel, H, W), got shape {tuple(x.shape)}")
        if x.shape[-2] % self.divisor or x.shape[-1] % self.divisor:
            raise ValueError(f"UNet2D input sides {tuple(x.shape[-2:])} must be divisible by {self.divisor}")
        skips = []
        for i, blk in enumerate(self.down):
            x = blk(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = self.pool(x)
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            x = dec(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)
