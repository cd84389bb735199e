"""The Gibbs–Cartan orbit of power-law spectra (GSA I, as we reconstruct it) and its fit to empirical spectra.

The orbit is p_i(alpha) = i^-alpha / H_{r,alpha} (a Gibbs family with energy log i), lambda_i = r p_i.
Everything is float64 NumPy.
"""

from __future__ import annotations

import math

import numpy as np

EULER_GAMMA = 0.5772156649015329
ALPHA_MAX = 20.0


def _check_r_alpha(r: int, alpha: float):
    if int(r) != r or r < 1:
        raise ValueError(f"rank r must be a positive integer, got {r!r}")
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"exponent alpha must be finite and >= 0, got {alpha!r}")


def _log_i(r: int) -> np.ndarray:
    return np.log(np.arange(1, int(r) + 1, dtype=np.float64))


def harmonic(r: int, alpha: float) -> float:
    """Generalised harmonic number H_{r,alpha} = sum_{i<=r} i^-alpha."""
    _check_r_alpha(r, alpha)
    return float(np.exp(-alpha * _log_i(r)).sum())


def orbit_p(r: int, alpha: float) -> np.ndarray:
    """Rank distribution p_i(alpha) = i^-alpha / H_{r,alpha} (sums to 1)."""
    _check_r_alpha(r, alpha)
    w = np.exp(-alpha * _log_i(r))
    return w / w.sum()


def orbit_lambda(r: int, alpha: float) -> np.ndarray:
    """Eigenvalues lambda_i = r p_i(alpha) of the normalised Gram matrix on the orbit (sum r)."""
    return r * orbit_p(r, alpha)


def mean_log_rank(r: int, alpha: float) -> float:
    """E_{p_alpha}[log i] (= -d/dalpha log H_{r,alpha}), the moment matched by the fit."""
    return float(orbit_p(r, alpha) @ _log_i(r))


def fisher(r: int, alpha: float) -> float:
    """Fisher information I(alpha) = Var_{p_alpha}(log i) = d^2/dalpha^2 log H_{r,alpha}."""
    p, li = orbit_p(r, alpha), _log_i(r)
    m = p @ li
    return float(p @ (li - m) ** 2)


def top_radial(r: int, alpha: float) -> float:
    """Top-radial Cartan coordinate on the orbit, h_1 = (1/2)(log r - log H_{r,alpha})."""
    return 0.5 * (math.log(r) - math.log(harmonic(r, alpha)))


def bures_sq(lam_a, lam_b) -> float:
    """Bures–Wasserstein distance squared of commuting (diagonal) spectra: sum (sqrt a - sqrt b)^2."""
    a, b = np.asarray(lam_a, np.float64), np.asarray(lam_b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"spectra must have the same length, got {a.shape} and {b.shape}")
    return float(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))


