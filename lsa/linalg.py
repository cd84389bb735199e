"""Shared linear algebra: singular subspaces, principal angles, intersection dimension, randomized SVD.

One implementation of each idea, used by every part of the book (Part I alignment, Part II PAM
certificates, Part III pruning diagnostics). Everything is float64 NumPy.

Conventions (those of the Part I reconstruction's definitions, in the book's Reconstructions part): a subspace
is given by an orthonormal basis stored column-wise (``n × k``); principal angles are returned in radians in
**ascending** order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.sparse.linalg import LinearOperator, aslinearoperator

Side = Literal["left", "right"]


def as_float64(W) -> np.ndarray:
    """Return ``W`` (ndarray, torch tensor or array-like) as a float64 ndarray.

    A tensor is detached, moved to the CPU and converted by NumPy (``Tensor.double()`` allocates a second
    tensor and is slow under CPU contention); every conversion of a tensor to a float64 array in ``lsa`` goes
    through here.
    """
    if hasattr(W, "detach"):
        W = W.detach().cpu().numpy()
    return np.asarray(W, dtype=np.float64)


def orthonormal_basis(A, rank_tol: float | None = None) -> np.ndarray:
    """Orthonormal basis of the column space of ``A`` (numerical rank by singular-value cut-off).

    Parameters
    ----------
    A : array_like, shape (n, m)
    rank_tol : float, optional
        Singular values ``<= rank_tol * s_max`` count as zero. Default ``max(n, m) * eps``.
    """
    A = as_float64(A)
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros((A.shape[0], 0))
    tol = (max(A.shape) * np.finfo(float).eps) if rank_tol is None else rank_tol
    r = int(np.sum(s > tol * s[0]))
    return U[:, :r]


def effective_rank(s, energy: float = 0.9) -> int:
    """Smallest ``k`` whose top-``k`` squared singular values hold ``energy`` of the total.

    The chapters use an energy threshold of 0.90 by default and also report 0.99.
    """
    if not 0.0 < energy <= 1.0:
        raise ValueError(f"energy must lie in (0, 1], got {energy}")
    s2 = np.sort(np.asarray(s, dtype=np.float64) ** 2)[::-1]
    total = s2.sum()
    if total == 0:
        return 0
    cum = np.cumsum(s2) / total
    return int(np.searchsorted(cum, energy - 1e-12) + 1)


def top_subspace(W, side: Side = "left", k: int | None = None, energy: float = 0.9):
    """Top singular subspace of a weight matrix.

    Parameters
    ----------
    W : array_like, shape (n_out, n_in)
        Weight in ``nn.Linear`` orientation (out × in).
    side : {"left", "right"}
        ``"left"``: the write side (column space, in ``R^{n_out}``); ``"right"``: the read side
        (row space, in ``R^{n_in}``).
    k : int, optional
        Subspace dimension; by default the effective rank at ``energy``.
    energy : float
        Energy threshold for the effective rank when ``k`` is None.

    Returns
    -------
    basis : ndarray, shape (n, k)
        Orthonormal columns, ordered by decreasing singular value.
    k : int
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    W = as_float64(W)
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    if k is None:
        k = effective_rank(s, energy)
    if not 0 <= k <= s.size:
        raise ValueError(f"k={k} is outside [0, {s.size}] for a matrix of shape {W.shape}")
    basis = U[:, :k] if side == "left" else Vt[:k].T
    return basis, int(k)


def _check_bases(U, V):
    U, V = as_float64(U), as_float64(V)
    if U.ndim != 2 or V.ndim != 2 or U.shape[0] != V.shape[0]:
        raise ValueError(f"bases must be n×k and n×k' with the same n, got {U.shape} and {V.shape}")
    return U, V


