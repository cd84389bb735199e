"""Singular spectra of layer factors: dense or randomized (JVP/VJP) SVD, Frobenius normalisation,
sign convention, degenerate clusters and Hutchinson / Hutch++ Frobenius estimates (protocol steps P1–P2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from lsa.linalg import as_float64, randomized_svd


def sign_convention(U: np.ndarray, Vt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flip each pair (u_j, v_j) so that the largest-magnitude entry of u_j is positive (our sign convention)."""
    U, Vt = np.array(U, dtype=np.float64), np.array(Vt, dtype=np.float64)
    if U.shape[1] == 0:
        return U, Vt
    idx = np.argmax(np.abs(U), axis=0)
    sgn = np.sign(U[idx, np.arange(U.shape[1])])
    sgn[sgn == 0] = 1.0
    return U * sgn, Vt * sgn[:, None]


def degenerate_clusters(s, g_deg: float = 1e-3) -> list[np.ndarray]:
    """Group consecutive modes whose relative gap (s_j - s_{j+1})/s_j is below ``g_deg``."""
    s = np.asarray(s, dtype=np.float64)
    clusters, cur = [], [0] if s.size else []
    for j in range(1, s.size):
        gap = (s[j - 1] - s[j]) / s[j - 1] if s[j - 1] > 0 else 0.0
        if gap < g_deg:
            cur.append(j)
        else:
            clusters.append(np.array(cur))
            cur = [j]
    if cur:
        clusters.append(np.array(cur))
    return clusters


@dataclass
class Spectrum:
    """Top-K singular triplets of a factor A (m x n) plus its squared Frobenius norm.

    Attributes
    ----------
    s : ndarray (K,)
        Top singular values, descending.
    U : ndarray (m, K)
        Left singular vectors (output space), sign convention applied.
    Vt : ndarray (K, n)
        Right singular vectors (input space).
    fro2 : float
        ||A||_F^2 (exact, or the upper end of a Hutch++ 95 % interval when ``exact`` is False).
    shape : tuple
        (m, n).
    exact : bool
        True when the spectrum is complete (dense SVD) and ``fro2`` exact.
    residual : float
        max_i ||A v_i - s_i u_i|| / s_1 (protocol P1).
    """

    s: np.ndarray
    U: np.ndarray
    Vt: np.ndarray
    fro2: float
    shape: tuple
    exact: bool = True
    residual: float = 0.0

    @property
    def r(self) -> int:
        """Rank bound r = min(m, n)."""
        return int(min(self.shape))

    @property
    def K(self) -> int:
        """Number of known singular triplets."""
        return int(self.s.size)

    @property
    def p(self) -> np.ndarray:
        """Rank distribution p_i = s_i^2 / ||A||_F^2 for the known ranks."""
        return self.s**2 / self.fro2 if self.fro2 > 0 else np.zeros_like(self.s)

    @property
    def lam(self) -> np.ndarray:
        """Normalised Gram eigenvalues lambda_i = r p_i (sum r over the full spectrum)."""
        return self.r * self.p

    def tail(self, k) -> np.ndarray:
        """Empirical tail tau_emp(k) = 1 - sum_{i<=k} p_i, exact for k <= K."""
        k = np.asarray(k)
        if np.any(k < 0) or np.any(k > self.K):
            raise ValueError(f"tail rank must lie in [0, K={self.K}] (known ranks), got {k}")
        c = np.concatenate([[0.0], np.cumsum(self.p)])
        return np.clip(1.0 - c[k], 0.0, 1.0)

    def sigma(self, j: int) -> float:
        """sigma_j (1-based); 0 beyond the rank r; raises if j exceeds the known ranks but not r."""
        if j > self.r:
            return 0.0
        if j > self.K:
            raise ValueError(f"sigma_{j} is unknown: only K={self.K} singular values were computed")
        return float(self.s[j - 1])

    def dense(self) -> np.ndarray:
        """The rank-K reconstruction U diag(s) Vt (the whole factor when ``exact``)."""
        return (self.U * self.s) @ self.Vt


