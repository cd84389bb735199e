"""The Physical Alignment Matrix: row groups, block amplitudes, active supports, core/overlap/noise masks,
the orthogonal decomposition, the pairwise incidence and co-activation graphs, SRS sets, hub columns and
block-energy heatmaps (GSA reconstruction: PAM and its graphs; protocol step P8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsa.gsa.config import GSAConfig


def _check_matrix(P, name="P") -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or 0 in P.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name} contains NaN or inf entries")
    return P


def row_groups_argmax(P, null_tol: float = 1e-8, col_clusters=None) -> np.ndarray:
    """Dominant-mode assignment ``g(c) = argmax_j abs(P_cj) / c_j`` (PAM, rule 1); -1 marks the null group.

    Groups are relabelled 0..G-1 in order of their mode index. With ``col_clusters`` (degenerate modes,
    :func:`column_blocks`) the argmax runs over column blocks ``J`` with ``||P[c, J]|| / c_J``, which a
    rotation inside a cluster leaves unchanged.
    """
    P = _check_matrix(P)
    if col_clusters is not None:
        P = np.sqrt(_block_sum(P**2, column_blocks(P.shape[1], col_clusters)))
    c = np.linalg.norm(P, axis=0)
    rel = np.abs(P) / np.where(c > 0, c, 1.0)
    g = np.argmax(rel, axis=1)
    rn = np.linalg.norm(P, axis=1)
    g[rn < null_tol * rn.max()] = -1
    uniq = np.unique(g[g >= 0])
    remap = {int(u): i for i, u in enumerate(uniq)}
    return np.array([remap.get(int(x), -1) for x in g])


def row_groups_blocks(n_rows: int, block: int) -> np.ndarray:
    """Architecture row groups: contiguous blocks of ``block`` channels (PAM, rule 2)."""
    if n_rows < 1 or block < 1:
        raise ValueError(f"need n_rows >= 1 and block >= 1, got {n_rows}, {block}")
    return np.arange(n_rows) // block


def row_groups_spectral(P, m: int, seed: int = 0, null_tol: float = 1e-8) -> np.ndarray:
    """Row groups by spectral clustering of the rows of ``P ⊙ P`` into ``m`` clusters (PAM, rule 3).

    Each row's energy profile over the columns, ``P[c, :] ** 2``, is compared with every other by cosine
    similarity. The profiles are non-negative, so the affinity lies in [0, 1]; it does not depend on the scale
    of ``P`` or of a row, only on where a row's energy sits. scikit-learn's ``SpectralClustering`` runs on
    this precomputed affinity, with ``assign_labels="cluster_qr"`` (no k-means restarts). Rows with norm
    below ``null_tol`` times the largest row norm go to the null group -1, as in :func:`row_groups_argmax`,
    and are left out of the clustering.

    Parameters
    ----------
    P : ndarray, shape (n_rows, n_cols)
        The PAM (amplitudes).
    m : int
        Number of clusters, 1 <= m <= number of non-null rows.
    seed : int
        Seed of the eigensolver's start vector.
    null_tol : float
        Relative row norm below which a row is null.

    Returns
    -------
    ndarray of int, shape (n_rows,)
        Labels 0..m-1 in order of first appearance along the rows; -1 for null rows.
    """
    P = _check_matrix(P)
    rn = np.linalg.norm(P, axis=1)
    valid = rn >= null_tol * rn.max() if rn.max() > 0 else np.zeros(P.shape[0], dtype=bool)
    n_valid = int(valid.sum())
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n_valid:
        raise ValueError(
            f"m (number of row clusters) must be an integer in [1, {n_valid}] (the non-null rows of P), got {m!r}"
        )
    E = P[valid] ** 2
    E = E / np.linalg.norm(E, axis=1, keepdims=True)
    if m == 1:
        lab = np.zeros(n_valid, dtype=int)
    else:
        import warnings

        from sklearn.cluster import SpectralClustering

        aff = np.clip(E @ E.T, 0.0, 1.0)
        with warnings.catch_warnings():  # a planted block structure gives a disconnected graph: expected here
            warnings.filterwarnings("ignore", message="Graph is not fully connected")
            lab = SpectralClustering(
                n_clusters=int(m), affinity="precomputed", assign_labels="cluster_qr", random_state=seed
            ).fit_predict(aff)
    _, first = np.unique(lab, return_index=True)
    remap = {int(lab[i]): r for r, i in enumerate(np.sort(first))}
    out = np.full(P.shape[0], -1)
    out[valid] = [remap[int(x)] for x in lab]
    return out


def row_groups(P, cfg: GSAConfig = GSAConfig()) -> np.ndarray:
    """Row groups of a PAM by the rule ``cfg.row_groups``: "argmax" (:func:`row_groups_argmax`), "blocks"
    (:func:`row_groups_blocks`) or "spectral" (:func:`row_groups_spectral` with as many clusters as columns,
    the bound of the argmax rule, capped at the number of non-null rows).
    """
    P = _check_matrix(P)
    if cfg.row_groups == "argmax":
        return row_groups_argmax(P)
    if cfg.row_groups == "blocks":
        return row_groups_blocks(P.shape[0], cfg.block_size)
    rn = np.linalg.norm(P, axis=1)
    n_valid = int(np.sum(rn >= 1e-8 * rn.max())) if rn.max() > 0 else 0
    return row_groups_spectral(P, max(1, min(P.shape[1], n_valid)), cfg.seed)


@dataclass
class PAMStructure:
    """Every discrete structure of a PAM at fixed row groups, plus the amplitudes they come from."""

    groups: np.ndarray  # (m,) row-group label per row, -1 = null
    a: np.ndarray  # (G, n) block amplitudes a_{g,j} (n = number of column blocks)
    c: np.ndarray  # (n,) column(-block) norms (over non-null rows)
    support: np.ndarray  # (G, n) bool, g in S_j
    omega: np.ndarray  # (n, n) profile cosines
    edges: np.ndarray  # (n, n) bool, pairwise incidence graph (upper triangle used)
    coact: np.ndarray  # (G, G) bool, co-activation graph on row groups
    srs: list  # SRS_g = columns supported by g alone
    hubs: list  # columns with |S_j| >= h_hub (when G >= 3)
    masks: dict  # "core" / "overlap" / "noise": (m, n) bool
    eta: float  # ||P ⊙ M_noise||_F
    fro: float  # ||P||_F (non-null rows)
    N: bool  # noise bound eta <= nu ||P||_F
    col_block: np.ndarray | None = None  # (n_cols,) block index of each column; None = one block per column


def column_blocks(n_cols: int, clusters=None) -> np.ndarray:
    """Block index of each PAM column from a partition into degenerate-mode clusters.

    ``clusters`` is a list of index arrays covering ``range(n_cols)`` exactly once, in order (as returned
    by :func:`lsa.gsa.spectra.degenerate_clusters`); ``None`` gives one block per column.
    """
    if clusters is None:
        return np.arange(n_cols)
    flat = np.concatenate([np.asarray(c, dtype=int).ravel() for c in clusters]) if len(clusters) else np.array([], int)
    if not np.array_equal(flat, np.arange(n_cols)) or any(len(c) == 0 for c in clusters):
        raise ValueError(
            f"column clusters must split the {n_cols} columns into consecutive, non-empty index "
            f"blocks in order, got {[list(map(int, c)) for c in clusters]}"
        )
    out = np.empty(n_cols, dtype=int)
    for b, c in enumerate(clusters):
        out[np.asarray(c, dtype=int)] = b
    return out


def _block_sum(E, blk) -> np.ndarray:
    """Sum the columns of ``E`` (rows x columns) within each column block (``blk`` from :func:`column_blocks`)."""
    out = np.zeros((E.shape[0], int(blk.max()) + 1 if blk.size else 0))
    np.add.at(out.T, blk, E.T)
    return out


def amplitudes(P, groups, col_clusters=None) -> tuple[np.ndarray, np.ndarray]:
    """Block amplitudes a_{g,j} = ||P[G_g, j]||_2 and column norms c_j over the non-null rows.

    With ``col_clusters`` (degenerate source modes), ``j`` runs over column blocks ``J``:
    ``a_{g,J} = ||P[G_g, J]||_F`` and ``c_J = ||P[:, J]||_F``, which do not change when the singular basis
    is rotated inside a degenerate cluster (a rotation of the block's columns).
    """
    P = _check_matrix(P)
    groups = np.asarray(groups)
    if groups.shape != (P.shape[0],):
        raise ValueError(f"row groups must have one label per row ({P.shape[0]}), got shape {groups.shape}")
    blk = column_blocks(P.shape[1], col_clusters)
    G = int(groups.max()) + 1 if np.any(groups >= 0) else 0
    a2 = np.zeros((G, P.shape[1]))
    for g in range(G):
        a2[g] = np.sum(P[groups == g] ** 2, axis=0)
    A2 = _block_sum(a2, blk)
    return np.sqrt(A2), np.sqrt(np.sum(A2, axis=0))


def pam_structure(P, groups, cfg: GSAConfig = GSAConfig(), col_clusters=None) -> PAMStructure:
    """Supports, masks, graphs, SRS sets, hubs and the noise bound of ``P`` at the given (fixed) row groups.

    ``col_clusters`` (optional) merges degenerate source modes into column blocks: supports,
    graphs, SRS sets and hubs are then indexed by block, and the entry masks give every column of a block
    the block's membership. Without it every column is its own block.
    """
    P = _check_matrix(P)
    a, c = amplitudes(P, groups, col_clusters)
    blk = column_blocks(P.shape[1], col_clusters)
    groups = np.asarray(groups)
    G, n = a.shape
    support = a >= cfg.tau * c[None, :]
    support &= c[None, :] > 0
    ahat = a / np.where(c > 0, c, 1.0)
    omega = ahat.T @ ahat
    edges = omega >= cfg.tau2
    coact = (support.astype(int) @ support.T.astype(int)) > 0
    np.fill_diagonal(coact, False)
    size = support.sum(axis=0)
    srs = [[int(j) for j in np.flatnonzero(support[g] & (size == 1))] for g in range(G)]
    hubs = [int(j) for j in np.flatnonzero(size >= cfg.h_hub)] if G >= 3 else []
    valid = groups >= 0
    row_in = np.zeros(P.shape, dtype=bool)
    row_in[valid] = support[groups[valid]][:, blk]
    core = row_in & (size[blk][None, :] == 1)
    ovl = row_in & (size[blk][None, :] >= 2)
    noise = (~row_in) & valid[:, None]
    eta = float(np.linalg.norm(P[noise]))
    fro = float(np.linalg.norm(P[valid]))
    return PAMStructure(
        groups=groups,
        a=a,
        c=c,
        support=support,
        omega=omega,
        edges=edges,
        coact=coact,
        srs=srs,
        hubs=hubs,
        masks={"core": core, "overlap": ovl, "noise": noise},
        eta=eta,
        fro=fro,
        N=bool(eta <= cfg.nu * fro),
        col_block=None if col_clusters is None else blk,
    )


def decompose(P, struct: PAMStructure) -> dict:
    """Orthogonal split P = P_core + P_ovl + P_noise (T3) and the energy fractions f_core, f_ovl, f_noise."""
    P = _check_matrix(P)
    parts = {k: np.where(m, P, 0.0) for k, m in struct.masks.items()}
    tot = sum(float(np.sum(v**2)) for v in parts.values())
    out = dict(parts)
    for k, v in parts.items():
        out[f"f_{k}"] = float(np.sum(v**2)) / tot if tot > 0 else 0.0
    return out


def block_energy(struct: PAMStructure, normalise: str = "column") -> np.ndarray:
    """Block-energy heatmap H_{g,j} = a_{g,j}^2 / c_j^2 (``"column"``) or / ||P||_F^2 (``"global"``)."""
    if normalise == "column":
        return struct.a**2 / np.where(struct.c > 0, struct.c**2, 1.0)[None, :]
    if normalise == "global":
        return struct.a**2 / max(struct.fro**2, 1e-300)
    raise ValueError(f"normalise must be 'column' or 'global', got {normalise!r}")


def structure_diff(s1: PAMStructure, s2: PAMStructure) -> dict:
    """Which discrete structures differ between two PAMs with the same row groups (empty dict = identical)."""
    if not np.array_equal(s1.groups, s2.groups):
        raise ValueError("structures must be compared at the same (fixed) row groups")
    b1, b2 = (np.arange(s.masks["core"].shape[1]) if s.col_block is None else s.col_block for s in (s1, s2))
    if not np.array_equal(b1, b2):
        raise ValueError("structures must be compared with the same column blocks")
    iu = np.triu_indices(s1.c.size, 1)
    checks = {
        "support": np.array_equal(s1.support, s2.support),
        "edges": np.array_equal(s1.edges[iu], s2.edges[iu]),
        "coact": np.array_equal(s1.coact, s2.coact),
        "srs": s1.srs == s2.srs,
        "hubs": s1.hubs == s2.hubs,
        "masks": all(np.array_equal(s1.masks[k], s2.masks[k]) for k in s1.masks),
        "N": s1.N == s2.N,
    }
    return {k: True for k, ok in checks.items() if not ok}


def summary(struct: PAMStructure) -> dict:
    """JSON-friendly summary: group count, support sizes, SRS sizes, hubs, edge count, N."""
    iu = np.triu_indices(struct.c.size, 1)
    return {
        "n_groups": int(struct.a.shape[0]),
        "support_sizes": struct.support.sum(0).tolist(),
        "srs_sizes": [len(s) for s in struct.srs],
        "hubs": list(struct.hubs),
        "n_edges": int(struct.edges[iu].sum()),
        "eta": struct.eta,
        "fro": struct.fro,
        "N": struct.N,
    }
