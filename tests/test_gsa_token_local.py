"""Token-local channel Jacobian (optional variant) against a brute-force per-sample Jacobian."""

import numpy as np
import pytest
import torch

from lsa.gsa.jacobian import MeanChannelJacobian, TokenLocalJacobian

C, T, N = 6, 5, 3


def _attention_block(seed=0):
    g = torch.Generator().manual_seed(seed)
    Wq, Wk, Wv = (torch.randn(C, C, generator=g, dtype=torch.float64) / C**0.5 for _ in range(3))

    def f(h):
        a = torch.softmax((h @ Wq) @ (h @ Wk).transpose(-1, -2) / C**0.5, -1)
        return h + a @ (h @ Wv)

    return f


def test_token_local_equals_the_diagonal_blocks_of_the_full_jacobian():
    f = _attention_block()
    x = torch.randn(N, T, C, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    A = TokenLocalJacobian(f, x, chunk=7).dense()
    ref = np.zeros((C, C))
    for n in range(N):
        J = torch.autograd.functional.jacobian(lambda z: f(z[None])[0], x[n]).numpy()  # (T, C, T, C)
        ref += sum(J[t, :, t, :] for t in range(T))
    np.testing.assert_allclose(A, ref / (N * T), atol=1e-13)
    op = TokenLocalJacobian(f, x, chunk=4)
    np.testing.assert_allclose(op.rmatmat(np.eye(C)).T, A, atol=1e-13)  # exact adjoint
    # attention mixes tokens: the broadcast-mean operator has cross-token terms the token-local one lacks
    assert np.abs(MeanChannelJacobian(f, x, -1).dense() - A).max() > 1e-2


def test_token_local_equals_broadcast_for_a_tokenwise_block_and_rejects_other_layouts():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(C, 8), torch.nn.Tanh(), torch.nn.Linear(8, C)).double()
    x = torch.randn(N, T, C, dtype=torch.float64)
    g = lambda h: h + mlp(h)
    with torch.no_grad():
        np.testing.assert_allclose(TokenLocalJacobian(g, x).dense(), MeanChannelJacobian(g, x, -1).dense(), atol=1e-13)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1).double()
    with pytest.raises(ValueError, match="token activations"):
        TokenLocalJacobian(conv, torch.randn(2, 3, 4, 4, dtype=torch.float64))
