"""Reparameterisation symmetry of an adjacent pair, GL-invariants, balanced factorisation and norm descent.

Under ``(W_l, W_{l+1}) → (g W_l, W_{l+1} g⁻¹)``
the intersection dimension ``dim(im W_l ∩ ker W_{l+1})`` and ``rank(W_{l+1} W_l)`` are exact invariants for
every ``g ∈ GL(n_l)``, while principal angles between ``im W_l`` and ``row W_{l+1}`` survive only ``O(n_l)``.
On a closed orbit the minimum-norm point is balanced; the global minimum over all factorisations of
``M = W_{l+1} W_l`` is the nuclear-norm factorisation with squared norm ``2‖M‖_*``.
"""

from __future__ import annotations

import numpy as np

from lsa.alignment.imbalance import imbalance
from lsa.linalg import as_float64, orthonormal_basis, principal_angles, random_orthogonal


def random_gl(n: int, rng: np.random.Generator, cond: float = 10.0) -> np.ndarray:
    """Random ``g ∈ GL(n)`` with condition number ``cond``: ``O_1 diag(s) O_2``, ``s`` log-spaced in ``[1, cond]``."""
    if n < 1 or cond < 1:
        raise ValueError(f"need n >= 1 and cond >= 1, got n={n}, cond={cond}")
    s = np.exp(rng.uniform(0, np.log(cond), n))
    s[0], s[-1] = 1.0, cond
    return random_orthogonal(n, rng) @ np.diag(s) @ random_orthogonal(n, rng)


def reparameterise(W_l, W_next, g):
    """Apply the hidden-layer symmetry: ``(g W_l, W_{l+1} g⁻¹)``; the product ``W_{l+1} W_l`` is unchanged."""
    W_l, W_next, g = as_float64(W_l), as_float64(W_next), as_float64(g)
    if g.shape != (W_l.shape[0], W_l.shape[0]) or W_next.shape[1] != W_l.shape[0]:
        raise ValueError(
            f"g must be n_l × n_l = {W_l.shape[0]}² for the pair {W_l.shape}, {W_next.shape}; got {g.shape}"
        )
    return g @ W_l, np.linalg.solve(g.T, W_next.T).T


def numerical_rank(A, rtol: float = 1e-9) -> int:
    """Number of singular values above ``rtol · σ_max``."""
    s = np.linalg.svd(as_float64(A), compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def gl_invariants(W_l, W_next, rtol: float = 1e-9) -> dict[str, int]:
    """GL(n_l)-invariant integers of a pair.

    Returns
    -------
    dict
        ``rank_l``, ``rank_next``, ``rank_product``; ``dim_im_cap_ker`` = ``dim(im W_l ∩ ker W_{l+1})``
        computed from a basis of the intersection (not from the rank identity), ``defect_a`` =
        ``rank W_l − rank(W_{l+1} W_l)`` and ``defect_b`` = ``rank W_{l+1} − rank(W_{l+1} W_l)``;
        ``polystable`` when both defects vanish.
    """
    W_l, W_next = as_float64(W_l), as_float64(W_next)
    r_l, r_n, r_p = numerical_rank(W_l, rtol), numerical_rank(W_next, rtol), numerical_rank(W_next @ W_l, rtol)
    im = orthonormal_basis(W_l, rtol)
    # im ∩ ker W_next = im · null(W_next · im)
    s = np.linalg.svd(W_next @ im, compute_uv=False)
    r = int(np.sum(s > rtol * np.linalg.norm(W_next, 2)))
    dim_cap = im.shape[1] - r
    return {
        "rank_l": r_l,
        "rank_next": r_n,
        "rank_product": r_p,
        "dim_im_cap_ker": dim_cap,
        "defect_a": r_l - r_p,
        "defect_b": r_n - r_p,
        "polystable": bool(r_l == r_p == r_n),
    }


def im_row_angles(W_l, W_next, rtol: float = 1e-9) -> np.ndarray:
    """Principal angles (radians, ascending) between ``im W_l`` and ``row W_{l+1}`` (exact numerical ranks)."""
    W_l, W_next = as_float64(W_l), as_float64(W_next)
    return principal_angles(orthonormal_basis(W_l, rtol), orthonormal_basis(W_next.T, rtol))


def balanced_factorisation(M, n_hidden: int, rng: np.random.Generator | None = None, rtol: float = 1e-12):
    """Minimum-norm factorisation ``M = W_{l+1} W_l`` through an ``n_hidden``-dimensional space.

    With ``M = A Σ Bᵀ`` (rank ``r``) and any orthonormal ``U ∈ R^{n_hidden × r}``:
    ``W_l = U Σ^{1/2} Bᵀ``, ``W_{l+1} = A Σ^{1/2} Uᵀ``. The pair is balanced and
    ``‖W_l‖_F² + ‖W_{l+1}‖_F² = 2 ‖M‖_*``.

    Returns
    -------
    W_l : ndarray, shape (n_hidden, M.shape[1])
    W_next : ndarray, shape (M.shape[0], n_hidden)
    """
    M = as_float64(M)
    A, s, Bt = np.linalg.svd(M, full_matrices=False)
    r = int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0
    if r > n_hidden:
        raise ValueError(f"rank(M)={r} exceeds n_hidden={n_hidden}: no factorisation through that width")
    rng = rng or np.random.default_rng(0)
    U = random_orthogonal(n_hidden, rng)[:, :r]
    root = np.sqrt(s[:r])
    return U @ (root[:, None] * Bt[:r]), (A[:, :r] * root) @ U.T


def _sym_exp(X):
    w, V = np.linalg.eigh((X + X.T) / 2)
    return (V * np.exp(w)) @ V.T


def norm_descent(W_l, W_next, steps: int = 500, lr: float = 0.25, tol: float = 1e-13) -> dict:
    """Descend ``‖g W_l‖_F² + ‖W_{l+1} g⁻¹‖_F²`` over the orbit with ``g = exp(X)``, ``X`` symmetric.

    The Riemannian gradient at ``g = I`` is ``2(W_l W_lᵀ − W_{l+1}ᵀ W_{l+1}) = −2Δ``; each step applies
    ``g = exp(η Δ)`` with ``η = lr / λ_max(P + Q)``. The product ``W_{l+1} W_l`` never changes. On a closed
    orbit ``‖Δ‖ → 0`` (the Kempf–Ness point); on a non-closed orbit the norm keeps decreasing without
    attaining its infimum.

    Returns
    -------
    dict
        ``W_l``, ``W_next`` (final pair), ``norms`` (squared norm per step) and ``imbalance`` (‖Δ‖_F per step).
    """
    W_l, W_next = as_float64(W_l).copy(), as_float64(W_next).copy()
    norms, imb = [], []
    for _ in range(steps + 1):
        D = imbalance(W_l, W_next)
        norms.append(float(np.sum(W_l**2) + np.sum(W_next**2)))
        imb.append(float(np.linalg.norm(D)))
        if imb[-1] < tol:
            break
        scale = np.linalg.eigvalsh(W_next.T @ W_next + W_l @ W_l.T)[-1]
        g = _sym_exp(lr / scale * D)
        W_l, W_next = g @ W_l, W_next @ _sym_exp(-lr / scale * D)
    return {"W_l": W_l, "W_next": W_next, "norms": np.array(norms), "imbalance": np.array(imb)}
