"""Small CIFAR-style residual network, with or without BatchNorm.

Works on any square image size (8×8 digits up to 32×32 CIFAR-10) and any number of input channels.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection; ``conv1 → (BN) → ReLU → conv2 → (BN) → + → ReLU``."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, batchnorm: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not batchnorm)
        self.bn1 = nn.BatchNorm2d(c_out) if batchnorm else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=not batchnorm)
        self.bn2 = nn.BatchNorm2d(c_out) if batchnorm else nn.Identity()
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=not batchnorm),
                nn.BatchNorm2d(c_out) if batchnorm else nn.Identity(),
            )
        if not batchnorm:  # Fixup-style: start each residual branch near zero so depth stays trainable
            nn.init.zeros_(self.conv2.weight)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with a 3×3 stem, ``len(widths)`` stages of ``blocks`` basic blocks, global pooling and a linear head.

    Parameters
    ----------
    in_channels : int
        1 for digits, 3 for CIFAR-10.
    num_classes : int
    widths : sequence of int
        Channels per stage; stages after the first halve the resolution.
    blocks : int
        Basic blocks per stage (ResNet-20 is ``widths=(16, 32, 64), blocks=3``).
    batchnorm : bool
        ``False`` gives the BatchNorm-free variant (zero-initialised residual branches).
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, widths=(16, 32, 64), blocks: int = 1, batchnorm: bool = True
    ):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=not batchnorm),
            nn.BatchNorm2d(widths[0]) if batchnorm else nn.Identity(),
            nn.ReLU(),
        )
        layers, c = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks):
                layers.append(BasicBlock(c, w, stride=2 if (i > 0 and j == 0) else 1, batchnorm=batchnorm))
                c = w
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)

    def features(self, x):
        """Penultimate (globally pooled) features, the layer Neural Collapse is measured on."""
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1)

    def forward(self, x):
        return self.fc(self.features(x))
