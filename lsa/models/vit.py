"""A small pre-LN Vision Transformer (patch embedding, CLS token, learned positions).

Each block exposes its attention and MLP sub-blocks (``attn_sub``, ``mlp_sub``) so that they can be
differentiated as separate factors.
"""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """Multi-head self-attention with separate Q, K, V and output projections (math path, forward-AD safe)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.heads, self.hd = heads, dim // heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        B, T, D = x.shape
        split = lambda t: t.reshape(B, T, self.heads, self.hd).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / self.hd**0.5, dim=-1)
        return self.o((att @ v).transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    """Pre-LN transformer block: x + Attn(LN x), then x + MLP(LN x)."""

    def __init__(self, dim: int, heads: int, mlp: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.fc1, self.fc2 = nn.Linear(dim, mlp), nn.Linear(mlp, dim)

    def attn_sub(self, x):
        """Attention sub-block x + Attn(LN x) (one GSA factor)."""
        return x + self.attn(self.ln1(x))

    def mlp_sub(self, x):
        """MLP sub-block x + MLP(LN x) (one GSA factor)."""
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))

    def forward(self, x):
        return self.mlp_sub(self.attn_sub(x))


class ViT(nn.Module):
    """Vision Transformer for small square images.

    Parameters
    ----------
    image_size, patch : int
        Image side and patch side (image_size % patch == 0).
    in_channels, num_classes, dim, depth, heads, mlp : int
    """

    def __init__(
        self,
        image_size: int = 16,
        patch: int = 4,
        in_channels: int = 1,
        num_classes: int = 10,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        mlp: int = 128,
    ):
        super().__init__()
        if image_size % patch:
            raise ValueError(f"image_size={image_size} must be a multiple of patch={patch}")
        self.patch = nn.Conv2d(in_channels, dim, patch, patch)
        n = (image_size // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, n + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp) for _ in range(depth))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def tokens(self, x):
        """Token sequence entering the first block, (N, 1 + patches, dim)."""
        t = self.patch(x).flatten(2).transpose(1, 2)
        return torch.cat([self.cls.expand(len(t), -1, -1), t], 1) + self.pos

    def forward(self, x):
        h = self.tokens(x)
        for b in self.blocks:
            h = b(h)
        return self.head(self.ln(h)[:, 0])