def principal_angles(U, V, orthonormalize: bool = False) -> np.ndarray:
    """Principal angles between ``span(U)`` and ``span(V)``, radians, ascending.

    Björck–Golub with the sine formula for small angles (as in ``scipy.linalg.subspace_angles``),
    accurate to ~1e-15 near 0 and near π/2.

    Parameters
    ----------
    U, V : array_like, shapes (n, k) and (n, k')
        Orthonormal bases (set ``orthonormalize=True`` for arbitrary spanning sets).

    Returns
    -------
    ndarray, shape (min(k, k'),)

    Used throughout Part I and by the PAM certificates of Part II.
    """
    U, V = _check_bases(U, V)
    if orthonormalize:
        U, V = orthonormal_basis(U), orthonormal_basis(V)
    if U.shape[1] == 0 or V.shape[1] == 0:
        return np.zeros(0)
    if U.shape[1] < V.shape[1]:
        U, V = V, U  # project the smaller basis onto the larger subspace
    C = U.T @ V
    cos = np.clip(np.linalg.svd(C, compute_uv=False), 0.0, 1.0)
    R = V - U @ C  # component of span(V) orthogonal to span(U)
    sin = np.clip(np.linalg.svd(R, compute_uv=False), 0.0, 1.0)[::-1]  # ascending
    m = V.shape[1]
    sin = sin[:m] if sin.size >= m else np.concatenate([np.zeros(m - sin.size), sin])
    angles = np.where(cos**2 <= 0.5, np.arccos(cos), np.arcsin(np.sort(sin)))
    return np.sort(angles)


def intersection_dim(U, V, tau: float = 1e-2) -> int:
    """Numerical intersection dimension ``d_τ = #{i : cos θ_i ≥ 1 − τ}``.

    τ = 1e-2 (θ ≤ 8.11°) is the book's headline; report τ ∈ {1e-1, 1e-3} as the sensitivity band.
    """
    if not 0.0 <= tau < 1.0:
        raise ValueError(f"tau must lie in [0, 1), got {tau}")
    return int(np.sum(np.cos(principal_angles(U, V)) >= 1.0 - tau - 1e-15))


def soft_overlap(U, V, normalise: bool = True) -> float:
    """Soft overlap ``s = Σ cos² θ_i = ‖UᵀV‖_F²``, divided by ``min(k, k')`` when ``normalise``.

    Threshold-free companion of :func:`intersection_dim`; chance level for Haar-random subspaces is
    :func:`chance_soft_overlap`.
    """
    U, V = _check_bases(U, V)
    m = min(U.shape[1], V.shape[1])
    if m == 0:
        return 0.0
    s = float(np.sum((U.T @ V) ** 2))
    return s / m if normalise else s


def chance_soft_overlap(k: int, k2: int, n: int) -> float:
    """Expected normalised soft overlap of Haar-random ``k``- and ``k2``-dimensional subspaces of ``R^n``.

    ``E[s] = k k2 / n``, so ``E[s̄] = max(k, k2) / n``.
    """
    if min(k, k2) <= 0:
        return 0.0
    return max(k, k2) / n


def generic_intersection_dim(k: int, k2: int, n: int) -> int:
    """Dimension of the intersection of two subspaces in general position: ``max(0, k + k2 − n)``."""
    return max(0, k + k2 - n)