def hellinger_affinity(p, q) -> float:
    """Hellinger affinity sum_i sqrt(p_i q_i) of two rank distributions."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ValueError(f"distributions must have the same length, got {p.shape} and {q.shape}")
    return float(np.sum(np.sqrt(p * q)))


def orbit_tail(r: int, alpha: float, k) -> np.ndarray:
    """Tail fraction tau_alpha(k) = 1 - H_{k,alpha}/H_{r,alpha} (energy beyond rank k), k may be an array."""
    k = np.asarray(k)
    if np.any(k < 0) or np.any(k > r):
        raise ValueError(f"tail rank k must lie in [0, r={r}], got {k}")
    c = np.concatenate([[0.0], np.cumsum(orbit_p(r, alpha))])
    return np.clip(1.0 - c[k], 0.0, 1.0)


def tail_bounds(r: int, alpha: float, k: int) -> tuple[float, float]:
    """Integral sandwich (lower, upper) of tau_alpha(k) for alpha > 0, 1 <= k < r."""
    _check_r_alpha(r, alpha)
    if alpha <= 0 or not 1 <= k < r:
        raise ValueError(f"tail bounds need alpha > 0 and 1 <= k < r; got alpha={alpha}, k={k}, r={r}")
    H = harmonic(r, alpha)
    if abs(alpha - 1.0) < 1e-12:
        return math.log((r + 1) / (k + 1)) / H, math.log(r / k) / H
    e = 1.0 - alpha
    return ((r + 1) ** e - (k + 1) ** e) / (e * H), (r**e - k**e) / (e * H)


def orbit_effective_rank(r: int, alpha: float, q: float) -> int:
    """Exact r_q = min{k : sum_{i<=k} p_i(alpha) >= q} on the orbit."""
    if not 0 < q <= 1:
        raise ValueError(f"energy level q must lie in (0, 1], got {q}")
    return int(np.searchsorted(np.cumsum(orbit_p(r, alpha)), q - 1e-12) + 1)


def asymptotic_effective_rank(r: int, alpha: float, q: float) -> float:
    """Large-r asymptotics of r_q on the orbit (the three scaling regimes of the windows)."""
    from scipy.special import zeta

    if alpha < 1:
        return q ** (1.0 / (1.0 - alpha)) * r
    if alpha == 1:
        return math.exp(EULER_GAMMA * (q - 1.0)) * r**q
    return ((alpha - 1.0) * zeta(alpha) * (1.0 - q)) ** (-1.0 / (alpha - 1.0))


def _bisect(f, lo: float, hi: float, tol: float = 1e-12, max_iter: int = 200) -> float:
    """Root of an increasing f on [lo, hi] (clamped to the ends)."""
    flo, fhi = f(lo), f(hi)
    if flo >= 0:
        return lo
    if fhi <= 0:
        return hi
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol:
            break
    return 0.5 * (lo + hi)


def _as_distribution(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size < 1 or np.any(~np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("expected a 1-D non-negative, finite rank distribution with positive mass")
    return p / p.sum()


def fit_alpha(p_emp) -> float:
    """KL (moment) projection of an empirical rank distribution onto the orbit: E_alpha[log i] = E_emp[log i].

    Unique root on [0, 20] by bisection (the left side decreases in alpha).
    """
    p = _as_distribution(p_emp)
    r = p.size
    if r == 1:
        return 0.0
    target = float(p @ _log_i(r))
    return _bisect(lambda a: target - mean_log_rank(r, a), 0.0, ALPHA_MAX)


def fit_alpha_top(p_emp) -> float:
    """Top-radial inversion: alpha with h_1(alpha) = h_1^emp = (1/2) log(r p_1)."""
    p = _as_distribution(p_emp)
    r = p.size
    if r == 1:
        return 0.0
    h_emp = 0.5 * math.log(r * p.max())
    return _bisect(lambda a: top_radial(r, a) - h_emp, 0.0, ALPHA_MAX)


def ls_slope(p_emp, q: float = 0.99) -> float:
    """Minus the least-squares slope of log lambda_i against log i over ranks [1, r_q] (diagnostic (b))."""
    p = _as_distribution(p_emp)
    k = max(2, int(np.searchsorted(np.cumsum(p), q - 1e-12) + 1))
    k = min(k, int(np.sum(p > 0)))
    if k < 2:
        return 0.0
    x, y = _log_i(k), np.log(p[:k])
    return float(-np.polyfit(x, y, 1)[0])


def chart_residuals(p_emp, alpha: float) -> dict:
    """Orbit-chart residuals R_KL, R_H (Hellinger) and R_BW = 2 r R_H at the fitted alpha."""
    p = _as_distribution(p_emp)
    q = orbit_p(p.size, alpha)
    nz = p > 0
    r_kl = float(np.sum(p[nz] * np.log(p[nz] / q[nz])))
    r_h = 1.0 - hellinger_affinity(p, q)
    return {"R_KL": r_kl, "R_H": r_h, "R_BW": bures_sq(p.size * p, p.size * q)}


def fitted_tail_error(tau_emp, r: int, alpha: float) -> float:
    """Window-uniform fitted-tail error ``eps* = max_{1<=k<=K} abs(tau_emp(k) - tau_alpha(k))``.

    ``tau_emp[k-1]`` is the empirical tail beyond rank k for k = 1..K (exact given ||A||_F even when
    only the top K singular values are known).
    """
    t = np.asarray(tau_emp, dtype=np.float64)
    if t.ndim != 1 or t.size > r:
        raise ValueError(f"tau_emp must be a 1-D array of at most r={r} tails, got shape {t.shape}")
    if t.size == 0:
        return 0.0
    return float(np.max(np.abs(t - orbit_tail(r, alpha, np.arange(1, t.size + 1)))))


def drift_constant(r: int, alpha_max: float) -> float:
    """c_min = (1/2) E_{p_alpha_max}[log i], the lower bound of h_1' on [0, alpha_max] (T7)."""
    return 0.5 * mean_log_rank(r, alpha_max)


def near_identity_alpha_bound(r: int, eps: float) -> float:
    """Exact-orbit exponent bound 2 log((1+eps)/(1-eps)) / log r for ||A - I||_2 <= eps < 1 (T7)."""
    if not 0 <= eps < 1 or r < 2:
        raise ValueError(f"need 0 <= eps < 1 and r >= 2, got eps={eps}, r={r}")
    return 2.0 * math.log((1 + eps) / (1 - eps)) / math.log(r)


