"""SparseGPT (Frantar & Alistarh 2023): mask selection with OBS weight reconstruction.

A transcription of ``SparseGPT.fasterprune`` (IST-DASLab/sparsegpt ``sparsegpt.py``; spec §2.3): dead
inputs zeroed, 1 % dampening, Cholesky of ``H⁻¹`` (upper), columns in blocks of 128 with adaptive mask
selection per block (unstructured) or per group of M (N:M), OBS update inside a block and the lazy batched
update after it. Used by the chapters pruning_perplexity and pruning_cost (Part III).
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

    Returns
    -------
    new_weight : (d_out, d_in) float32 tensor
        Masked and updated weight.
    keep : (d_out, d_in) bool tensor
        The mask (``True`` = kept).

    Used by the chapters pruning_perplexity and pruning_cost (Part III).
    """
    d_out, d_in = weight.shape
    if gram.shape != (d_in, d_in):
        raise ValueError(f"gram must have shape ({d_in}, {d_in}), got {tuple(gram.shape)}")
    if not (0 < percdamp) or blocksize < 1:
        raise ValueError(f"percdamp must be > 0 and blocksize >= 1, got {percdamp}, {blocksize}")
    if pattern.is_nm and blocksize % pattern.m:
        raise ValueError(f"blocksize {blocksize} must be a multiple of M = {pattern.m}")
    W = weight.detach().float().contiguous().clone()
    H = gram.detach().float().contiguous().clone()
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
