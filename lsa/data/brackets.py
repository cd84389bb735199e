"""A seeded synthetic character corpus of nested arithmetic / bracket expressions (no download), and its
character encoding: the training text of the small GPT of Part II."""

from __future__ import annotations

import numpy as np
import torch

VOCAB = sorted(set("0123456789+-*()[]{}\n"))
"""The corpus' characters, sorted (ids are positions in this list)."""


def bracket_corpus(n_chars: int = 200_000, seed: int = 0) -> str:
    """Seeded probabilistic grammar of nested arithmetic / bracket expressions, one per line.

    An expression is a number (probability 0.35, or always below depth 3), a binary ``+ - *`` of two
    expressions (0.35) or a bracketed expression with ``()``, ``[]`` or ``{}`` (0.3).
    """
    rng = np.random.default_rng(seed)

    def expr(depth):
        r = rng.random()
        if depth > 3 or r < 0.35:
            return str(int(rng.integers(0, 100)))
        if r < 0.7:
            return f"{expr(depth + 1)}{'+-*'[int(rng.integers(3))]}{expr(depth + 1)}"
        b = "()[]{}"[2 * int(rng.integers(3)) :][:2]
        return f"{b[0]}{expr(depth + 1)}{b[1]}"

    out, size = [], 0
    while size < n_chars:
        line = expr(0) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out)[:n_chars]


def encode_text(text: str) -> torch.Tensor:
    """Character ids of a corpus text (characters outside :data:`VOCAB` raise a ``ValueError``)."""
    idx = {c: i for i, c in enumerate(VOCAB)}
    bad = sorted(set(text) - set(idx))
    if bad:
        raise ValueError(f"characters {bad} are not in the TinyGPT vocabulary {VOCAB}")
    return torch.tensor([idx[c] for c in text], dtype=torch.long)