def identity_errors(rs=(8, 64, 512), alphas=(0.3, 1.0, 2.5), h: float = 1e-4, seed: int = 0) -> dict:
    """Relative errors of the orbit identities (check 8), maximised over the (r, alpha) grid:
    finite-difference BW line element vs (r/4) I(alpha); h_1' vs (1/2) E[log i]; lambda_1/lambda_r vs r^alpha;
    BW^2 vs 2 r (1 - Hellinger affinity) for random pairs of spectra."""
    rng = np.random.default_rng(seed)
    err = {"bw_fisher": 0.0, "h1_prime": 0.0, "ratio": 0.0, "bw_hellinger": 0.0}
    for r in rs:
        for a in alphas:
            bw = bures_sq(orbit_lambda(r, a + h), orbit_lambda(r, a - h)) / (2 * h) ** 2
            err["bw_fisher"] = max(err["bw_fisher"], abs(bw / (r / 4 * fisher(r, a)) - 1))
            d1 = (top_radial(r, a + h) - top_radial(r, a - h)) / (2 * h)
            err["h1_prime"] = max(err["h1_prime"], abs(d1 / (0.5 * mean_log_rank(r, a)) - 1))
            lam = orbit_lambda(r, a)
            err["ratio"] = max(err["ratio"], abs(lam[0] / lam[-1] / r**a - 1))
        p, q = rng.dirichlet(np.ones(r)), rng.dirichlet(np.ones(r))
        err["bw_hellinger"] = max(
            err["bw_hellinger"], abs(bures_sq(r * p, r * q) / (2 * r * (1 - hellinger_affinity(p, q))) - 1)
        )
    return err


def effective_rank_check(r: int = 10**6, alphas=(0.3, 1.0, 2.0), qs=(0.5, 0.8, 0.9, 0.95), r_tail: int = 500) -> dict:
    """Check 9: largest excess of ``abs(r_q - asymptotic)`` over max(2 % r_q, 1 rank) at rank ``r`` (<= 0 means
    every case is within tolerance), the table of cases, and whether the integral tail sandwich holds for
    all k < ``r_tail``."""
    rows, excess, sandwich = [], -np.inf, True
    for a in alphas:
        for q in qs:
            ex, pr = orbit_effective_rank(r, a, q), asymptotic_effective_rank(r, a, q)
            excess = max(excess, abs(ex - pr) - max(0.02 * ex, 1.0))
            rows.append({"alpha": a, "q": q, "exact": ex, "asymptotic": pr})
        t = orbit_tail(r_tail, a, np.arange(1, r_tail))
        for k in range(1, r_tail):
            lo, hi = tail_bounds(r_tail, a, k)
            sandwich &= bool(lo - 1e-12 <= t[k - 1] <= hi + 1e-12)
    return {"max_excess": float(excess), "rows": rows, "sandwich": bool(sandwich)}


def drift_check(
    r: int = 64, alpha_max: float = 3.0, n_pairs: int = 200, eps_grid=(0.02, 0.1, 0.3), seed: int = 0
) -> dict:
    """Check 10 on synthetic exact-orbit chains: max of ``abs(Delta alpha) c_min / abs(Delta h_1)`` (<= 1 by T7),
    and, for random near-identity factors ||A - I||_2 <= eps, max of alpha_orbit / bound (<= 1).
    """
    from lsa.linalg import random_orthogonal

    rng = np.random.default_rng(seed)
    c_min = drift_constant(r, alpha_max)
    worst = 0.0
    for a1, a2 in rng.uniform(0, alpha_max, size=(n_pairs, 2)):
        dh = abs(top_radial(r, a2) - top_radial(r, a1))
        if dh > 0:
            worst = max(worst, abs(a2 - a1) * c_min / dh)
    near = 0.0
    for eps in eps_grid:
        E = random_orthogonal(r, rng) @ np.diag(rng.uniform(-eps, eps, r)) @ random_orthogonal(r, rng).T
        s = np.linalg.svd(np.eye(r) + E, compute_uv=False)
        alpha_orbit = 2 * math.log(s[0] / s[-1]) / math.log(r)  # lambda_1/lambda_r = r^alpha on the orbit
        near = max(near, alpha_orbit / near_identity_alpha_bound(r, eps))
    return {"drift_ratio": worst, "near_identity_ratio": near}


def orbit_fit_check(rs=(16, 48, 128), alphas=(0.4, 1.0, 1.7), seed: int = 0) -> dict:
    """Check 3 (exact part): for random-basis matrices with exact orbit spectra, max ``abs(alphahat - alpha)``
    and max eps*."""
    from lsa.linalg import random_orthogonal

    rng = np.random.default_rng(seed)
    da, eps = 0.0, 0.0
    for r in rs:
        for a in alphas:
            A = random_orthogonal(r, rng) @ np.diag(np.sqrt(orbit_lambda(r, a))) @ random_orthogonal(r, rng).T
            s2 = np.linalg.svd(A, compute_uv=False) ** 2
            p = s2 / s2.sum()
            ah = fit_alpha(p)
            da = max(da, abs(ah - a))
            eps = max(eps, fitted_tail_error(1 - np.cumsum(p), r, ah))
    return {"alpha_err": da, "eps_star": eps}
