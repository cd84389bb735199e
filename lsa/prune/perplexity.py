"""Perplexity with the standard protocol and calibration sampling of the baselines' reference code.

Perplexity: tokenise the joined text once, cut ``floor(N / seqlen)`` non-overlapping windows (the remainder
is dropped), per window the mean cross-entropy of positions ``0..L-2`` predicting ``1..L-1``, and
``PPL = exp(mean over windows)``. Calibration: the Wanda/SparseGPT rule — pick a random document until it is
longer than ``seqlen`` tokens, then a random window of it.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F


def windows(ids: torch.Tensor, seqlen: int) -> torch.Tensor:
    """``(n_windows, seqlen)`` non-overlapping windows of a 1-D token tensor (remainder dropped).

    Raises
    ------
    ValueError
        When ``ids`` is not 1-D or is shorter than one window (names both lengths).
    """
    if not isinstance(ids, torch.Tensor) or ids.ndim != 1:
        raise ValueError("token ids must be a 1-D tensor")
    if seqlen < 2:
        raise ValueError(f"seqlen must be >= 2, got {seqlen}")
    n = ids.numel() // seqlen
    if n == 0:
        raise ValueError(f"evaluation text has {ids.numel()} tokens, shorter than one window of seqlen={seqlen}")
    return ids[: n * seqlen].reshape(n, seqlen)


@torch.no_grad()
def perplexity(
    model, ids: torch.Tensor, seqlen: int, batch_size: int = 8, max_windows: int | None = None, progress: bool = False
) -> float:
    """Perplexity of a causal LM over non-overlapping windows of ``ids``.

    Parameters
    ----------
    model : causal LM returning ``.logits`` of shape ``(B, L, V)``
    ids : 1-D LongTensor
        The whole evaluation text, tokenised once.
    seqlen : int
        Window length (2048 at paper scale).
    batch_size : int
        Windows per forward pass (the result does not depend on it beyond round-off).
    max_windows : int, optional
        Evaluate only the first windows (for quick profiles; recorded by the caller).
    progress : bool
        tqdm over batches.
    """
    w = windows(ids, seqlen)
    if max_windows is not None:
        w = w[:max_windows]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    it = range(0, w.shape[0], batch_size)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="perplexity")
    for i in it:
        x = w[i : i + batch_size].to(device)
        logits = model(input_ids=x).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        nll = -logp.gather(-1, x[:, 1:, None]).squeeze(-1)  # (B, L-1)
        total += nll.double().mean(1).sum().item()
        count += x.shape[0]
    model.train(was_training)
    return math.exp(total / count)


@torch.no_grad()
def perplexity_direct(model, ids: torch.Tensor, seqlen: int, max_windows: int | None = None) -> float:
    """Independent check of :func:`perplexity`: a plain loop over windows, one at a time, using
    ``torch.nn.functional.cross_entropy`` on shifted logits and labels (the reference code's arithmetic).
    """
    n = ids.numel() // seqlen
    if max_windows is not None:
        n = min(n, max_windows)
    if n == 0:
        raise ValueError(f"evaluation text has {ids.numel()} tokens, shorter than seqlen={seqlen}")
    device = next(model.parameters()).device
    model.eval()
    nlls = []
    for i in range(n):
        x = ids[i * seqlen : (i + 1) * seqlen].unsqueeze(0).to(device)
        logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits[0, :-1].float(), x[0, 1:])
        nlls.append(loss.float() * seqlen)
    return float(torch.exp(torch.stack(nlls).sum() / (n * seqlen)))


def sample_calibration(
    docs: list, nsamples: int, seqlen: int, seed: int = 0, encode=None, max_failures: int = 10_000
) -> list[dict]:
    """Calibration windows by the Wanda rule: random document with more than ``seqlen`` tokens, random start.

    The random calls are those of the reference ``get_c4`` (``random.seed(seed)``; ``randint`` for the
    document, redrawn until it has more than ``seqlen`` tokens; ``randint(0, len − seqlen − 1)`` for the
    start), so with the same documents and tokeniser the same windows are drawn.

    Parameters
    ----------
    docs : list
        Tokenised documents (1-D LongTensors), or texts when ``encode`` is given (tokenised lazily, as the
        reference does with C4's 356k documents).
    nsamples, seqlen : int
        128 × 2048 at paper scale.
    seed : int
        Seed of ``random.Random`` (0 in the baselines).
    encode : callable, optional
        ``text -> 1-D LongTensor``.
    max_failures : int
        Consecutive too-short draws tolerated before giving up (lazy mode).

    Returns
    -------
    list of dict
        ``{"input_ids": LongTensor(1, seqlen)}`` per sample.

    Raises
    ------
    ValueError
        When no document is longer than ``seqlen`` tokens (calibration text shorter than one window).
    """
    if nsamples < 1 or seqlen < 2:
        raise ValueError(f"need nsamples >= 1 and seqlen >= 2, got {nsamples}, {seqlen}")
    if not docs:
        raise ValueError("calibration needs at least one document, got none")
    if encode is None:
        longest = max(d.numel() for d in docs)
        if longest <= seqlen:
            raise ValueError(
                f"calibration text is shorter than one window: no document has more than "
                f"seqlen={seqlen} tokens (longest: {longest})"
            )
    rng = random.Random(seed)
    cache: dict[int, torch.Tensor] = {}
    out, failures = [], 0
    while len(out) < nsamples:
        j = rng.randint(0, len(docs) - 1)
        if encode is None:
            d = docs[j]
        else:
            if j not in cache:
                cache[j] = encode(docs[j])
            d = cache[j]
        if d.numel() <= seqlen:
            failures += 1
            if failures > max_failures:
                raise ValueError(
                    f"calibration text is shorter than one window: {max_failures} random "
                    f"documents in a row had at most seqlen={seqlen} tokens"
                )
            continue
        failures = 0
        i = rng.randint(0, d.numel() - seqlen - 1)
        out.append({"input_ids": d[i : i + seqlen].unsqueeze(0).clone()})
    return out