def normalise_factor(A) -> np.ndarray:
    """Frobenius-normalised factor Abar = sqrt(r) A / ||A||_F, r = min(m, n)."""
    A = as_float64(A)
    if A.ndim != 2:
        raise ValueError(f"factor must be a 2-D matrix, got shape {A.shape}")
    f = np.linalg.norm(A)
    if f == 0:
        raise ValueError("cannot normalise the zero factor")
    return np.sqrt(min(A.shape)) * A / f


def dense_spectrum(A) -> Spectrum:
    """Full SVD of a dense factor (float64), sign convention applied."""
    A = as_float64(A)
    if A.ndim != 2 or min(A.shape) == 0:
        raise ValueError(f"factor must be a non-empty 2-D matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("factor contains NaN or inf entries")
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    U, Vt = sign_convention(U, Vt)
    return Spectrum(
        s=s,
        U=U,
        Vt=Vt,
        fro2=float(np.sum(A * A)),
        shape=A.shape,
        exact=True,
        residual=_residual(aslinearoperator(A), U, s, Vt),
    )


def _residual(op: LinearOperator, U, s, Vt, AV=None) -> float:
    """``max_j ||A v_j - s_j u_j|| / s_1`` (protocol P1); ``AV`` = ``A Vᵀᵀ`` when already computed."""
    if s.size == 0 or s[0] == 0:
        return 0.0
    R = (op.matmat(Vt.T) if AV is None else AV) - U * s
    return float(np.max(np.linalg.norm(R, axis=0)) / s[0])


def hutchinson_fro2(op: LinearOperator, n_samples: int = 128, seed: int = 0) -> tuple[float, float]:
    """Hutchinson estimate of ||A||_F^2 = E||A z||^2 (Rademacher z) and the upper end of its 95 % interval."""
    op = aslinearoperator(op)
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples}")
    m, n = op.shape
    return _deflated_fro2(op, np.zeros((n, 0)), np.zeros((m, 0)), n_samples, np.random.default_rng(seed))


def _check_budget(n_samples, minimum: int, what: str) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < minimum:
        raise ValueError(f"n_samples must be an integer >= {minimum} {what}, got {n_samples!r}")
    return int(n_samples)


def _deflated_fro2(
    op: LinearOperator, V: np.ndarray, AV: np.ndarray, n_probes: int, rng: np.random.Generator
) -> tuple[float, float]:
    """``||A V||_F^2`` (exact, from ``AV``) plus a Hutchinson estimate of ``||A (I - V V^T)||_F^2``."""
    exact = float(np.sum(AV**2))
    Z = rng.choice([-1.0, 1.0], size=(op.shape[1], n_probes))
    if V.shape[1]:
        Z = Z - V @ (V.T @ Z)
    v = np.sum(op.matmat(Z) ** 2, axis=0)
    mean = float(v.mean())
    half = 1.96 * float(v.std(ddof=1)) / np.sqrt(n_probes)
    return exact + mean, exact + mean + half


