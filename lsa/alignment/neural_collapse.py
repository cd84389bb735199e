"""Neural Collapse NC1–NC4 (Papyan, Han, Donoho 2020, arXiv:2008.08186) and Level-2/3 NC scores.

Features ``h_{c,i}`` at one layer, class means ``μ_c``, global mean
``μ_G`` (mean of the class means, as in Papyan et al. for balanced classes; here the mean of class means
for any class sizes), ``M̃ = [μ_c − μ_G]``:

* NC1 ``= tr(Σ_W Σ_B^†) / C``;
* NC2 equinorm ``std_c ‖μ̃_c‖ / mean_c ‖μ̃_c‖``, equiangular ``std_{c≠c'} cos(μ̃_c, μ̃_c')``, max-angle
  ``mean_{c≠c'} |cos + 1/(C−1)|``;
* NC3 ``= ‖Wᵀ/‖W‖_F − M̃/‖M̃‖_F‖_F²``;
* NC4 = fraction of samples whose classifier decision differs from the nearest class mean.
* Level 2 (NC): ``s̄(row W, col M̃)`` with ``k = C − 1``; Level 3 (NC): ``mean_c cos(w_c, μ̃_c)``.
"""

from __future__ import annotations

import numpy as np

from lsa.linalg import as_float64, soft_overlap, top_subspace


def nc_metrics(H, y, W, b=None) -> dict[str, float]:
    """NC1–NC4 and the Level-2/3 NC scores of one layer's features.

    Parameters
    ----------
    H : array_like, shape (N, n)
        Features (e.g. penultimate-layer activations).
    y : array_like of int, shape (N,)
        Labels ``0 … C−1``; every class must occur.
    W : array_like, shape (C, n)
        Classifier weights reading ``H``.
    b : array_like, shape (C,), optional
        Classifier bias (used by NC4 only).

    Returns
    -------
    dict
        ``nc1``, ``nc2_equinorm``, ``nc2_equiangular``, ``nc2_maxangle``, ``nc3``, ``nc4``,
        ``level2_nc`` (soft overlap, chance ``(C−1)/n``), ``level2_nc_chance`` and ``level3_nc``.
    """
    H, W = as_float64(H), as_float64(W)
    y = np.asarray(y.detach().cpu() if hasattr(y, "detach") else y).astype(int)
    if H.ndim != 2 or y.shape != (H.shape[0],):
        raise ValueError(f"H must be N×n and y length N, got {H.shape} and {y.shape}")
    C = int(y.max()) + 1 if y.size else 0
    if C < 2 or np.any(np.bincount(y, minlength=C) == 0):
        raise ValueError(f"labels must cover 0..C-1 with C >= 2, got counts {np.bincount(y).tolist()}")
    if W.shape != (C, H.shape[1]):
        raise ValueError(f"classifier W must be C×n = {(C, H.shape[1])}, got {W.shape}")
    N, n = H.shape
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    mu_G = mu.mean(0)
    Mt = (mu - mu_G).T  # n × C
    Z = H - mu[y]
    Sigma_W = Z.T @ Z / N
    Sigma_B = Mt @ Mt.T / C
    nc1 = float(np.trace(Sigma_W @ np.linalg.pinv(Sigma_B, rcond=1e-10, hermitian=True)) / C)
    norms = np.linalg.norm(Mt, axis=0)
    cos = (Mt.T @ Mt) / np.outer(norms, norms)
    off = cos[~np.eye(C, dtype=bool)]
    nc3 = float(np.sum((W.T / np.linalg.norm(W) - Mt / np.linalg.norm(Mt)) ** 2))
    logits = H @ W.T + (0 if b is None else as_float64(b))
    dist = ((H[:, None, :] - mu[None]) ** 2).sum(-1)
    nc4 = float(np.mean(np.argmax(logits, 1) != np.argmin(dist, 1)))
    Wr, _ = top_subspace(W, side="right", k=C - 1)
    Mb, _ = top_subspace(Mt, side="left", k=C - 1)
    wn = np.linalg.norm(W, axis=1)
    level3 = float(np.mean(np.sum(W.T * Mt, 0) / (wn * norms)))
    return {
        "nc1": nc1,
        "nc2_equinorm": float(norms.std() / norms.mean()),
        "nc2_equiangular": float(off.std()),
        "nc2_maxangle": float(np.mean(np.abs(off + 1.0 / (C - 1)))),
        "nc3": nc3,
        "nc4": nc4,
        "level2_nc": soft_overlap(Wr, Mb),
        "level2_nc_chance": (C - 1) / n,
        "level3_nc": level3,
    }
