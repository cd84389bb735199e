"""ω_l: the forcing B of dΔ/dt = −2λΔ − (B + Bᵀ) against autograd's weight gradients."""

import numpy as np
import pytest
import torch

from lsa.alignment.omega import obstruction_forcing
from lsa.models.mlp import MLP


def _data(n=40, d_in=6, d_out=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, d_in, generator=g, dtype=torch.float64),
        torch.randn(n, d_out, generator=g, dtype=torch.float64),
    )


def _delta_rate_from_autograd(model, X, Y, pair, loss="mse"):
    """−dΔ/dt at λ = 0 from the full-batch gradients: Wₗ₊₁ᵀ∇Wₗ₊₁ + (·)ᵀ − (∇Wₗ Wₗᵀ + (·)ᵀ)."""
    model.zero_grad()
    out = model(X)
    L = 0.5 * ((out - Y) ** 2).sum(1).mean() if loss == "mse" else torch.nn.functional.cross_entropy(out, Y)
    L.backward()
    W = [w.detach().double().numpy() for w in model.weights()]
    G = [w.grad.double().numpy() for w in model.weights()]
    A = W[pair + 1].T @ G[pair + 1]
    C = G[pair] @ W[pair].T
    return A + A.T - (C + C.T)


@pytest.mark.parametrize("act", ["identity", "relu", "leaky_relu", "tanh", "gelu"])
@pytest.mark.parametrize("pair", [0, 1])
def test_forcing_is_the_imbalance_rate_of_gradient_flow(act, pair):
    X, Y = _data()
    model = MLP((6, 9, 7, 3), act, generator=torch.Generator().manual_seed(1)).double()
    f = obstruction_forcing(model, X, Y, pair)
    np.testing.assert_allclose(f["B"] + f["B"].T, _delta_rate_from_autograd(model, X, Y, pair), atol=1e-12)


def test_linear_has_no_forcing_and_relu_no_diagonal_forcing():
    X, Y = _data(seed=2)
    lin = obstruction_forcing(
        MLP((6, 9, 7, 3), "identity", generator=torch.Generator().manual_seed(0)).double(), X, Y, 1
    )
    assert lin["forcing_norm"] < 1e-12 * lin["unforced_norm"] and lin["omega"] < 1e-12
    for act in ("relu", "leaky_relu"):
        f = obstruction_forcing(MLP((6, 9, 7, 3), act, generator=torch.Generator().manual_seed(0)).double(), X, Y, 1)
        assert f["forcing_diag"] < 1e-12 * f["forcing_norm"] and f["omega"] > 1e-3
    for act in ("tanh", "gelu"):
        f = obstruction_forcing(MLP((6, 9, 7, 3), act, generator=torch.Generator().manual_seed(0)).double(), X, Y, 1)
        assert f["forcing_diag"] > 1e-3 * f["forcing_norm"]


def test_cross_entropy_and_bad_input():
    X, _ = _data(seed=3)
    y = torch.arange(40) % 3
    model = MLP((6, 8, 3), "tanh", generator=torch.Generator().manual_seed(0)).double()
    f = obstruction_forcing(model, X, y, 0, loss="ce")
    np.testing.assert_allclose(f["B"] + f["B"].T, _delta_rate_from_autograd(model, X, y, 0, "ce"), atol=1e-12)
    with pytest.raises(ValueError, match="pair"):
        obstruction_forcing(model, X, y, 1, loss="ce")
    with pytest.raises(ValueError, match="loss"):
        obstruction_forcing(model, X, y, 0, loss="hinge")
    with pytest.raises(ValueError, match="do not fit"):
        obstruction_forcing(model, X[:, :5], y, 0, loss="ce")
    with pytest.raises(ValueError, match="MLP"):
        obstruction_forcing(torch.nn.Linear(6, 3), X, y, 0)
