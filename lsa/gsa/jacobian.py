"""Mean broadcast channel Jacobians of network blocks as JVP/VJP linear operators (mode J of our reconstruction).

For a block f acting on activations x of shape ``(N, *positions, C)`` or ``(N, C, *positions)``, the channel-level
factor is A v = mean over samples and output positions of J_f(x) (v broadcast to every input position).
Its exact adjoint spreads ``w / (N * P_out)`` over every output position and sums the input cotangent over
samples and positions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

from lsa.linalg import as_float64


class MeanChannelJacobian(LinearOperator):
    """The mean broadcast channel Jacobian of ``fn`` at the probe batch ``x`` (C_out x C_in).

    Parameters
    ----------
    fn : callable
        Block function, tensor -> tensor (eval mode; BatchNorm on running statistics).
    x : torch.Tensor
        Probe activations at the block input, shape (N, ...).
    channel_dim : int
        Axis of the channels in ``x`` and in the block output (1 for NCHW feature maps, -1 for tokens).
    chunk : int
        Tangents processed together with ``torch.func.vmap``.
    """

    def __init__(self, fn: Callable, x: torch.Tensor, channel_dim: int = -1, chunk: int = 64):
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            raise ValueError(
                f"probe batch must be a tensor of shape (N, ...) with >= 2 axes, got "
                f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))}"
            )
        self.fn, self.x, self.chunk = fn, x.detach(), int(chunk)
        self.cd = channel_dim % x.ndim
        if self.cd == 0:
            raise ValueError("channel_dim must not be the batch axis 0")
        with torch.no_grad():
            y = fn(self.x)
        if not isinstance(y, torch.Tensor) or y.ndim != x.ndim or y.shape[0] != x.shape[0]:
            raise ValueError(
                f"block output must be a tensor with the probe's layout (N, ...); got "
                f"{tuple(getattr(y, 'shape', ()))} for input {tuple(x.shape)}"
            )
        self.y_shape = y.shape
        n_in, n_out = x.shape[self.cd], y.shape[self.cd]
        super().__init__(dtype=np.float64, shape=(n_out, n_in))

    def _bcast(self, v: torch.Tensor, like_shape) -> torch.Tensor:
        shape = [1] * len(like_shape)
        shape[self.cd] = v.shape[-1]
        return v.reshape(shape).expand(like_shape)

    def _reduce_axes(self, ndim: int):
        return tuple(i for i in range(ndim) if i != self.cd)

    def _tmatmat(self, V: torch.Tensor) -> torch.Tensor:
        def one(v):
            _, jv = torch.func.jvp(self.fn, (self.x,), (self._bcast(v, self.x.shape),))
            return jv.mean(dim=self._reduce_axes(jv.ndim))

        out = [torch.func.vmap(one)(V[i : i + self.chunk]) for i in range(0, V.shape[0], self.chunk)]
        return torch.cat(out)

    def _trmatmat(self, W: torch.Tensor) -> torch.Tensor:
        _, pull = torch.func.vjp(self.fn, self.x)
        n_avg = float(np.prod(self.y_shape)) / self.y_shape[self.cd]

        def one(w):
            (g,) = pull(self._bcast(w, self.y_shape) / n_avg)
            return g.sum(dim=self._reduce_axes(g.ndim))

        out = [torch.func.vmap(one)(W[i : i + self.chunk]) for i in range(0, W.shape[0], self.chunk)]
        return torch.cat(out)

    def _to_torch(self, M: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(M.T), dtype=self.x.dtype, device=self.x.device)

    def _matmat(self, X):
        X = np.asarray(X, dtype=np.float64).reshape(self.shape[1], -1)
        with torch.no_grad():
            return as_float64(self._tmatmat(self._to_torch(X))).T

    def _rmatmat(self, X):
        X = np.asarray(X, dtype=np.float64).reshape(self.shape[0], -1)
        return as_float64(self._trmatmat(self._to_torch(X))).T

    def _matvec(self, x):
        return self._matmat(np.asarray(x).reshape(-1, 1)).ravel()

    def _rmatvec(self, x):
        return self._rmatmat(np.asarray(x).reshape(-1, 1)).ravel()

    def _adjoint(self):
        return LinearOperator(
            shape=(self.shape[1], self.shape[0]),
            dtype=np.float64,
            matvec=self._rmatvec,
            rmatvec=self._matvec,
            matmat=self._rmatmat,
            rmatmat=self._matmat,
        )

    def dense(self) -> np.ndarray:
        """The whole C_out x C_in matrix from C_in JVPs (exact; the dense path of protocol step P1)."""
        return self._matmat(np.eye(self.shape[1]))


class TokenLocalJacobian(MeanChannelJacobian):
    """The token-local channel Jacobian (optional variant): ``A v = mean_{n,t} [J_f(x_n) (v at token
    t only)]_t``, the derivative of output token ``t`` with respect to input token ``t`` alone, averaged.

    Unlike :class:`MeanChannelJacobian` (tangent broadcast to every token, output averaged) it leaves out
    the cross-token terms of attention; for a token-wise block (an MLP sub-block) the two coincide. Each
    product costs ``T`` JVPs (one per position), hence "costly, not the default". Token layout only:
    ``x`` of shape ``(N, T, C)`` with ``channel_dim=-1`` and an output of the same number of tokens.
    The adjoint places the cotangent at one output token and reads the input cotangent at the same token.
    """

    def __init__(self, fn: Callable, x: torch.Tensor, chunk: int = 64):
        super().__init__(fn, x, -1, chunk)
        if x.ndim != 3 or self.y_shape[1] != x.shape[1]:
            raise ValueError(
                f"the token-local Jacobian needs token activations (N, T, C) in and out with the "
                f"same T; got input {tuple(x.shape)} and output {tuple(self.y_shape)}"
            )
        self.n_tok = x.shape[1]

    def _at_token(self, v: torch.Tensor, t: torch.Tensor, shape) -> torch.Tensor:
        onehot = torch.nn.functional.one_hot(t, shape[1]).to(v.dtype)  # (T,)
        return onehot[None, :, None] * v[None, None, :] * torch.ones(shape[0], 1, 1, dtype=v.dtype, device=v.device)

    def _pairs(self, V: torch.Tensor):
        """All (tangent, token) pairs, tangents major, as two flat tensors."""
        t = torch.arange(self.n_tok, device=V.device)
        return V.repeat_interleave(self.n_tok, 0), t.repeat(V.shape[0])

    def _tmatmat(self, V: torch.Tensor) -> torch.Tensor:
        def one(v, t):
            _, jv = torch.func.jvp(self.fn, (self.x,), (self._at_token(v, t, self.x.shape),))
            return (jv * torch.nn.functional.one_hot(t, self.n_tok).to(jv.dtype)[None, :, None]).sum(1).mean(0)

        vs, ts = self._pairs(V)
        out = [
            torch.func.vmap(one)(vs[i : i + self.chunk], ts[i : i + self.chunk])
            for i in range(0, vs.shape[0], self.chunk)
        ]
        return torch.cat(out).reshape(V.shape[0], self.n_tok, -1).mean(1)

    def _trmatmat(self, W: torch.Tensor) -> torch.Tensor:
        _, pull = torch.func.vjp(self.fn, self.x)
        n = self.y_shape[0]

        def one(w, t):
            (g,) = pull(self._at_token(w, t, self.y_shape) / (n * self.n_tok))
            return (g * torch.nn.functional.one_hot(t, self.n_tok).to(g.dtype)[None, :, None]).sum((0, 1))

        ws, ts = self._pairs(W)
        out = [
            torch.func.vmap(one)(ws[i : i + self.chunk], ts[i : i + self.chunk])
            for i in range(0, ws.shape[0], self.chunk)
        ]
        return torch.cat(out).reshape(W.shape[0], self.n_tok, -1).sum(1)


def per_sample_mean_jacobian(fn: Callable, x: torch.Tensor, channel_dim: int = -1) -> np.ndarray:
    """Reference: mean over samples and output positions of the per-sample Jacobians (``torch.func.jacrev``),
    contracted with the broadcast over input positions. Independent of :class:`MeanChannelJacobian`; costly
    (for tests).
    """
    cd = channel_dim % x.ndim
    mats = []
    for n in range(x.shape[0]):
        xn = x[n : n + 1].detach()
        J = torch.func.jacrev(fn)(xn)  # (1, *out, 1, *in)
        yd = x.ndim
        J = J.squeeze(yd).squeeze(0)  # (*out, *in) without batch axes
        out_c, in_c = cd - 1, (yd - 1) + cd - 1
        J = J.movedim(out_c, 0).movedim(in_c, 1)
        J = J.reshape(J.shape[0], J.shape[1], -1)
        mats.append(as_float64(J.sum(dim=2)))
    A = np.mean(mats, axis=0)
    with torch.no_grad():
        y_shape = fn(x[:1]).shape
    out_pos = int(np.prod(y_shape[1:])) // y_shape[cd]
    return A / out_pos


def per_sample_channel_jacobians(fn: Callable, x: torch.Tensor, channel_dim: int = -1, chunk: int = 64) -> np.ndarray:
    """The channel Jacobian of every probe sample, ``J_n`` (C_out x C_in), with the broadcast-mean reduction
    of :class:`MeanChannelJacobian` applied to one sample at a time, so that ``mean_n J_n`` is that operator.

    The tangent ``v`` is broadcast to every input position of every sample, and each sample's output is
    averaged over its own positions only. The C_in JVPs therefore run on the whole probe batch at once
    (blocks whose inputs are tied to the batch, such as a U-Net block with its time embedding, keep working);
    this requires that the block processes samples independently, as in eval mode (protocol step P1).
    Dense: C_in JVPs, meant for the small widths of the chapters.

    Parameters
    ----------
    fn : callable
        Block function, tensor -> tensor (eval mode).
    x : torch.Tensor
        Probe activations at the block input, shape (N, ...).
    channel_dim : int
        Axis of the channels (1 for NCHW feature maps, -1 for tokens).
    chunk : int
        Tangents processed together with ``torch.func.vmap``.

    Returns
    -------
    ndarray, shape (N, C_out, C_in), float64
    """
    op = MeanChannelJacobian(fn, x, channel_dim, chunk)  # validates the probe and the block output
    cd = op.cd
    axes = tuple(i for i in range(len(op.y_shape)) if i not in (0, cd))

    def one(v):
        _, jv = torch.func.jvp(fn, (op.x,), (op._bcast(v, op.x.shape),))
        return jv.mean(dim=axes) if axes else jv  # (N, C_out)

    eye = torch.eye(op.shape[1], dtype=op.x.dtype, device=op.x.device)
    with torch.no_grad():
        cols = [torch.func.vmap(one)(eye[i : i + op.chunk]) for i in range(0, op.shape[1], op.chunk)]
    J = torch.cat(cols)  # (C_in, N, C_out)
    return as_float64(J.permute(1, 2, 0))


def gram_average_spectrum(
    fn: Callable, x: torch.Tensor, channel_dim: int = -1, chunk: int = 64, jacobians: np.ndarray | None = None
) -> np.ndarray:
    """Square roots of the eigenvalues of the Gram average ``mean_n J_n^T J_n``, descending (the diagnostic
    reported beside the mean Jacobian).

    Computed in float64 as the singular values of the stacked matrix ``[J_1; ...; J_N] / sqrt(N)``, whose
    Gram matrix is the Gram average (more accurate than an eigendecomposition), and padded with zeros to
    C_in values. By convexity ``mean_n J_n^T J_n - Jbar^T Jbar = mean_n (J_n - Jbar)^T (J_n - Jbar)`` is
    positive semidefinite for the mean Jacobian ``Jbar``, so value i is at least the i-th singular value of
    ``Jbar`` (Weyl), with equality for all i when every sample has the same Jacobian.

    Parameters
    ----------
    fn, x, channel_dim, chunk
        As in :func:`per_sample_channel_jacobians`.
    jacobians : ndarray, shape (N, C_out, C_in), optional
        Per-sample Jacobians already computed by :func:`per_sample_channel_jacobians` (then ``fn`` and ``x``
        are not used and may be None).

    Returns
    -------
    ndarray, shape (C_in,)
    """
    if jacobians is None:
        jacobians = per_sample_channel_jacobians(fn, x, channel_dim, chunk)
    J = np.asarray(jacobians, dtype=np.float64)
    if J.ndim != 3 or 0 in J.shape:
        raise ValueError(
            f"per-sample Jacobians must have shape (N, C_out, C_in) with N, C_out, C_in >= 1, got {J.shape}"
        )
    if not np.all(np.isfinite(J)):
        raise ValueError("per-sample Jacobians contain NaN or inf entries")
    N, m, n = J.shape
    s = np.linalg.svd(J.reshape(N * m, n) / np.sqrt(N), compute_uv=False)
    return np.concatenate([s, np.zeros(n - s.size)])


def gram_vs_mean(op: MeanChannelJacobian, reference: np.ndarray | None = None) -> dict:
    """The Gram-average diagnostic of one mode-J factor: per-sample Jacobians, their mean, the mean
    Jacobian's singular values and the square-rooted Gram-average eigenvalues.

    Parameters
    ----------
    op : MeanChannelJacobian
        The factor's operator (its ``fn``, probe ``x``, channel dimension and chunk are reused).
    reference : ndarray, optional
        The factor as the protocol saw it (dense); the mean of the per-sample Jacobians must reproduce it.

    Returns
    -------
    dict
        ``s_mean``, ``s_gram`` (descending), ``margin`` = min_i (g_i - s_i) / s_1 (>= 0 up to rounding, by
        the covariance identity), ``energy_ratio`` = sum g_i^2 / sum s_i^2 (>= 1), and ``mean_rel_err`` =
        ||mean_n J_n - reference||_F / ||reference||_F (None without a reference).
    """
    Jn = per_sample_channel_jacobians(op.fn, op.x, op.cd, op.chunk)
    Jbar = Jn.mean(axis=0)
    s_mean = np.linalg.svd(Jbar, compute_uv=False)
    s_gram = gram_average_spectrum(None, None, jacobians=Jn)
    ref = None if reference is None else np.asarray(reference, dtype=np.float64)
    return {
        "s_mean": s_mean,
        "s_gram": s_gram,
        "margin": float(np.min(s_gram[: s_mean.size] - s_mean) / s_mean[0]) if s_mean[0] > 0 else 0.0,
        "energy_ratio": float(np.sum(s_gram**2) / np.sum(s_mean**2)) if np.sum(s_mean**2) > 0 else float("inf"),
        "mean_rel_err": None if ref is None else float(np.linalg.norm(Jbar - ref) / np.linalg.norm(ref)),
    }


def token_local_difference(op: MeanChannelJacobian, broadcast: np.ndarray | None = None) -> dict:
    """The token-local channel Jacobian of a factor beside its broadcast-mean one (``op`` itself, or the
    dense ``broadcast`` when given): ``rel_diff`` = relative Frobenius difference (0 for token-wise blocks),
    and the two spectral norms ``s1_token_local`` and ``s1_broadcast``."""
    A_loc = TokenLocalJacobian(op.fn, op.x, op.chunk).dense()
    A_bc = op.dense() if broadcast is None else np.asarray(broadcast, dtype=np.float64)
    return {
        "rel_diff": float(np.linalg.norm(A_loc - A_bc) / np.linalg.norm(A_bc)),
        "s1_token_local": float(np.linalg.norm(A_loc, 2)),
        "s1_broadcast": float(np.linalg.norm(A_bc, 2)),
    }
