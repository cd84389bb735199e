"""The committed English text snapshot: loading, document-level splits, byte tokenisation.

The snapshot (``data/text/docs.jsonl.gz``, built by :mod:`lsa.data.text_snapshot`, provenance in
``data/text/PROVENANCE.md``) holds real human-written English documentation. The small GPT of Part III is
trained on its ``train`` split; perplexity is measured on ``test``; calibration samples come from ``train``;
MiniLM fidelity/retrieval uses sentences of ``test``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import torch

from lsa.data.checksums import verify

SNAPSHOT = "text/docs.jsonl.gz"
SPLITS = ("train", "validation", "test")


def iter_jsonl(path: Path):
    """Yield ``(line number, object)`` for each non-blank line of a JSON-lines file (``.gz`` read transparently).

    Raises ``ValueError`` naming the file and line of a line that is not JSON.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not a JSON line ({e})") from None


def load_documents(path: str | Path | None = None) -> list[dict]:
    """Return the snapshot's documents as dicts ``{"id", "source", "text"}`` in file order.

    Parameters
    ----------
    path : path-like, optional
        A JSON-lines(.gz) file in the snapshot format. ``None`` reads the committed snapshot after
        checking its checksum (:func:`lsa.data.checksums.verify`).

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, or a line that is not a JSON object with a non-empty ``"text"`` and an ``"id"``.
    """
    path = verify(SNAPSHOT) if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text snapshot {path} does not exist")
    docs = []
    for n, d in iter_jsonl(path):
        if not isinstance(d, dict) or not d.get("text") or "id" not in d:
            raise ValueError(f"{path}:{n}: expected an object with 'id' and non-empty 'text'")
        docs.append(d)
    if not docs:
        raise ValueError(f"text snapshot {path} holds no documents")
    return docs


def _unit(doc_id: str, seed: int) -> float:
    h = hashlib.sha256(f"{seed}:{doc_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split_documents(
    docs: list[dict], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, list[dict]]:
    """Split documents into ``train`` / ``validation`` / ``test`` by a stable hash of their id.

    A document lands in exactly one split; the assignment of a document does not depend on the other
    documents, so adding documents never moves existing ones.

    Parameters
    ----------
    docs : list of dict
        Documents with an ``"id"``.
    fractions : (float, float, float)
        Expected shares of train, validation, test; non-negative, summing to 1.
    seed : int
        Salt of the hash (seed 0 is the book's split).
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    ids = [d["id"] for d in docs]
    if len(set(ids)) != len(ids):
        raise ValueError("document ids must be unique")
    out = {k: [] for k in SPLITS}
    c1, c2 = fractions[0], fractions[0] + fractions[1]
    for d in docs:
        u = _unit(d["id"], seed)
        out["train" if u < c1 else "validation" if u < c2 else "test"].append(d)
    return out


def join_documents(docs: list[dict], sep: str = "\n\n") -> str:
    """Join document texts with ``sep`` (the WikiText protocol joins with a blank line)."""
    return sep.join(d["text"] for d in docs)


def sentences(docs: list[dict], min_chars: int = 40, max_chars: int = 300) -> list[str]:
    """Prose sentences of the documents (split after a full stop, question or exclamation mark, and at blank lines).

    Keeps sentences of ``min_chars``..``max_chars`` characters that contain at least five words and mostly
    letters (so parameter lists and code fragments are dropped). Used for MiniLM fidelity in the chapter
    pruning_perplexity (Part III).
    """
    out = []
    for d in docs:
        for para in re.split(r"\n\s*\n", d["text"]):
            para = " ".join(para.split())
            for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", para):
                letters = sum(c.isalpha() or c == " " for c in s)
                if min_chars <= len(s) <= max_chars and len(s.split()) >= 5 and letters >= 0.85 * len(s):
                    out.append(s)
    return out


class ByteTokenizer:
    """UTF-8 byte tokeniser (vocabulary 256): the tokeniser of the project's small GPT.

    ``encode`` returns a 1-D ``torch.long`` tensor of byte values; ``decode`` inverts it. Perplexity under
    this tokeniser is per byte.
    """

    vocab_size = 256

    def encode(self, text: str) -> torch.Tensor:
        """Byte ids of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"ByteTokenizer.encode expects a str, got {type(text).__name__}")
        return torch.tensor(list(text.encode("utf-8")), dtype=torch.long)

    def decode(self, ids) -> str:
        """Text of byte ids (invalid UTF-8 sequences are replaced)."""
        return bytes(int(i) for i in ids).decode("utf-8", errors="replace")
