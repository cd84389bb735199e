"""Model set-ups of the pruning chapters: a causal LM with its evaluation, validation and calibration text.

:func:`small_gpt_setup` is the project's small byte-level GPT on the committed text snapshot; :func:`hf_setup`
is any ``transformers`` causal LM read from a local folder, with WikiText-2 and C4 read from local files in
their published formats (the ``paper`` profile); :func:`make_setup` picks one from a chapter's ``model``
parameter.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from lsa.prune.perplexity import sample_calibration

SMALL_GPT = ("small-gpt", "small-gpt-train")
"""The ``model`` values that name the project's small GPT (shipped checkpoint, or retrained by its recipe)."""


@dataclass
class LMSetup:
    """A causal LM with its evaluation text, validation text and calibration documents."""

    fresh: Callable[[], torch.nn.Module]  # returns an unpruned copy of the model on its device
    eval_ids: torch.Tensor
    val_ids: torch.Tensor
    calib_docs: list
    seqlen: int
    encode: Callable | None = None  # set when calib_docs are texts
    info: dict = field(default_factory=dict)


def small_gpt_setup(
    source: str = "checkpoint", gpt_cfg=None, device="cpu", progress: bool = False, recipe_steps: int = 10
) -> LMSetup:
    """The project's small GPT on the text snapshot: train split for training and calibration, validation
    split for model selection, test split for perplexity.

    Parameters
    ----------
    source : {"checkpoint", "train"}
        ``checkpoint``: the shipped, checksummed weights (``data/text/gpt/``), plus a replay of the first
        ``recipe_steps`` training steps of their recipe compared with the logged losses. ``train``: train
        ``gpt_cfg`` (default :class:`~lsa.models.gpt.GPTConfig`) with the recipe, cached in
        ``runs/cache/gpt``.
    """
    from lsa.data.checksums import sha256_file, verify
    from lsa.data.text import ByteTokenizer, join_documents, load_documents, split_documents
    from lsa.models.gpt import GPTConfig, load_or_train_gpt, load_shipped_gpt, recipe_check

    if source not in ("checkpoint", "train"):
        raise ValueError(f"source must be 'checkpoint' or 'train', got {source!r}")
    data_key = sha256_file(verify("text/docs.jsonl.gz"))
    tok = ByteTokenizer()
    splits = split_documents(load_documents())
    train_ids = tok.encode(join_documents(splits["train"]))
    if source == "checkpoint":
        model, cfg, meta = load_shipped_gpt(device)
        if meta["data_sha256"] != data_key:
            raise RuntimeError("the shipped GPT checkpoint was trained on a different text snapshot")
        info = {
            "train_seconds": meta["train_seconds"],
            "loss_curve": meta["loss"],
            "cached": True,
            "recipe": recipe_check(train_ids, meta, recipe_steps) if recipe_steps else None,
        }
    else:
        cfg = gpt_cfg or GPTConfig()
        model, log, cached = load_or_train_gpt(train_ids, cfg, data_key, device=device, progress=progress)
        model.config.use_cache = False
        info = {"train_seconds": log["train_seconds"], "loss_curve": log["loss"], "cached": cached, "recipe": None}
    info.update(config=cfg, n_params=sum(p.numel() for p in model.parameters()), tokenizer="bytes", source=source)
    return LMSetup(
        fresh=lambda: copy.deepcopy(model),
        eval_ids=tok.encode(join_documents(splits["test"])),
        val_ids=tok.encode(join_documents(splits["validation"])),
        calib_docs=[tok.encode(d["text"]) for d in splits["train"]],
        seqlen=cfg.seqlen,
        info=info,
    )


def _repo_path(p: str) -> str:
    """A relative path that does not exist from the run folder is read relative to the repository root."""
    from pathlib import Path

    from lsa.paths import repo_root

    if not p or Path(p).is_absolute() or Path(p).exists():
        return p
    return str(repo_root() / p) if (repo_root() / p).exists() else p


