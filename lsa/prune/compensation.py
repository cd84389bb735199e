"""EC: closed-form energy compensation of a pruned linear layer (our reconstruction).

Each output row's surviving weights are rescaled by ``α_i`` so that the row's output energy on the
calibration distribution matches the dense row's. The mask never changes. Input second-order structure:

- ``mv``: ``C ≈ diag(σ²) + μμᵀ`` from the per-channel mean and variance (no Gram matrix);
  ``E_i = Σ_j W_ij² σ_j² + (Σ_j W_ij μ_j)²``.
- ``diag``: ``C ≈ diag(m)`` (means ignored), so ``α ≥ 1``.
- ``exact``: the measured ``C = (1/T) Σ_t x_t x_tᵀ``, i.e. ``E_i = mean_t y_ti²``.
- ``ls`` / ``ls_exact``: least-squares row scale ``α* = (W_i C W̃_iᵀ)/(W̃_i C W̃_iᵀ)`` with the ``mv`` model
  or the measured ``C``.

``α`` is clipped to ``[alpha_min, alpha_max]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

EC_MODES = ("mv", "diag", "exact", "ls", "ls_exact")
EC_GRANULARITIES = ("row", "layer")


@dataclass(frozen=True)
class ECConfig:
    """Knobs of energy compensation (defaults are our reconstruction's)."""

    mode: str = "mv"
    granularity: str = "row"
    alpha_min: float = 0.5
    alpha_max: float = 2.0
    eps_rel: float = 1e-12

    def __post_init__(self):
        if self.mode not in EC_MODES:
            raise ValueError(f"EC mode must be one of {EC_MODES}, got {self.mode!r}")
        if self.granularity not in EC_GRANULARITIES:
            raise ValueError(f"EC granularity must be one of {EC_GRANULARITIES}, got {self.granularity!r}")
        if not (0 < self.alpha_min <= 1 <= self.alpha_max):
            raise ValueError(f"need 0 < alpha_min <= 1 <= alpha_max, got {self.alpha_min}, {self.alpha_max}")

    @property
    def needs_gram(self) -> bool:
        """True for the modes that read the measured second-moment matrix."""
        return self.mode in ("exact", "ls_exact")


def _quad(A: torch.Tensor, B: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, C) -> torch.Tensor:
    """Row-wise ``A_i C B_iᵀ`` for the model or measured ``C``."""
    if C is not None:
        return ((A @ C) * B).sum(1)
    return (A * B * var[None, :]).sum(1) + (A @ mean) * (B @ mean)


def energy_alpha(
    weight: torch.Tensor,
    pruned: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
    cfg: ECConfig = ECConfig(),
    second: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """Per-row (or per-layer) compensation factors ``α`` (float64, length ``d_out``).

    Parameters
    ----------
    weight, pruned : (d_out, d_in) tensors
        Dense and masked weights.
    mean, var : (d_in,) tensors
        ``μ_j`` and ``σ_j²`` of the layer inputs.
    cfg : ECConfig
    second : (d_in, d_in) tensor, optional
        Measured ``C = (1/T) Σ x xᵀ``; required by ``exact`` and ``ls_exact``.

    Returns
    -------
    alpha : (d_out,) float64 tensor
    info : dict
        ``n_clipped`` (rows whose α hit a clip bound) and ``n_rows``.
    """
    W = weight.detach().to(torch.float64)
    P = pruned.detach().to(torch.float64)
    mu = mean.to(torch.float64)
    s2 = var.to(torch.float64)
    C = None
    if cfg.mode in ("exact", "ls_exact"):
        if second is None:
            raise ValueError(f"EC mode {cfg.mode!r} needs the measured second-moment matrix")
        C = second.to(torch.float64)
    if cfg.mode == "diag":
        s2, mu = s2 + mu**2, torch.zeros_like(mu)
    if cfg.mode in ("ls", "ls_exact"):
        num = _quad(W, P, mu, s2, C)
        den = _quad(P, P, mu, s2, C)
        if cfg.granularity == "layer":
            num, den = num.sum().expand(W.shape[0]), den.sum().expand(W.shape[0])
        eps = cfg.eps_rel * den.abs().mean().clamp_min(1e-300)
        raw = torch.where(den > eps, num / den.clamp_min(eps), torch.ones_like(num))
    else:
        e_dense = _quad(W, W, mu, s2, C)
        e_pruned = _quad(P, P, mu, s2, C)
        if cfg.granularity == "layer":
            e_dense, e_pruned = e_dense.sum().expand(W.shape[0]), e_pruned.sum().expand(W.shape[0])
        eps = cfg.eps_rel * e_dense.mean().clamp_min(1e-300)
        raw = torch.where(
            e_pruned > eps, torch.sqrt(e_dense.clamp_min(0) / e_pruned.clamp_min(eps)), torch.ones_like(e_dense)
        )
    alpha = raw.clamp(cfg.alpha_min, cfg.alpha_max)
    info = {"n_clipped": int((alpha != raw).sum()), "n_rows": int(W.shape[0])}
    return alpha, info


def apply_alpha(pruned: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``α_i · W̃_i`` in the weight's dtype (zeros stay zeros, so the mask is unchanged)."""
    return (pruned.to(torch.float64) * alpha[:, None]).to(pruned.dtype)
