"""A small DDPM epsilon-predictor U-Net and its linear noise schedule.

ResBlocks at two resolutions, one self-attention block at the lower resolution, sinusoidal time
embedding. Each ResBlock / attention block is exposed (``factor_blocks``) so that its Jacobian with respect
to the input feature map can be taken at a frozen time embedding.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps, (N,) -> (N, dim)."""
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    a = t.float()[:, None] * f[None]
    return torch.cat([torch.sin(a), torch.cos(a)], 1)


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, + time shift, GroupNorm -> SiLU -> conv, with a skip (1x1 if widths differ)."""

    def __init__(self, c_in: int, c_out: int, t_dim: int, groups: int = 8):
        super().__init__()
        self.n1, self.n2 = nn.GroupNorm(min(groups, c_in), c_in), nn.GroupNorm(min(groups, c_out), c_out)
        self.c1, self.c2 = nn.Conv2d(c_in, c_out, 3, padding=1), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.t = nn.Linear(t_dim, c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, temb):
        h = self.c1(torch.nn.functional.silu(self.n1(x))) + self.t(temb)[:, :, None, None]
        h = self.c2(torch.nn.functional.silu(self.n2(h)))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over pixels with a residual connection (time-independent)."""

    def __init__(self, c: int, groups: int = 8):
        super().__init__()
        self.n = nn.GroupNorm(min(groups, c), c)
        self.qkv, self.o = nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)

    def forward(self, x, temb=None):
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.n(x)).reshape(B, 3, C, H * W).unbind(1)
        att = torch.softmax(q.transpose(1, 2) @ k / C**0.5, dim=-1)
        return x + self.o((v @ att.transpose(1, 2)).reshape(B, C, H, W))


class TinyUNet(nn.Module):
    """Two-resolution U-Net: 16x16 with ``widths[0]`` channels, 8x8 with ``widths[1]`` and attention."""

    def __init__(self, in_channels: int = 1, widths=(32, 64), t_dim: int = 64):
        super().__init__()
        c0, c1 = widths
        self.t_dim = t_dim
        self.t_mlp = nn.Sequential(nn.Linear(t_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.inp = nn.Conv2d(in_channels, c0, 3, padding=1)
        self.down0 = ResBlock(c0, c0, t_dim)
        self.pool = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.mid0, self.mid_attn, self.mid1 = ResBlock(c1, c1, t_dim), AttnBlock(c1), ResBlock(c1, c1, t_dim)
        self.up = nn.ConvTranspose2d(c1, c0, 2, stride=2)
        self.up0 = ResBlock(2 * c0, c0, t_dim)
        self.out = nn.Sequential(nn.GroupNorm(8, c0), nn.SiLU(), nn.Conv2d(c0, in_channels, 3, padding=1))

    def temb(self, t: torch.Tensor) -> torch.Tensor:
        """Time embedding of integer timesteps (frozen when a block is differentiated)."""
        return self.t_mlp(timestep_embedding(t, self.t_dim))

    def factor_blocks(self) -> list[tuple[str, nn.Module]]:
        """The fixed-resolution blocks that are GSA factors, in forward order of the 8x8 middle chain."""
        return [("mid0", self.mid0), ("mid_attn", self.mid_attn), ("mid1", self.mid1)]

    def forward(self, x, t):
        e = self.temb(t)
        h0 = self.down0(self.inp(x), e)
        h = self.mid1(self.mid_attn(self.mid0(self.pool(h0), e)), e)
        return self.out(self.up0(torch.cat([self.up(h), h0], 1), e))


def linear_schedule(T: int = 200, beta_1: float = 1e-4, beta_T: float = 0.02) -> torch.Tensor:
    """Cumulative products alpha_bar_t of the DDPM linear beta schedule, shape (T,)."""
    if T < 2 or not 0 < beta_1 < beta_T < 1:
        raise ValueError(f"need T >= 2 and 0 < beta_1 < beta_T < 1, got T={T}, {beta_1}, {beta_T}")
    return torch.cumprod(1.0 - torch.linspace(beta_1, beta_T, T), 0)


def noise(x0: torch.Tensor, t: torch.Tensor, alpha_bar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Forward diffusion x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps."""
    a = alpha_bar[t].to(x0.dtype)[:, None, None, None]
    return a.sqrt() * x0 + (1 - a).sqrt() * eps