def hf_setup(
    model_path: str,
    wikitext_path: str,
    c4_train_path: str,
    c4_val_path: str = "",
    seqlen: int = 2048,
    device="cuda",
    dtype: str = "float16",
    c4_docs: int = 20000,
) -> LMSetup:
    """A ``transformers`` causal LM (local path or cached Hub id) with WikiText-2 test and C4 files read
    from local paths (the ``paper`` profile).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lsa.data.c4 import c4_validation_ids, load_c4
    from lsa.data.wikitext import load_wikitext2, wikitext_eval_text
    from lsa.models.hf import from_local

    for name, p in (("wikitext_path", wikitext_path), ("c4_train_path", c4_train_path)):
        if not p:
            raise ValueError(f"{name} must name a local file or folder for a Hugging Face model")
    model_path, wikitext_path, c4_train_path, c4_val_path = (
        _repo_path(p) for p in (model_path, wikitext_path, c4_train_path, c4_val_path)
    )
    try:  # the baselines use the slow tokenizer; fall back when sentencepiece is missing
        tok = from_local(AutoTokenizer, model_path, use_fast=False)
    except (ImportError, ValueError, OSError):
        tok = from_local(AutoTokenizer, model_path)
    encode = lambda text: tok(text, return_tensors="pt").input_ids[0]
    eval_ids = encode(wikitext_eval_text(load_wikitext2(wikitext_path, "test")))
    val_ids = c4_validation_ids(load_c4(c4_val_path, 1100), encode, seqlen) if c4_val_path else eval_ids[:0]
    texts = load_c4(c4_train_path, c4_docs)
    torch_dtype = getattr(torch, dtype)

    def fresh():
        m = from_local(AutoModelForCausalLM, model_path, dtype=torch_dtype).to(device).eval()
        m.config.use_cache = False
        return m

    return LMSetup(
        fresh=fresh,
        eval_ids=eval_ids,
        val_ids=val_ids,
        calib_docs=texts,
        seqlen=seqlen,
        encode=encode,
        info={"model": model_path, "tokenizer": "model"},
    )


def make_setup(
    model: str,
    device,
    seqlen: int = 0,
    wikitext_path: str = "",
    c4_train_path: str = "",
    c4_val_path: str = "",
    dtype: str = "float32",
    recipe_steps: int = 0,
    progress: bool = False,
) -> LMSetup:
    """The set-up a chapter's ``model`` parameter names: the small GPT (``small-gpt``: shipped checkpoint, with
    ``recipe_steps`` of its recipe replayed; ``small-gpt-train``: retrained) or a Hugging Face causal LM folder
    with its WikiText-2 and C4 files. ``seqlen`` 0 keeps the model's context (128 bytes for the small GPT, 2048
    for a Hugging Face model); a larger one than the small GPT's context is refused."""
    if model in SMALL_GPT:
        setup = small_gpt_setup(
            "checkpoint" if model == "small-gpt" else "train",
            device=device,
            progress=progress,
            recipe_steps=recipe_steps if model == "small-gpt" else 0,
        )
        if seqlen:
            if seqlen > setup.seqlen:
                raise ValueError(f"seqlen={seqlen} exceeds the small GPT's context of {setup.seqlen} bytes")
            setup.seqlen = seqlen
        return setup
    return hf_setup(model, wikitext_path, c4_train_path, c4_val_path, seqlen=seqlen or 2048, device=device, dtype=dtype)


def calibration_samples(setup: LMSetup, nsamples: int, seed: int, device) -> list[dict]:
    """``nsamples`` calibration windows of the set-up's ``seqlen`` (the Wanda rule), on ``device``."""
    samples = sample_calibration(setup.calib_docs, nsamples, setup.seqlen, seed=seed, encode=setup.encode)
    return [{k: v.to(device) for k, v in s.items()} for s in samples]
