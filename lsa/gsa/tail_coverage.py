"""How often the fitted-tail certificate contains the true tail, on spectra drawn with a known tail.

At scale the protocol knows only the top K singular triplets of a factor (randomized SVD) and an *estimate*
of ``||A||_F^2``: the upper end of a Hutch++ 95 % interval. The empirical tail ``tau_emp(k)`` is then itself
an estimate, and the certified tail ``tau_alphahat(k) + eps*`` bounds the *true* tail only as often as that
interval covers the true Frobenius norm (a normal approximation over the probes, so not a theorem). This
module measures the rate on matrices whose whole spectrum is known: a Gibbs–Cartan orbit spectrum with a
multiplicative log-normal jitter, random singular vectors, the protocol's own partial SVD, Frobenius
estimate and fit (:func:`lsa.gsa.protocol.fit_tail_model`).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import aslinearoperator

from lsa.gsa import gibbs_cartan as gc
from lsa.gsa.config import GSAConfig
from lsa.gsa.protocol import fit_tail_model
from lsa.gsa.spectra import randomized_spectrum
from lsa.linalg import random_orthogonal


def jittered_orbit_spectrum(r: int, alpha: float, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Singular values whose squares are the orbit spectrum ``lambda_i(alpha)`` times ``exp(jitter z_i)``
    (``z_i`` standard normal), sorted in descending order; ``jitter = 0`` gives the exact orbit."""
    if jitter < 0:
        raise ValueError(f"jitter must be >= 0, got {jitter}")
    lam = gc.orbit_lambda(r, alpha) * np.exp(jitter * rng.standard_normal(r))
    return np.sqrt(np.sort(lam)[::-1])


def tail_coverage(
    r: int = 96,
    alphas=(0.5, 1.0, 1.5),
    K: int = 24,
    jitter: float = 0.3,
    n_draws: int = 100,
    n_hutch: int = 32,
    cfg: GSAConfig = GSAConfig(),
    seed: int = 0,
) -> dict:
    """Coverage of the certified tail over ``n_draws`` random factors per exponent.

    Parameters
    ----------
    r : int
        Size of the square factors (r x r).
    alphas : sequence of float
        Orbit exponents of the drawn spectra.
    K : int
        Number of singular triplets the randomized SVD computes (the known ranks), ``2 <= K < r``.
    jitter : float
        Standard deviation of the log-normal multiplicative jitter of each eigenvalue.
    n_draws : int
        Random factors per exponent.
    n_hutch : int
        Rademacher probes of the deflated Frobenius estimate.
    cfg : GSAConfig
        Randomized-SVD parameters (``oversample``, ``n_iter``).
    seed : int
        Seed of spectra, singular vectors, sketches and probes.

    Returns
    -------
    dict
        ``n`` (factors drawn), ``fro_cover`` (share whose Frobenius upper end is at least the truth),
        ``window_cover`` (share with ``tau_true(k) <= tau_alphahat(k) + eps*`` for every known rank
        ``k <= K``), ``beyond_cover`` (the same for every unknown rank ``K < k < r``: an extrapolation by the
        tail model), ``worst_window_excess`` (largest ``tau_true - certified`` over draws and known ranks),
        and ``rows`` (one dict per draw).
    """
    if not 2 <= K < r:
        raise ValueError(f"K must satisfy 2 <= K < r, got K={K}, r={r}")
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    rng = np.random.default_rng(seed)
    rows = []
    for alpha in alphas:
        for _ in range(n_draws):
            s = jittered_orbit_spectrum(r, alpha, jitter, rng)
            A = (random_orthogonal(r, rng) * s) @ random_orthogonal(r, rng).T
            spec = randomized_spectrum(
                aslinearoperator(A), K, cfg.oversample, cfg.n_iter, int(rng.integers(2**31)), n_hutch=n_hutch
            )
            fit = fit_tail_model(spec, K)
            true_tail = 1.0 - np.cumsum(s**2) / np.sum(s**2)
            kk = np.arange(1, r)
            cert = gc.orbit_tail(r, fit["alpha"], kk) + fit["eps_star"]
            excess = true_tail[:-1] - cert
            rows.append(
                {
                    "alpha": float(alpha),
                    "alphahat": fit["alpha"],
                    "eps_star": fit["eps_star"],
                    "fro_covered": bool(spec.fro2 >= np.sum(s**2)),
                    "window_excess": float(np.max(excess[:K])),
                    "beyond_excess": float(np.max(excess[K:])),
                }
            )
    n = len(rows)
    return {
        "n": n,
        "fro_cover": float(np.mean([x["fro_covered"] for x in rows])),
        "window_cover": float(np.mean([x["window_excess"] <= 1e-12 for x in rows])),
        "beyond_cover": float(np.mean([x["beyond_excess"] <= 1e-12 for x in rows])),
        "worst_window_excess": float(max(x["window_excess"] for x in rows)),
        "rows": rows,
    }
