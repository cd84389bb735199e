"""The data-dependent obstruction ``ω_l`` (needs forward passes).

For one sample, with ``z = z_l`` the pre-activation of hidden layer ``l``, ``g = ∂ℓ/∂h_l``
(``h_l = σ(z)``), ``D = diag(σ'(z))``, ``S = diag(σ(z) ⊘ z)`` and ``M = g zᵀ``, the imbalance
``Δ_l = W_{l+1}ᵀW_{l+1} − W_l W_lᵀ`` evolves under gradient flow with coupled weight decay ``λ`` as

    dΔ_l/dt = −2λ Δ_l − (B + Bᵀ),   B = E_batch[M S − D M] = E[g σ(z)ᵀ] − E[(σ'(z) ⊙ g) zᵀ].

``B`` is the *forcing* that keeps a nonlinear network from balancing: it is exactly zero for a linear
network (``S = D = I``), has a zero diagonal for positively homogeneous activations (ReLU, leaky ReLU:
``S = D``), and neither for tanh or GELU. ``ω_l = ‖B + Bᵀ‖_F / ‖E[M] + E[M]ᵀ‖_F`` is its size relative to
the unforced term.
"""

from __future__ import annotations

import numpy as np
import torch

from lsa.linalg import as_float64
from lsa.models.mlp import MLP


def _per_sample_loss(out: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "mse":
        return 0.5 * ((out - target) ** 2).sum(dim=1)
    return torch.nn.functional.cross_entropy(out, target, reduction="none")


def obstruction_forcing(model: MLP, X: torch.Tensor, Y: torch.Tensor, pair: int, loss: str = "mse") -> dict:
    """``B = E[MS − DM]``, ``E[M]`` and ``ω`` for the hidden layer between ``W_pair`` and ``W_pair+1`` (0-based).

    Parameters
    ----------
    model : lsa.models.mlp.MLP
        A bias-free MLP (the chapters' networks); its activation is elementwise.
    X : Tensor, shape (N, widths[0])
        The batch the expectation runs over (the training set for full-batch descent).
    Y : Tensor
        Targets ``(N, widths[-1])`` for ``mse``, integer labels ``(N,)`` for ``ce``.
    pair : int
        0-based index of the write matrix: the hidden layer is the output of ``model.layers[pair]`` after
        the activation, read by ``model.layers[pair + 1]`` (``pair=1`` is the book's ``(W2, W3)``).
    loss : {"mse", "ce"}
        Per-sample loss; the batch loss is its mean, as in :func:`lsa.alignment.training.train_mlp`.

    Returns
    -------
    dict
        ``B`` and ``EM`` (float64 ndarrays, ``n_l × n_l``), ``omega`` (float; 0 when ``E[M]`` vanishes),
        ``forcing_norm`` (``‖B + Bᵀ‖_F``), ``forcing_diag`` (``‖diag(B)‖``, zero for ReLU) and
        ``unforced_norm`` (``‖E[M] + E[M]ᵀ‖_F``).

    Raises
    ------
    ValueError
        Before any computation: not an lsa MLP, ``pair`` out of range, a loss name or batch shapes that do not fit.
    """
    if not isinstance(model, MLP):
        raise ValueError(f"obstruction_forcing needs an lsa.models.mlp.MLP, got {type(model).__name__}")
    n_layers = len(model.layers)
    if not isinstance(pair, int) or not 0 <= pair < n_layers - 1:
        raise ValueError(
            f"pair must be an int in [0, {n_layers - 2}] (a hidden layer between two weights), got {pair!r}"
        )
    if loss not in ("mse", "ce"):
        raise ValueError(f"loss must be 'mse' or 'ce', got {loss!r}")
    if X.ndim != 2 or X.shape[1] != model.widths[0] or Y.shape[0] != X.shape[0]:
        raise ValueError(f"X {tuple(X.shape)} and Y {tuple(Y.shape)} do not fit widths {tuple(model.widths)}")
    p = next(model.parameters())
    X = X.to(p.device, p.dtype)
    Y = Y.to(p.device, torch.long if loss == "ce" else p.dtype)
    with torch.enable_grad():
        h = X
        for lin in model.layers[:pair]:
            h = model.act(lin(h))
        z = model.layers[pair](h).detach().requires_grad_(True)
        hidden = model.act(z)
        (dsigma,) = torch.autograd.grad(hidden.sum(), z, retain_graph=True)  # σ'(z), elementwise
        h_l = hidden.detach().requires_grad_(True)
        out = h_l
        for i, lin in enumerate(model.layers[pair + 1 :]):
            out = lin(out)
            if pair + 1 + i < n_layers - 1:
                out = model.act(out)
        (G,) = torch.autograd.grad(_per_sample_loss(out, Y, loss).sum(), h_l)  # rows g_i = ∂ℓ_i/∂h_l
    Z, H, G, Ds = (as_float64(t) for t in (z, hidden, G, dsigma))
    n = Z.shape[0]
    B = (G.T @ H - (Ds * G).T @ Z) / n
    EM = G.T @ Z / n
    forcing, unforced = float(np.linalg.norm(B + B.T)), float(np.linalg.norm(EM + EM.T))
    return {
        "B": B,
        "EM": EM,
        "omega": forcing / unforced if unforced > 0 else 0.0,
        "forcing_norm": forcing,
        "forcing_diag": float(np.linalg.norm(np.diag(B))),
        "unforced_norm": unforced,
    }
