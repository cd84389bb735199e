"""A small GPT-2 (``transformers.GPT2LMHeadModel`` from a ``GPT2Config``) trained on the text snapshot.

Byte-level vocabulary (256), trained from scratch with AdamW on random windows of the snapshot's train
split; cached under ``lsa.runner.cache_dir("gpt")`` keyed by a stable hash of the config and the data's
checksum, so the recipe runs once per configuration. Used by the pruning chapters (Part III).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class GPTConfig:
    """Architecture and training recipe of the small GPT (all knobs that determine the trained weights)."""

    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    seqlen: int = 128
    steps: int = 1200
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup: int = 50
    seed: int = 0

    def __post_init__(self):
        for k in ("n_layer", "n_embd", "n_head", "seqlen", "steps", "batch_size"):
            if int(getattr(self, k)) < 1:
                raise ValueError(f"GPTConfig.{k} must be a positive integer, got {getattr(self, k)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")


def build_gpt(cfg: GPTConfig, vocab_size: int = 256):
    """An untrained ``GPT2LMHeadModel`` of the given shape (dropout off; seeded init). Part III."""
    from transformers import GPT2Config, GPT2LMHeadModel

    conf = GPT2Config(vocab_size=vocab_size, n_positions=cfg.seqlen, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
                      n_head=cfg.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                      bos_token_id=0, eos_token_id=0, use_cache=False)
    torch.manual_seed(cfg.seed)
    return GPT2LMHeadModel(conf)


def train_gpt(train_ids: torch.Tensor, cfg: GPTConfig, device="cpu", progress: bool = False):
    """Train the small GPT on random windows of a 1-D token tensor; return ``(model, log)``.

    Parameters
    ----------
    train_ids : 1-D LongTensor
        Tokenised training text (byte ids).
    cfg : GPTConfig
    device : torch device
    progress : bool
        tqdm over steps.

    Returns
    -------
    model : GPT2LMHeadModel in eval mode
    log : dict
        ``loss`` (per step), ``train_seconds``.

    Used by the pruning chapters (Part III).
    """
    if train_ids.ndim != 1 or train_ids.numel() <= cfg.seqlen + 1:
        raise ValueError(f"training text must be a 1-D tensor longer than seqlen+1={cfg.seqlen + 1} tokens")
    model = build_gpt(cfg).to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(cfg.seed)
    n = train_ids.numel() - cfg.seqlen - 1
    losses = []
    t0 = time.perf_counter()
    it = range(cfg.steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="train small GPT")
    model.train()
    for step in it:
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n, (cfg.batch_size,), generator=gen)
        x = torch.stack([train_ids[s:s + cfg.seqlen] for s in starts.tolist()]).to(device)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    return model, {"loss": losses, "train_seconds": time.perf_counter() - t0}


def load_or_train_gpt(train_ids: torch.Tensor, cfg: GPTConfig, data_key: str, device="cpu",
                      progress: bool = False):
    """The trained small GPT from the cache, or train and cache it. Returns ``(model, log, cached)``.

    The cache entry is ``cache_dir("gpt")/<stable_hash(config, data_key)>/`` holding ``model.safetensors``
    and ``log.json``. ``data_key`` must identify the training text (e.g. its checksum). Part III.
    """
    from safetensors.torch import load_file, save_file

    from lsa.runner import cache_dir
    from lsa.runner.keys import stable_hash

    folder = cache_dir("gpt") / stable_hash({"config": asdict(cfg), "data": data_key, "arch": "gpt2-bytes-v1"})
    weights, log_path = folder / "model.safetensors", folder / "log.json"
    if weights.is_file() and log_path.is_file():
        model = build_gpt(cfg)
        state = load_file(str(weights))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not k.endswith("lm_head.weight") for k in missing):
            raise RuntimeError(f"cached GPT at {weights} does not match the config: {missing} {unexpected}")
        model.tie_weights()
        return model.to(device).eval(), json.loads(log_path.read_text()), True
    model, log = train_gpt(train_ids, cfg, device=device, progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    tmp = folder / "model.safetensors.tmp"
    save_file(state, str(tmp))
    tmp.replace(weights)
    log_path.write_text(json.dumps(log))
    return model, log, False
