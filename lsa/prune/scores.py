"""Importance scores of a linear layer's weights: magnitude, Wanda, RIA and the CVR family.

All scores have the weight's ``(d_out, d_in)`` shape; larger means more important (kept). Statistics are the
per-input-channel float64 moments of :class:`lsa.prune.calibration.ChannelStats` (``m_j``: second moment,
``σ_j²``: variance). The baselines are transcribed from their reference code; CVR is our reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

WEIGHT_TERMS = ("abs", "relative")


def _check(weight: torch.Tensor, vec: torch.Tensor, name: str) -> None:
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D (d_out, d_in), got shape {tuple(weight.shape)}")
    if vec.ndim != 1 or vec.shape[0] != weight.shape[1]:
        raise ValueError(f"{name} must have shape ({weight.shape[1]},) = (d_in,), got {tuple(vec.shape)}")


def magnitude_score(weight: torch.Tensor) -> torch.Tensor:
    """``S_ij = |W_ij|`` (no calibration data)."""
    return weight.detach().to(torch.float64).abs()


def wanda_score(weight: torch.Tensor, sq_norm: torch.Tensor) -> torch.Tensor:
    """Wanda: ``S_ij = |W_ij| · ||X_j||_2`` (locuslab/wanda ``prune_wanda``).

    Parameters
    ----------
    weight : (d_out, d_in) tensor
    sq_norm : (d_in,) tensor
        ``||X_j||²`` or any positive multiple of it (Wanda's ``scaler_row``); the constant does not change
        a ranking.
    """
    _check(weight, sq_norm, "sq_norm")
    return weight.detach().to(torch.float64).abs() * torch.sqrt(sq_norm.to(torch.float64))[None, :]


def relative_importance(weight: torch.Tensor) -> torch.Tensor:
    """RIA's relative importance ``|W_ij|/Σ_r|W_rj| + |W_ij|/Σ_c|W_ic|`` (column sum + row sum)."""
    w = weight.detach().to(torch.float64).abs()
    return w / w.sum(dim=0, keepdim=True) + w / w.sum(dim=1, keepdim=True)


def ria_score(weight: torch.Tensor, sq_norm: torch.Tensor, a: float = 0.5) -> torch.Tensor:
    """RIA: ``RI_ij · (sqrt(scaler_row_j))^a`` with default ``a = 0.5`` (RIA ``prune_ria``)."""
    _check(weight, sq_norm, "sq_norm")
    return relative_importance(weight) * torch.sqrt(sq_norm.to(torch.float64))[None, :] ** a


@dataclass(frozen=True)
class CVRConfig:
    """Knobs of the CVR score family (our reconstruction).

    ``S_ij = w_ij · m_j^(a/2) · ((σ_j² + ε)/(m_j + ε))^(γ/2)``, ``w = |W|`` (``abs``) or RIA's ``RI``
    (``relative``), ``ε = eps_rel · mean_j m_j``. Wanda is ``(a=1, γ=0, abs)``; RIA is
    ``(a=0.5, γ=0, relative)``; the default ``(a=1, γ=1, abs)`` scores by the channel standard deviation.
    """

    a: float = 1.0
    gamma: float = 1.0
    weight_term: str = "abs"
    eps_rel: float = 1e-8

    def __post_init__(self):
        if self.weight_term not in WEIGHT_TERMS:
            raise ValueError(f"weight_term must be one of {WEIGHT_TERMS}, got {self.weight_term!r}")
        if self.a < 0 or self.gamma < 0 or self.eps_rel < 0:
            raise ValueError(f"a, gamma and eps_rel must be non-negative, got {self}")


def channel_factor(second_moment: torch.Tensor, var: torch.Tensor, cfg: CVRConfig) -> torch.Tensor:
    """The CVR activation factor ``A_j`` (float64)."""
    m = second_moment.to(torch.float64)
    factor = torch.sqrt(m) ** cfg.a  # same arithmetic as Wanda / RIA, so their settings match exactly
    if cfg.gamma != 0:
        eps = cfg.eps_rel * m.mean()
        factor = factor * ((var.to(torch.float64) + eps) / (m + eps)) ** (cfg.gamma / 2)
    return factor


def cvr_score(
    weight: torch.Tensor, second_moment: torch.Tensor, var: torch.Tensor, cfg: CVRConfig = CVRConfig()
) -> torch.Tensor:
    """CVR (channel-variance-calibrated) score ``w_ij · A_j`` (our reconstruction).

    Parameters
    ----------
    weight : (d_out, d_in) tensor
    second_moment, var : (d_in,) tensors
        ``m_j`` and ``σ_j²`` of the layer's inputs (float64 from ``ChannelStats``).
    cfg : CVRConfig
    """
    _check(weight, second_moment, "second_moment")
    _check(weight, var, "var")
    w = weight.detach().to(torch.float64).abs() if cfg.weight_term == "abs" else relative_importance(weight)
    return w * channel_factor(second_moment, var, cfg)[None, :]
