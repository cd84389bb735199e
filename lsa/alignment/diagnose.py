"""``diagnose(model)``: per-layer, weight-only alignment diagnostics as a tidy table (no forward pass).

Supported: :class:`lsa.models.mlp.MLP`, :class:`lsa.models.resnet.ResNet`, ``nn.Sequential`` stacks of
``Linear``/``Conv2d`` with elementwise activations, and BERT-, GPT-2- and LLaMA-style ``transformers``
models. Per adjacent pair: imbalance (total / diag / off-diag / relative), commutator magnitude with its
rotation-null mean, sd and z-score, Level-2 (soft overlap, ``d_τ``) and Level-3 (order-matched, Hungarian)
scores and the stratum defects. Per transformer block additionally: OV and QK commutators per head (with
z-scores), MLP-pair scores, within-layer head overlaps (Q, K, V read; O write), the cross-layer head
write → read overlap, and the share of block ``l+1``'s read matrices (Q, K, V, MLP input) lying on block
``l``'s MLP write subspace, each with its chance level.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from torch import nn

from lsa.alignment.heads import (
    KINDS,
    cross_overlap_means,
    head_commutator_pairs,
    layer_head_bases,
    mean_offdiag,
    transformer_blocks,
    transformer_layout,
    within_overlaps,
)
from lsa.alignment.imbalance import imbalance_norms
from lsa.alignment.levels import gram_factors, level_scores, level_scores_gram, outer_gram_eig
from lsa.alignment.nulls import gram_spectra, rotation_null_many, rotation_null_spectra
from lsa.linalg import as_float64, effective_rank

COLUMNS = ["layer", "pair", "kind", "head", "metric", "value"]
ELEMENTWISE = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.Tanh,
    nn.GELU,
    nn.SiLU,
    nn.Sigmoid,
    nn.Identity,
    nn.Dropout,
    nn.Flatten,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.LayerNorm,
    nn.AdaptiveAvgPool2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.ELU,
    nn.Softplus,
)


def conv_as_write(W) -> np.ndarray:
    """Conv weight ``(C_out, C_in, kh, kw)`` → write matrix ``(C_out, C_in·kh·kw)``."""
    W = as_float64(W)
    return W.reshape(W.shape[0], -1) if W.ndim == 4 else W


def conv_as_read(W) -> np.ndarray:
    """Conv weight ``(C_out, C_in, kh, kw)`` → read matrix ``(C_out·kh·kw, C_in)``."""
    W = as_float64(W)
    return W.transpose(0, 2, 3, 1).reshape(-1, W.shape[1]) if W.ndim == 4 else W


def weight_pairs(model) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """``(name, kind, W_l, W_next)`` for MLPs, ResNets and Sequential stacks; raises on unmappable modules."""
    from lsa.models.mlp import MLP
    from lsa.models.resnet import ResNet

    if isinstance(model, MLP):
        W = [as_float64(w) for w in model.weights()]
        return [(f"W{i + 1}-W{i + 2}", "linear", W[i], W[i + 1]) for i in range(len(W) - 1)]
    if isinstance(model, ResNet):
        out = []
        blocks = list(model.blocks)
        for i, b in enumerate(blocks):
            out.append((f"block{i}.conv1-conv2", "conv", conv_as_write(b.conv1.weight), conv_as_read(b.conv2.weight)))
        out.append(
            (
                f"block{len(blocks) - 1}.conv2-fc",
                "conv-fc",
                conv_as_write(blocks[-1].conv2.weight),
                as_float64(model.fc.weight),
            )
        )
        return out
    layers = []
    for name, mod in model.named_modules():
        if any(True for _ in mod.children()):
            continue  # containers
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            layers.append((name, mod))
        elif not isinstance(mod, ELEMENTWISE):
            raise ValueError(
                f"cannot map module {name!r} ({type(mod).__name__}): diagnose understands lsa MLP/"
                f"ResNet, Linear/Conv2d stacks with elementwise activations, and BERT, GPT-2 and "
                f"LLaMA transformers"
            )
    if len(layers) < 2:
        raise ValueError(
            f"cannot map module {type(model).__name__}: found {len(layers)} Linear/Conv2d layers, "
            f"need at least two adjacent ones"
        )
    out = []
    for (n1, m1), (n2, m2) in zip(layers, layers[1:]):
        W1 = conv_as_write(m1.weight) if isinstance(m1, nn.Conv2d) else as_float64(m1.weight)
        W2 = conv_as_read(m2.weight) if isinstance(m2, nn.Conv2d) else as_float64(m2.weight)
        if W2.shape[1] != W1.shape[0]:
            raise ValueError(
                f"cannot map modules {n1!r} → {n2!r}: {n2} reads {W2.shape[1]} features but {n1} "
                f"writes {W1.shape[0]} (a reshape between them is not a supported adjacency)"
            )
        out.append((f"{n1}-{n2}", "conv" if isinstance(m1, nn.Conv2d) else "linear", W1, W2))
    return out


def _pair_rows(layer, name, kind, W1, W2, null_draws, seed, energy, wide_null_draws=4, wide_width=1024, S_eig=None):
    rows = []
    wide = W1.shape[0] > max(W1.shape[1], W2.shape[0])
    if wide:
        f = gram_factors(W1, W2, S_eig)
        sc = level_scores_gram(W1, W2, energy=energy, factors=f)
        p, q = f["s_next"] ** 2, f["s_l"] ** 2
        p, q, n = p[p > 1e-12 * p[0]], q[q > 1e-12 * q[0]], f["n"]
        # imbalance norms from the small Grams: ‖Δ‖² = ‖S‖² + ‖R‖² − 2‖M‖²; diag needs column norms
        tot = float(np.sqrt(max(np.sum(f["S"] ** 2) + np.sum(f["R"] ** 2) - 2 * np.sum(f["M"] ** 2), 0)))
        dg = np.sum(W2**2, 0) - np.sum(W1**2, 1)
        nd = float(np.linalg.norm(dg))
        den = float(np.linalg.norm(f["S"]) + np.linalg.norm(f["R"]))
        imb = {
            "total": tot,
            "diag": nd,
            "offdiag": float(np.sqrt(max(tot**2 - nd**2, 0))),
            "relative": tot / den if den > 0 else 0.0,
        }
    else:
        sc = level_scores(W1, W2, energy=energy)
        p, q, n = gram_spectra(W1, W2)
        imb = imbalance_norms(W1, W2)
    for k, v in imb.items():
        rows.append((layer, name, kind, -1, f"imbalance_{k}", v))
    for k, v in sc.items():
        rows.append((layer, name, kind, -1, k, float(v)))
    draws = null_draws if n <= wide_width else min(null_draws, wide_null_draws)
    if draws:
        null = rotation_null_spectra(p, q, n, draws, seed, np.float64 if n <= wide_width else np.float32)
        z = (sc["commutator"] - null["mean"]) / null["sd"] if null["sd"] > 0 else np.nan
        rows += [
            (layer, name, kind, -1, "commutator_null_mean", null["mean"]),
            (layer, name, kind, -1, "commutator_null_sd", null["sd"]),
            (layer, name, kind, -1, "commutator_z", float(z)),
            (layer, name, kind, -1, "commutator_null_draws", float(draws)),
        ]
    return rows


def _small_pair(W1, W2):
    """Commutator and Gram spectra of a pair with a small hidden space (one attention head)."""
    P, Q = W2.T @ W2, W1 @ W1.T
    nP, nQ = np.linalg.norm(P), np.linalg.norm(Q)
    PQ = P @ Q
    c = float(np.linalg.norm(PQ - PQ.T) / (nP * nQ)) if nP > 0 and nQ > 0 else 0.0
    p, q = np.linalg.eigvalsh(P), np.linalg.eigvalsh(Q)
    return c, p[p > 1e-12 * max(p.max(), 1e-300)], q[q > 1e-12 * max(q.max(), 1e-300)]


def _head_layer_rows(l, blk, bases, null_draws, seed):
    """Within-layer head overlaps and per-head OV/QK commutators (with nulls) of block ``l``."""
    rows = [
        (l, f"heads.{kind}", "head_overlap", -1, "within_mean", mean_offdiag(M))
        for kind, M in within_overlaps(bases, blk.d_head).items()
    ]
    rows.append((l, "heads", "head_overlap", -1, "chance", blk.d_head / blk.d_model))
    for pk, pairs in head_commutator_pairs(blk).items():
        small = [_small_pair(a, b) for a, b in pairs]
        nulls = (
            rotation_null_many([(p, q) for _, p, q in small], blk.d_head, null_draws, seed + l)
            if null_draws
            else [None] * len(pairs)
        )
        for h, ((c, _, _), nl) in enumerate(zip(small, nulls)):
            rows.append((l, pk, pk, h, "commutator", c))
            if nl is not None:
                rows.append((l, pk, pk, h, "commutator_z", (c - nl["mean"]) / nl["sd"] if nl["sd"] > 0 else np.nan))
    return rows


def _write_basis(S_eig, energy: float) -> np.ndarray:
    """Top left singular vectors of a write matrix at ``energy``, from the eigen-pairs of ``W Wᵀ``."""
    _, w, U = S_eig
    return U[:, : max(effective_rank(np.sqrt(w), energy), 1)]


def mlp_write_read_energy(U_write, read) -> float:
    """Share of a read matrix's energy on a write subspace: ``‖R U‖_F² / ‖R‖_F²`` (chance ``k / d``).

    ``U_write`` (``d × k``, orthonormal) spans block ``l``'s MLP write subspace; ``read`` (``m × d``) is a
    read matrix of block ``l + 1`` (``W_Q``, ``W_K``, ``W_V`` or an MLP input). For a read matrix whose rows
    are isotropic the share is ``k / d``.
    """
    tot = float(np.sum(read**2))
    return float(np.sum((read @ U_write) ** 2)) / tot if tot > 0 else 0.0


def _cross_rows(l, blk, nxt, bases_l, bases_next, U_write):
    """Block ``l``'s head writes vs block ``l+1``'s head reads, and its MLP write vs ``l+1``'s reads."""
    rows = []
    if bases_l is not None:
        rows += [
            (l, f"o->{kind}(next)", "head_overlap", -1, "cross_mean", v)
            for kind, v in cross_overlap_means(bases_l, bases_next, blk.d_head).items()
        ]
    if U_write is not None:
        reads = {"q": nxt.Wq, "k": nxt.Wk, "v": nxt.Wv, **{f"mlp.{n}": W for n, W in nxt.mlp_in.items()}}
        for kind, R in reads.items():
            rows.append(
                (
                    l,
                    f"mlp->{kind}(next)",
                    "mlp_write_read",
                    -1,
                    "read_energy_on_write",
                    mlp_write_read_energy(U_write, R),
                )
            )
        rows.append((l, "mlp->(next)", "mlp_write_read", -1, "chance", U_write.shape[1] / U_write.shape[0]))
    return rows


