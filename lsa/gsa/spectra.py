"""Singular spectra of layer factors: dense or randomized (JVP/VJP) SVD, Frobenius normalisation,
sign convention and degenerate clusters (GSA-II spec sections 2.2, 2.5, 8; protocol steps P1–P2).

Used by the ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps`` chapters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from lsa.linalg import as_float64, randomized_svd


def sign_convention(U: np.ndarray, Vt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flip each pair (u_j, v_j) so that the largest-magnitude entry of u_j is positive (spec 2.5).

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    U, Vt = np.array(U, dtype=np.float64), np.array(Vt, dtype=np.float64)
    if U.shape[1] == 0:
        return U, Vt
    idx = np.argmax(np.abs(U), axis=0)
    sgn = np.sign(U[idx, np.arange(U.shape[1])])
    sgn[sgn == 0] = 1.0
    return U * sgn, Vt * sgn[:, None]


def degenerate_clusters(s, g_deg: float = 1e-3) -> list[np.ndarray]:
    """Group consecutive modes whose relative gap (s_j - s_{j+1})/s_j is below ``g_deg`` (spec 2.5).

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
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
        ||A||_F^2 (exact, or the upper end of a Hutchinson 95 % interval when ``exact`` is False).
    shape : tuple
        (m, n).
    exact : bool
        True when the spectrum is complete (dense SVD) and ``fro2`` exact.
    residual : float
        max_i ||A v_i - s_i u_i|| / s_1 (protocol P1).

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
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
        return self.s ** 2 / self.fro2 if self.fro2 > 0 else np.zeros_like(self.s)

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
    """Frobenius-normalised factor Abar = sqrt(r) A / ||A||_F, r = min(m, n) (spec 2.2).

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    A = as_float64(A)
    if A.ndim != 2:
        raise ValueError(f"factor must be a 2-D matrix, got shape {A.shape}")
    f = np.linalg.norm(A)
    if f == 0:
        raise ValueError("cannot normalise the zero factor")
    return np.sqrt(min(A.shape)) * A / f


def dense_spectrum(A) -> Spectrum:
    """Full SVD of a dense factor (float64), sign convention applied. Used by all Part II chapters.

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    A = as_float64(A)
    if A.ndim != 2 or min(A.shape) == 0:
        raise ValueError(f"factor must be a non-empty 2-D matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("factor contains NaN or inf entries")
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    U, Vt = sign_convention(U, Vt)
    return Spectrum(s=s, U=U, Vt=Vt, fro2=float(np.sum(A * A)), shape=A.shape, exact=True,
                    residual=_residual(aslinearoperator(A), U, s, Vt))


def _residual(op: LinearOperator, U, s, Vt) -> float:
    if s.size == 0 or s[0] == 0:
        return 0.0
    R = op.matmat(Vt.T) - U * s
    return float(np.max(np.linalg.norm(R, axis=0)) / s[0])


def hutchinson_fro2(op: LinearOperator, n_samples: int = 128, seed: int = 0) -> tuple[float, float]:
    """Hutchinson estimate of ||A||_F^2 = E||A z||^2 (Rademacher z) and the upper end of its 95 % interval.

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    op = aslinearoperator(op)
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples}")
    rng = np.random.default_rng(seed)
    Z = rng.choice([-1.0, 1.0], size=(op.shape[1], n_samples))
    v = np.sum(op.matmat(Z) ** 2, axis=0)
    mean = float(v.mean())
    return mean, mean + 1.96 * float(v.std(ddof=1)) / np.sqrt(n_samples)


def randomized_spectrum(op, K: int, oversample: int = 10, n_iter: int = 2, seed: int = 0,
                        fro2: float | None = None, n_hutch: int = 128) -> Spectrum:
    """Top-K triplets of a factor given as a ``LinearOperator`` (e.g. JVP/VJP closures), by randomized block
    Krylov SVD (:func:`lsa.linalg.randomized_svd`, ``(2 n_iter + 2)(K + oversample)`` products), with
    NumPy's BLAS on one thread so that it does not contend with torch's pool.

    ``fro2`` is the exact ||A||_F^2 when known; otherwise the upper end of a Hutchinson 95 % interval
    is used (spec section 8), and the spectrum is marked inexact.

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    op = aslinearoperator(op)
    m, n = op.shape
    if not 1 <= K <= min(m, n):
        raise ValueError(f"K={K} must lie in [1, min(shape)={min(m, n)}] for a factor of shape {op.shape}")
    U, s, Vt = randomized_svd(op, K, oversample=oversample, n_iter=n_iter, seed=seed, blas_threads=1)
    U, Vt = sign_convention(U, Vt)
    exact = fro2 is not None
    if fro2 is None:
        fro2 = hutchinson_fro2(op, n_hutch, seed + 1)[1]
    fro2 = max(float(fro2), float(np.sum(s ** 2)))
    return Spectrum(s=s, U=U, Vt=Vt, fro2=fro2, shape=(m, n), exact=exact and K == min(m, n),
                    residual=_residual(op, U, s, Vt))
