"""C4 (``allenai/c4``, English) from local shards in their published format (no download).

A shard is JSON lines, usually gzip-compressed (``en/c4-train.00000-of-01024.json.gz``,
``en/c4-validation.00000-of-00008.json.gz``), one object per document with ``text``, ``timestamp`` and
``url``. Calibration draws windows from the train shard with
:func:`lsa.prune.perplexity.sample_calibration`; the validation perplexity text is the first 1100 documents
joined by a space, truncated to ``256 × seqlen`` tokens (SparseGPT's C4 set).
"""

from __future__ import annotations

from pathlib import Path

from lsa.data.text import iter_jsonl


def load_c4(path: str | Path, max_docs: int | None = None) -> list[str]:
    """Texts of a C4 shard (``.json.gz`` or ``.json`` lines with a ``text`` field), in file order.

    Raises
    ------
    FileNotFoundError
        Missing file.
    ValueError
        A line that is not a JSON object with a string ``text``, or an empty shard (names file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"C4 shard {path} does not exist (expected e.g. c4-train.00000-of-01024.json.gz)")
    texts = []
    for n, obj in iter_jsonl(path):
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise ValueError(f"{path}:{n}: expected a JSON object with a string 'text' field")
        texts.append(obj["text"])
        if max_docs is not None and len(texts) >= max_docs:
            break
    if not texts:
        raise ValueError(f"C4 shard {path} holds no documents")
    return texts


def c4_validation_ids(texts: list[str], encode, seqlen: int, n_docs: int = 1100, n_windows: int = 256):
    """SparseGPT's C4 validation tokens: first ``n_docs`` documents joined by ``" "``, tokenised once,
    truncated to ``n_windows × seqlen`` tokens. ``encode``: ``text -> 1-D LongTensor``.
    """
    if not texts:
        raise ValueError("C4 validation needs at least one document")
    ids = encode(" ".join(texts[:n_docs]))
    return ids[: n_windows * seqlen]
