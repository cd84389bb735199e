"""SparseGPT (Frantar & Alistarh 2023): mask selection with OBS weight reconstruction.

A transcription of ``SparseGPT.fasterprune`` (IST-DASLab/sparsegpt ``sparsegpt.py``): dead
inputs zeroed, 1 % dampening, Cholesky of ``H⁻¹`` (upper), columns in blocks of 128 with adaptive mask
selection per block (unstructured) or per group of M (N:M), OBS update inside a block and the lazy batched
update after it. :func:`sparsegpt_unblocked` is an independent, unblocked form to check it against.
"""

from __future__ import annotations

import torch

from lsa.prune.masks import Pattern


def sparsegpt_prune(
    weight: torch.Tensor,
    gram: torch.Tensor,
    pattern: Pattern,
    blocksize: int = 128,
    percdamp: float = 0.01,
    exact_count: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prune and reconstruct one layer with SparseGPT.

    Parameters
    ----------
    weight : (d_out, d_in) tensor
        Dense weight (not modified).
    gram : (d_in, d_in) tensor
        ``Σ_t x_t x_tᵀ`` of the layer inputs (any positive multiple; the dampening is relative).
    pattern : Pattern
        Unstructured sparsity or N:M (N zeros per M).
    blocksize : int
        Column block size (128 in the reference).
    percdamp : float
        Dampening as a fraction of ``mean(diag H)`` (0.01 in the reference).
    exact_count : bool
        ``True``: prune exactly ``int(rows·block·s)`` entries per column block (stable sort). ``False``:
        the reference's ``≤ sorted[k]`` threshold, which prunes one more (and more on ties).
    dtype : torch.dtype
        Working precision (float32 as in the reference; float64 for checks against :func:`sparsegpt_unblocked`).

    Returns
    -------
    new_weight : (d_out, d_in) tensor of ``dtype``
        Masked and updated weight.
    keep : (d_out, d_in) bool tensor
        The mask (``True`` = kept).
    """
    d_out, d_in = weight.shape
    if gram.shape != (d_in, d_in):
        raise ValueError(f"gram must have shape ({d_in}, {d_in}), got {tuple(gram.shape)}")
    if not (0 < percdamp) or blocksize < 1:
        raise ValueError(f"percdamp must be > 0 and blocksize >= 1, got {percdamp}, {blocksize}")
    if pattern.is_nm and blocksize % pattern.m:
        raise ValueError(f"blocksize {blocksize} must be a multiple of M = {pattern.m}")
    W = weight.detach().to(dtype).contiguous().clone()
    H = gram.detach().to(dtype).contiguous().clone()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    damp = percdamp * torch.mean(torch.diag(H))
    idx = torch.arange(d_in, device=H.device)
    H[idx, idx] += damp
    H = torch.linalg.cholesky(H)
    H = torch.cholesky_inverse(H)
    Hinv = torch.linalg.cholesky(H, upper=True)
    prune = torch.zeros_like(W, dtype=torch.bool)
    for i1 in range(0, d_in, blocksize):
        i2 = min(i1 + blocksize, d_in)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        if not pattern.is_nm:
            tmp = W1**2 / (torch.diag(Hinv1).reshape((1, -1))) ** 2
            k = int(tmp.numel() * pattern.sparsity)
            if exact_count:
                mask1 = torch.zeros_like(W1, dtype=torch.bool)
                if k:
                    mask1.view(-1)[torch.sort(tmp.flatten(), stable=True).indices[:k]] = True
            else:
                thresh = torch.sort(tmp.flatten())[0][k]
                mask1 = tmp <= thresh
        else:
            mask1 = torch.zeros_like(W1, dtype=torch.bool)
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if pattern.is_nm and i % pattern.m == 0:
                tmp = W1[:, i : i + pattern.m] ** 2 / (torch.diag(Hinv1)[i : i + pattern.m].reshape((1, -1))) ** 2
                mask1.scatter_(1, i + torch.topk(tmp, pattern.n, dim=1, largest=False)[1], True)
            q = w.clone()
            q[mask1[:, i]] = 0
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        W[:, i1:i2] = Q1
        prune[:, i1:i2] = mask1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    return W, ~prune


def sparsegpt_unblocked(
    weight: torch.Tensor,
    gram: torch.Tensor,
    pattern: Pattern,
    blocksize: int = 128,
    percdamp: float = 0.01,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """An independent form of SparseGPT to check :func:`sparsegpt_prune` against: the same column order and
    per-block mask selection with the reference's ``≤ sorted[k]`` threshold, but ``H⁻¹`` by a plain inverse and
    each column's OBS update applied at once to *all* later columns (no lazy batching).

    Algebraically equal to :func:`sparsegpt_prune` with ``exact_count=False``; the two differ only by
    floating-point round-off (in float32, round-off can flip a near-tie of the mask selection on an
    ill-conditioned ``H``; compare both in float64). Returns ``(new_weight, keep)`` like it.
    """
    W = weight.detach().clone().to(dtype)
    H = gram.detach().clone().to(dtype)
    d_in = W.shape[1]
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += percdamp * torch.mean(torch.diag(H)) * torch.eye(d_in, device=H.device, dtype=dtype)
    U = torch.linalg.cholesky(torch.linalg.inv(H), upper=True)
    prune = torch.zeros_like(W, dtype=torch.bool)
    for c in range(d_in):
        if c % blocksize == 0 and not pattern.is_nm:
            blk = slice(c, min(c + blocksize, d_in))
            tmp = W[:, blk] ** 2 / torch.diag(U)[blk] ** 2
            prune[:, blk] = tmp <= torch.sort(tmp.flatten())[0][int(tmp.numel() * pattern.sparsity)]
        if pattern.is_nm and c % pattern.m == 0:
            tmp = W[:, c : c + pattern.m] ** 2 / torch.diag(U)[c : c + pattern.m] ** 2
            prune[:, c : c + pattern.m].scatter_(1, torch.topk(tmp, pattern.n, dim=1, largest=False)[1], True)
        q = torch.where(prune[:, c], torch.zeros_like(W[:, c]), W[:, c])
        err = (W[:, c] - q) / U[c, c]
        W[:, c:] -= err[:, None] * U[c, c:][None, :]
        W[:, c] = q
    return W, ~prune