def random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random ``n × n`` orthogonal matrix (QR of a Gaussian matrix with sign correction)."""
    Z = rng.standard_normal((n, n))
    Q, R = np.linalg.qr(Z)
    return Q * np.sign(np.diag(R))


def _orth_columns(Y, rtol: float = 1e-12) -> np.ndarray:
    """Orthonormal basis of ``col(Y)``, dropping directions below ``rtol`` times the largest (rank-revealing)."""
    U, s, _ = np.linalg.svd(Y, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return U[:, :0]
    return U[:, s > rtol * s[0]]


def randomized_svd(
    A,
    k: int,
    oversample: int = 10,
    n_iter: int = 4,
    seed: int = 0,
    method: Literal["krylov", "subspace"] = "krylov",
    blas_threads: int | None = None,
):
    """Top-``k`` singular triplets from products with ``A`` and ``Aᵀ`` only.

    ``method="subspace"`` is randomized subspace iteration (Halko, Martinsson, Tropp 2011): the range of
    ``(A Aᵀ)^q A Ω`` for a Gaussian ``Ω`` with ``ℓ = k + p`` columns. ``method="krylov"`` (default) is
    randomized block Krylov (Musco and Musco 2015): the Rayleigh–Ritz projection onto the whole block
    Krylov space ``[AΩ, (AAᵀ)AΩ, …, (AAᵀ)^q AΩ]``, which contains the subspace-iteration range, so it is
    never less accurate. It costs the same ``(2q + 2) ℓ`` operator products: ``Aᵀ`` of every block but
    the last is already computed while the space is built, and is reused for the projection.

    Parameters
    ----------
    A : ndarray or scipy ``LinearOperator``
        Anything with ``shape``, ``matmat`` and ``rmatmat`` (a Jacobian given by JVP/VJP closures
        wraps into a ``LinearOperator``). Dense arrays are accepted.
    k : int
        Number of singular triplets.
    oversample : int
        Extra random directions (``p``); the blocks have ``ℓ = k + p`` columns.
    n_iter : int
        ``q``: power iterations (subspace) or Krylov blocks beyond the first (krylov).
    seed : int
        Seed of the Gaussian test matrix.
    method : {"krylov", "subspace"}
        See above.
    blas_threads : int or None
        Threads for NumPy's BLAS during the call (``None``: unchanged). ``1`` when ``A`` runs in torch:
        idle OpenBLAS threads spin-wait between NumPy calls and slow torch's own pool (measured 3×
        on 2 cores, ``python benchmarks/bench_jacobian_subspace.py``).

    Returns
    -------
    U : ndarray, shape (m, k)
    s : ndarray, shape (k,)
    Vt : ndarray, shape (k, n)
    """
    op: LinearOperator = aslinearoperator(as_float64(A) if isinstance(A, np.ndarray) or hasattr(A, "detach") else A)
    m, n = op.shape
    if not 1 <= k <= min(m, n):
        raise ValueError(f"k={k} must lie in [1, min(shape)={min(m, n)}]")
    if method not in ("krylov", "subspace"):
        raise ValueError(f"method must be 'krylov' or 'subspace', got {method!r}")
    if oversample < 0 or n_iter < 0:
        raise ValueError(f"oversample and n_iter must be >= 0, got {oversample} and {n_iter}")
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(blas_threads, user_api="blas"):
            return randomized_svd(op, k, oversample, n_iter, seed, method, None)
    ell = min(k + oversample, min(m, n))
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(op.matmat(rng.standard_normal((n, ell))))
    if method == "subspace":
        for _ in range(n_iter):
            Z, _ = np.linalg.qr(op.rmatmat(Q))
            Q, _ = np.linalg.qr(op.matmat(Z))
        Ub, s, Vt = np.linalg.svd(op.rmatmat(Q).T, full_matrices=False)  # Qᵀ A = (Aᵀ Q)ᵀ
        return (Q @ Ub)[:, :k], s[:k], Vt[:k]
    blocks, AtQ = [Q], []
    for _ in range(n_iter):
        K = np.hstack(blocks)
        if K.shape[1] >= m:
            break
        AtQ.append(op.rmatmat(blocks[-1]))
        Y = op.matmat(np.linalg.qr(AtQ[-1])[0])
        for _ in range(2):  # block Gram–Schmidt against the space so far, twice for orthogonality
            Y -= K @ (K.T @ Y)
        Q = _orth_columns(Y, 1e-10)[:, : m - K.shape[1]]
        if Q.shape[1] == 0:
            break
        blocks.append(Q)
    if len(AtQ) < len(blocks):
        AtQ.append(op.rmatmat(blocks[-1]))
    K = np.hstack(blocks)
    Ub, s, Vt = np.linalg.svd(np.hstack(AtQ).T, full_matrices=False)  # Kᵀ A, row blocks Qᵢᵀ A
    return (K @ Ub)[:, :k], s[:k], Vt[:k]
