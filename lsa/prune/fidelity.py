"""Fidelity of a pruned sentence encoder: embedding cosine to the dense model and retrieval accuracy.

Applied to the real MiniLM-L6 (:mod:`lsa.models.minilm`) on held-out sentences of the text snapshot.
"""

from __future__ import annotations

import random

import torch


def sentence_pairs(sents_by_doc: list[list[str]], n_pairs: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Adjacent-sentence pairs ``(s_k, s_{k+1})`` from documents, at most one pair per position.

    Parameters
    ----------
    sents_by_doc : list of list of str
        Sentences of each document, in reading order.
    n_pairs : int
        How many pairs to draw (fewer if fewer exist).
    seed : int
        Sampling seed.

    Returns
    -------
    queries, keys : list of str
        ``keys[i]`` is the sentence that follows ``queries[i]``.
    """
    pairs = [(s[k], s[k + 1]) for s in sents_by_doc for k in range(0, len(s) - 1, 2)]
    rng = random.Random(seed)
    rng.shuffle(pairs)
    pairs = pairs[:n_pairs]
    if len(pairs) < 2:
        raise ValueError("need at least two adjacent-sentence pairs for retrieval")
    return [p[0] for p in pairs], [p[1] for p in pairs]


def mean_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean row-wise cosine similarity of two ``(n, d)`` embedding matrices (float64)."""
    if a.shape != b.shape:
        raise ValueError(f"embedding shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    a, b = a.to(torch.float64), b.to(torch.float64)
    return float(torch.nn.functional.cosine_similarity(a, b, dim=1).mean())


def retrieval_accuracy(queries: torch.Tensor, keys: torch.Tensor) -> float:
    """Top-1 accuracy of retrieving ``keys[i]`` for ``queries[i]`` by cosine among all keys."""
    if queries.shape != keys.shape:
        raise ValueError(f"query and key shapes differ: {tuple(queries.shape)} vs {tuple(keys.shape)}")
    q = torch.nn.functional.normalize(queries.to(torch.float64), dim=1)
    k = torch.nn.functional.normalize(keys.to(torch.float64), dim=1)
    pred = (q @ k.T).argmax(1)
    return float((pred == torch.arange(len(q))).double().mean())


def encoder_calibration(tokenizer, texts: list[str], nsamples: int, max_length: int = 128) -> list[dict]:
    """Calibration inputs for an encoder: consecutive texts packed into unpadded windows of ``max_length``
    tokens (no padding tokens enter the statistics)."""
    out, buf = [], []
    for t in texts:
        buf.append(t)
        enc = tokenizer(" ".join(buf), truncation=True, max_length=max_length, return_tensors="pt")
        if enc["input_ids"].shape[1] >= max_length:
            out.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
            buf = []
            if len(out) == nsamples:
                break
    if not out:
        raise ValueError(f"calibration text is shorter than one window of {max_length} tokens")
    return out