def hutchpp_fro2(op, n_samples: int = 128, seed: int = 0, basis=None) -> tuple[float, float]:
    """Hutch++ estimate of ``||A||_F^2`` and the upper end of its 95 % interval (protocol step P1).

    For any orthonormal ``V`` (n x k) in the input space, Pythagoras over the split
    ``I = V V^T + (I - V V^T)`` gives ``||A||_F^2 = ||A V||_F^2 + ||A (I - V V^T)||_F^2``. The first term is
    computed exactly from k products; the second is a Hutchinson estimate with Rademacher probes projected
    off ``V``. When ``V`` holds the dominant right singular vectors, the deflated part carries only the
    tail of the spectrum, so its variance (and the interval) is far smaller than plain Hutchinson's
    (Meyer, Musco, Musco and Woodruff, 2021).

    Parameters
    ----------
    op : scipy ``LinearOperator`` or ndarray, shape (m, n)
        The factor A (``matmat``; ``rmatmat`` too when ``basis`` is None).
    n_samples : int
        Total number of products with A or A^T. With a basis of k columns: k for ``||A V||_F^2`` and
        ``n_samples - k`` (at least 2) Hutchinson probes. Without a basis, the standard Hutch++ split:
        ``s = n_samples // 3`` products A^T G (Gaussian G) sketch the row space, s products give the exact
        part, the remaining ``n_samples - 2 s`` are Hutchinson probes (so ``n_samples >= 4``).
    seed : int
        Seed of the sketch and of the probes.
    basis : ndarray, shape (n, k), optional
        Orthonormal columns already at hand, e.g. the right singular vectors of a randomized SVD.

    Returns
    -------
    estimate : float
        The Hutch++ estimate of ``||A||_F^2`` (exact when ``basis`` spans the row space of A).
    upper : float
        Upper end of its 95 % interval (normal approximation over the probes), used in tail bounds.
    """
    op = aslinearoperator(as_float64(op) if isinstance(op, np.ndarray) else op)
    m, n = op.shape
    rng = np.random.default_rng(seed)
    if basis is None:
        n_samples = _check_budget(
            n_samples, 4, "(Hutch++ without a basis: a third sketches, a third deflates, the rest are probes)"
        )
        s = n_samples // 3
        V, _ = np.linalg.qr(op.rmatmat(rng.standard_normal((m, s))))
        V = V[:, : min(s, n)]
        return _deflated_fro2(op, V, op.matmat(V), n_samples - 2 * s, rng)
    V = np.asarray(basis, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != n:
        raise ValueError(f"basis must be an (n, k) matrix with n = {n} (the input dimension of A), got shape {V.shape}")
    if not np.all(np.isfinite(V)):
        raise ValueError("basis contains NaN or inf entries")
    err = float(np.max(np.abs(V.T @ V - np.eye(V.shape[1])))) if V.shape[1] else 0.0
    if err > 1e-8:
        raise ValueError(f"basis must have orthonormal columns (max |V^T V - I| <= 1e-8), got {err:.2e}")
    n_samples = _check_budget(n_samples, V.shape[1] + 2, f"(k = {V.shape[1]} basis products plus >= 2 probes)")
    return _deflated_fro2(op, V, op.matmat(V), n_samples - V.shape[1], rng)


def randomized_spectrum(
    op, K: int, oversample: int = 10, n_iter: int = 2, seed: int = 0, fro2: float | None = None, n_hutch: int = 128
) -> Spectrum:
    """Top-K triplets of a factor given as a ``LinearOperator`` (e.g. JVP/VJP closures), by randomized block
    Krylov SVD (:func:`lsa.linalg.randomized_svd`, ``(2 n_iter + 2)(K + oversample)`` products), with
    NumPy's BLAS on one thread so that it does not contend with torch's pool.

    ``fro2`` is the exact ``||A||_F^2`` when known. Otherwise it is the upper end of the 95 % interval of
    :func:`hutchpp_fro2` deflated by the sketch's right singular vectors (protocol step P1): the K products
    ``A V`` (shared with the residual check P1) give ``||A V||_F^2`` exactly, and ``n_hutch`` Rademacher
    probes projected off ``V`` estimate the rest; the spectrum is then marked inexact.
    """
    op = aslinearoperator(op)
    m, n = op.shape
    if not 1 <= K <= min(m, n):
        raise ValueError(f"K={K} must lie in [1, min(shape)={min(m, n)}] for a factor of shape {op.shape}")
    exact = fro2 is not None
    if not exact:
        _check_budget(n_hutch, 2, "(Hutchinson probes of the deflated Frobenius estimate)")
    U, s, Vt = randomized_svd(op, K, oversample=oversample, n_iter=n_iter, seed=seed, blas_threads=1)
    U, Vt = sign_convention(U, Vt)
    AV = op.matmat(Vt.T)
    if not exact:
        fro2 = _deflated_fro2(op, Vt.T, AV, n_hutch, np.random.default_rng(seed + 1))[1]
    fro2 = max(float(fro2), float(np.sum(s**2)))
    return Spectrum(
        s=s, U=U, Vt=Vt, fro2=fro2, shape=(m, n), exact=exact and K == min(m, n), residual=_residual(op, U, s, Vt, AV)
    )
