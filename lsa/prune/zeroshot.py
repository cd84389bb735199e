"""Zero-shot multiple-choice accuracy of a causal LM by likelihood (the ``acc`` of lm-evaluation-harness).

For each item and candidate, the model scores ``context + choice``; the candidate's score is the sum of the
log-probabilities of its own tokens given everything before them. The prediction is the highest score; the
accuracy is reported with a Wilson 95 % interval over items. As in the harness, the candidate's tokens are
those of ``encode(context + choice)`` after the first ``len(encode(context))`` tokens, and a sequence longer
than the window loses tokens on the left of the context.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from lsa.data.zeroshot import ChoiceItem
from lsa.stats import mean_ci, wilson_ci


def _encode_pairs(items: list[ChoiceItem], encode: Callable, seqlen: int) -> list[tuple[torch.Tensor, int]]:
    out = []
    for it in items:
        n_ctx = int(encode(it.context).numel())
        for ch in it.choices:
            ids = encode(it.context + ch).long()
            n_cont = int(ids.numel()) - n_ctx
            if n_cont < 1:
                raise ValueError(f"choice {ch!r} adds no token after its context")
            if n_cont >= seqlen:
                raise ValueError(f"choice {ch!r} has {n_cont} tokens, not fewer than the window of {seqlen}")
            out.append((ids[-seqlen:], n_cont))
    return out


@torch.no_grad()
def choice_logliks(
    model, items: list[ChoiceItem], encode: Callable, seqlen: int, batch_size: int = 64, pad_id: int = 0
) -> np.ndarray:
    """Summed log-likelihood of every candidate given its context.

    Parameters
    ----------
    model : causal LM returning ``.logits`` of shape ``(B, L, V)``
    items : list of ChoiceItem
        All items must have the same number of choices.
    encode : callable
        Text → 1-D LongTensor of token ids (the model's tokenizer).
    seqlen : int
        The model's window; longer sequences are cut on the left.
    batch_size : int
        Sequences per forward pass (padding on the right does not change the scores of a causal model).
    pad_id : int
        Token used for padding.

    Returns
    -------
    ndarray, shape (n_items, n_choices), float64
    """
    if not items:
        raise ValueError("no items to score")
    n_choices = len(items[0].choices)
    if any(len(it.choices) != n_choices for it in items):
        raise ValueError("every item must have the same number of choices")
    pairs = _encode_pairs(items, encode, seqlen)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    scores = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        L = max(ids.numel() for ids, _ in chunk)
        x = torch.full((len(chunk), L), pad_id, dtype=torch.long)
        for r, (ids, _) in enumerate(chunk):
            x[r, : ids.numel()] = ids
        x = x.to(device)
        logp = torch.log_softmax(model(input_ids=x).logits.float(), dim=-1)
        for r, (ids, n_cont) in enumerate(chunk):
            n = ids.numel()
            pos = torch.arange(n - n_cont - 1, n - 1, device=device)  # predictions of the candidate's tokens
            scores.append(float(logp[r, pos, x[r, pos + 1]].double().sum()))
    model.train(was_training)
    return np.asarray(scores, dtype=np.float64).reshape(len(items), n_choices)


def choice_accuracy(logliks: np.ndarray, labels, level: float = 0.95) -> dict:
    """Accuracy of the argmax choice with its Wilson interval: ``{"acc", "k", "n", "lo", "hi", "correct"}``
    (``correct``: 1 or 0 per item).

    Ties count as wrong unless the right choice is the first maximum (``argmax`` order), as in the harness.
    """
    logliks = np.asarray(logliks)
    labels = np.asarray(labels)
    if logliks.ndim != 2 or logliks.shape[0] != labels.shape[0]:
        raise ValueError(f"logliks must be (n_items, n_choices) matching {labels.shape[0]} labels, got {logliks.shape}")
    correct = logliks.argmax(axis=1) == labels
    k = int(correct.sum())
    n = int(labels.shape[0])
    lo, hi = wilson_ci(k, n, level)
    return {"acc": k / n, "k": k, "n": n, "lo": lo, "hi": hi, "correct": correct.astype(int).tolist()}


def paired_difference(correct_a, correct_b, level: float = 0.95) -> dict:
    """Accuracy difference ``a − b`` of two models on the same items, with a normal-approximation interval of
    the paired differences (items where both are right or both wrong contribute zero).

    Returns ``{"diff", "lo", "hi", "n", "a_only", "b_only"}`` (``a_only``: items only ``a`` gets right).
    """
    a, b = np.asarray(correct_a, float), np.asarray(correct_b, float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"need two equal-length 0/1 vectors of at least 2 items, got {a.shape} and {b.shape}")
    d = a - b
    mean, lo, hi, n = mean_ci(d, level, method="normal")
    return {
        "diff": mean,
        "lo": lo,
        "hi": hi,
        "n": int(n),
        "a_only": int((d > 0).sum()),
        "b_only": int((d < 0).sum()),
    }


def zero_shot_accuracy(
    model, items: list[ChoiceItem], encode: Callable, seqlen: int, batch_size: int = 64, neutral: str | None = None
) -> dict:
    """Accuracy of the highest-likelihood choice (``acc``, :func:`choice_accuracy`), and with ``neutral`` also the
    accuracy of the highest pointwise mutual information ``log p(choice | context) − log p(choice | neutral)``
    (``pmi_acc``, ``pmi_k``, ``pmi_lo``, ``pmi_hi``).

    PMI scoring removes what each candidate's own likelihood contributes regardless of the context; it matters
    when the candidates are texts of unequal prior likelihood (for example continuations cut from different
    documents). ``neutral`` is a context that carries no information about the item (for a model trained on
    documents joined by blank lines, a blank line ``"\\n\\n"``).
    """
    labels = [it.label for it in items]
    ll = choice_logliks(model, items, encode, seqlen, batch_size=batch_size)
    out = choice_accuracy(ll, labels)
    if neutral is not None:
        prior = [ChoiceItem(context=neutral, choices=it.choices, label=it.label) for it in items]
        ll0 = choice_logliks(model, prior, encode, seqlen, batch_size=batch_size)
        out.update({f"pmi_{k}": v for k, v in choice_accuracy(ll - ll0, labels).items() if k != "n"})
    return out
