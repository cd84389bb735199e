"""Any ``transformers`` model and its tokenizer from a local folder or the local Hugging Face cache, offline."""

from __future__ import annotations


def load_local_transformer(name_or_path: str):
    """Load a ``transformers`` model and tokenizer from a local folder or the local HF cache (never downloads).

    Raises ``OSError`` naming the model when it is not available offline.
    """
    from transformers import AutoModel, AutoTokenizer

    from lsa.models.hf import from_local

    model = from_local(AutoModel, name_or_path)
    tok = from_local(AutoTokenizer, name_or_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model.eval(), tok