def _map(fn, items, n_jobs):
    """``[fn(*it) for it in items]`` on ``n_jobs`` threads (NumPy/LAPACK release the GIL), order kept."""
    if n_jobs == 1 or len(items) < 2:
        return [fn(*it) for it in items]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(lambda it: fn(*it), items))


def _n_jobs(n_jobs) -> int:
    if n_jobs is None:
        return 1
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int, -1 (all usable cores) or None (1), got {n_jobs!r}")
    return len(os.sched_getaffinity(0)) if n_jobs == -1 else n_jobs


def diagnose(
    model,
    null_draws: int = 20,
    seed: int = 0,
    energy: float = 0.9,
    fold_ln: bool = True,
    heads: bool = True,
    wide_null_draws: int = 4,
    wide_width: int = 1024,
    n_jobs: int | None = -1,
) -> pd.DataFrame:
    """Weight-only diagnostics of every adjacent pair of ``model``, as a tidy table.

    Parameters
    ----------
    model : torch.nn.Module
        An lsa ``MLP`` or ``ResNet``, a ``Linear``/``Conv2d`` stack, or a BERT/GPT-2/LLaMA ``transformers``
        model (any task wrapper).
    null_draws : int
        Haar rotations of the commutator null per pair (0 skips the null and the z-scores).
    seed : int
        Seed of the null rotations.
    energy : float
        Singular-energy threshold of the effective subspace size.
    fold_ln : bool
        Fold LayerNorm/RMSNorm gains into the transformer read matrices.
    heads : bool
        Include per-head overlaps and OV/QK commutators (transformers).
    wide_null_draws, wide_width : int
        Pairs whose hidden width exceeds ``wide_width`` (transformer MLPs) use at most ``wide_null_draws``
        single-precision null draws: each costs ``O(r³)`` with ``r`` up to the model width, and the null
        of such wide pairs is tightly concentrated. The row ``commutator_null_draws`` records the count.
    n_jobs : int or None
        Threads over layers (``-1``: every usable core; ``None`` or ``1``: serial). With more than one,
        BLAS runs one thread per worker for the call, so the cores are not oversubscribed. The table does
        not depend on ``n_jobs`` (each layer's null has its own seed).

    Returns
    -------
    pandas.DataFrame
        Columns ``layer, pair, kind, head, metric, value`` (``head = -1`` for whole-pair rows). Pair kinds:
        ``linear``, ``conv``, ``conv-fc``, ``mlp`` (transformer MLP), ``ov``, ``qk``, ``head_overlap``,
        ``mlp_write_read`` (metric ``read_energy_on_write``, see :func:`mlp_write_read_energy`, and ``chance``).

    Raises
    ------
    ValueError
        Before any work, naming the module that could not be mapped.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"diagnose expects a torch.nn.Module, got {type(model).__name__}")
    if null_draws < 0 or null_draws == 1:
        raise ValueError(f"null_draws must be 0 (no null) or at least 2, got {null_draws}")
    if not 0 < energy <= 1:
        raise ValueError(f"energy must lie in (0, 1], got {energy}")
    jobs = _n_jobs(n_jobs)
    with threadpool_limits(1, user_api="blas") if jobs > 1 else nullcontext():
        rows = _diagnose_rows(model, null_draws, seed, energy, fold_ln, heads, wide_null_draws, wide_width, jobs)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["value"] = df["value"].astype(float)
    return df


def _diagnose_rows(model, null_draws, seed, energy, fold_ln, heads, wide_null_draws, wide_width, jobs):
    if transformer_layout(model) is not None or hasattr(model, "config"):
        _, blocks = transformer_blocks(model, fold_ln=fold_ln)

        def layer(blk):
            rows = []
            S_eig = outer_gram_eig(blk.mlp_out) if blk.mlp_out is not None else None
            for name, W_in in blk.mlp_in.items():
                rows += _pair_rows(
                    blk.index,
                    f"mlp.{name}-out",
                    "mlp",
                    W_in,
                    blk.mlp_out,
                    null_draws,
                    seed + blk.index,
                    energy,
                    wide_null_draws,
                    wide_width,
                    S_eig,
                )
            U_write = _write_basis(S_eig, energy) if S_eig is not None else None
            if not heads:
                return rows, None, U_write
            bases = layer_head_bases(blk)
            return rows + _head_layer_rows(blk.index, blk, bases, null_draws, seed), bases, U_write

        done = _map(layer, [(blk,) for blk in blocks], jobs)
        rows = [r for rs, _, _ in done for r in rs]
        rows += [
            r
            for rs in _map(
                _cross_rows,
                [(l, blocks[l], blocks[l + 1], done[l][1], done[l + 1][1], done[l][2]) for l in range(len(blocks) - 1)],
                jobs,
            )
            for r in rs
        ]
        return rows
    pairs = weight_pairs(model)
    return [
        r
        for rs in _map(
            lambda i, p: _pair_rows(
                i, p[0], p[1], p[2], p[3], null_draws, seed + i, energy, wide_null_draws, wide_width
            ),
            list(enumerate(pairs)),
            jobs,
        )
        for r in rs
    ]


def per_layer_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per transformer block from a :func:`diagnose` table.

    Columns: ``ov_comm``, ``qk_comm`` (mean over heads), ``ov_z``, ``qk_z`` (mean z over heads), ``mlp_comm``,
    ``mlp_z``, ``mlp_level2``, ``mlp_level2_chance``, ``mlp_level3``, ``overlap_q/k/v/o`` (within-layer
    means) and ``chance``.
    """
    out = {}
    for kind in ("ov", "qk"):
        sub = df[df.kind == kind]
        out[f"{kind}_comm"] = sub[sub.metric == "commutator"].groupby("layer").value.mean()
        out[f"{kind}_z"] = sub[sub.metric == "commutator_z"].groupby("layer").value.mean()
    mlp = df[(df.kind == "mlp") & df.pair.str.startswith(("mlp.in", "mlp.up"))]
    for col, metric in (
        ("mlp_comm", "commutator"),
        ("mlp_z", "commutator_z"),
        ("mlp_level2", "level2_soft"),
        ("mlp_level2_chance", "level2_chance"),
        ("mlp_level3", "level3_hungarian"),
    ):
        out[col] = mlp[mlp.metric == metric].groupby("layer").value.mean()
    ho = df[df.kind == "head_overlap"]
    for kind in KINDS:
        out[f"overlap_{kind}"] = (
            ho[(ho.pair == f"heads.{kind}") & (ho.metric == "within_mean")].set_index("layer").value
        )
    out["chance"] = ho[ho.metric == "chance"].set_index("layer").value
    return pd.DataFrame(out).rename_axis("layer").reset_index()
