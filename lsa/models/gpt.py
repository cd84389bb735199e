"""A small GPT-2 (``transformers.GPT2LMHeadModel`` from a ``GPT2Config``) trained on the text snapshot.

Byte-level vocabulary (256), trained from scratch with AdamW on random windows of the snapshot's train
split; cached with :mod:`lsa.cache` keyed by the config, the data's checksum and this module's code, so the
recipe runs once per configuration.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass

import torch

from lsa import cache


@dataclass(frozen=True)
class GPTConfig:
    """Architecture and training recipe of the small GPT (all knobs that determine the trained weights)."""

    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    seqlen: int = 128
    steps: int = 2000
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


def gpt2_lm(vocab_size: int, n_positions: int, n_embd: int, n_layer: int, n_head: int, **config):
    """An untrained ``transformers`` ``GPT2LMHeadModel`` without dropout: the one GPT-2 builder of ``lsa``.

    Used for the small GPT of Part III (:func:`build_gpt`) and the TinyGPT of Part II's model zoo. Seed torch
    before calling it for a reproducible initialisation.

    Parameters
    ----------
    vocab_size, n_positions, n_embd, n_layer, n_head : int
        The shape.
    **config
        Further ``GPT2Config`` fields (``n_inner``, ``attn_implementation``, ``pad_token_id``, ``use_cache``).
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    conf = GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        **config,
    )
    return GPT2LMHeadModel(conf)


def build_gpt(cfg: GPTConfig, vocab_size: int = 256):
    """The untrained small GPT of ``cfg`` (byte vocabulary, dropout off, initialisation seeded by ``cfg.seed``)."""
    torch.manual_seed(cfg.seed)
    return gpt2_lm(vocab_size, cfg.seqlen, cfg.n_embd, cfg.n_layer, cfg.n_head, use_cache=False)


def train_gpt(
    train_ids: torch.Tensor, cfg: GPTConfig, device="cpu", progress: bool = False, max_steps: int | None = None
):
    """Train the small GPT on random windows of a 1-D token tensor; return ``(model, log)``.

    Parameters
    ----------
    train_ids : 1-D LongTensor
        Tokenised training text (byte ids).
    cfg : GPTConfig
    device : torch device
    progress : bool
        tqdm over steps.
    max_steps : int, optional
        Stop after this many steps of the same schedule (the recipe check replays the first steps).

    Returns
    -------
    model : GPT2LMHeadModel in eval mode
    log : dict
        ``loss`` (per step), ``train_seconds``.
    """
    if train_ids.ndim != 1 or train_ids.numel() <= cfg.seqlen + 1:
        raise ValueError(f"training text must be a 1-D tensor longer than seqlen+1={cfg.seqlen + 1} tokens")
    model = build_gpt(cfg).to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    n = train_ids.numel() - cfg.seqlen - 1
    losses = []
    t0 = time.perf_counter()
    it = range(cfg.steps if max_steps is None else min(max_steps, cfg.steps))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="train small GPT")
    model.train()
    for step in it:
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n, (cfg.batch_size,), generator=gen)
        x = torch.stack([train_ids[s : s + cfg.seqlen] for s in starts.tolist()]).to(device)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    return model, {"loss": losses, "train_seconds": time.perf_counter() - t0}


def load_or_train_gpt(train_ids: torch.Tensor, cfg: GPTConfig, data_key: str, device="cpu", progress: bool = False):
    """The trained small GPT from the cache, or train and cache it. Returns ``(model, log, cached)``.

    The cache entry is a folder ``gpt/<key>/`` of :mod:`lsa.cache` (keyed by the config, ``data_key`` and this
    module's code) holding ``model.safetensors`` and ``log.json``. ``data_key`` must identify the training text
    (e.g. its checksum).
    """
    from safetensors.torch import load_file, save_file

    folder = cache.entry("gpt", __name__, {"config": asdict(cfg), "data": data_key})
    weights, log_path = folder / "model.safetensors", folder / "log.json"
    with cache.producing(folder):  # another chapter training the same GPT: wait for it, then load
        if weights.is_file() and log_path.is_file():
            model = build_gpt(cfg)
            state = load_file(str(weights))
            missing, unexpected = model.load_state_dict(state, strict=False)
            if unexpected or any(not k.endswith("lm_head.weight") for k in missing):
                raise RuntimeError(f"cached GPT at {weights} does not match the config: {missing} {unexpected}")
            model.tie_weights()
            return model.to(device).eval(), json.loads(log_path.read_text()), True
        model, log = train_gpt(train_ids, cfg, device=device, progress=progress)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
        cache.write_json(log_path, log)
        cache.atomic_write(weights, lambda tmp: save_file(state, str(tmp)))
    return model, log, False


CHECKPOINT = "text/gpt/small_gpt.safetensors"
CHECKPOINT_META = "text/gpt/small_gpt.json"


def save_checkpoint(model, cfg: GPTConfig, log: dict, data_key: str, folder) -> None:
    """Write the shipped checkpoint (``small_gpt.safetensors``, tied head dropped) and its recipe
    (``small_gpt.json``: config, data checksum, loss curve, training time)."""
    from pathlib import Path

    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, str(folder / "small_gpt.safetensors"), metadata={"config": json.dumps(asdict(cfg))})
    meta = {
        "config": asdict(cfg),
        "data_sha256": data_key,
        "train_seconds": log["train_seconds"],
        "loss": [round(x, 5) for x in log["loss"]],
        "torch": torch.__version__,
    }
    (folder / "small_gpt.json").write_text(json.dumps(meta) + "\n")


def load_shipped_gpt(device="cpu"):
    """The shipped small GPT (checksum-verified); returns ``(model, cfg, meta)``.

    Raises
    ------
    lsa.data.checksums.ChecksumError
        Missing or changed checkpoint files.
    """
    from safetensors.torch import load_file

    from lsa.data.checksums import verify

    weights = verify(CHECKPOINT)
    meta = json.loads(verify(CHECKPOINT_META).read_text())
    cfg = GPTConfig(**meta["config"])
    model = build_gpt(cfg)
    missing, unexpected = model.load_state_dict(load_file(str(weights)), strict=False)
    if unexpected or any(not k.endswith("lm_head.weight") for k in missing):
        raise RuntimeError(f"checkpoint {weights} does not match its config: {missing} {unexpected}")
    model.tie_weights()
    model.config.use_cache = False
    return model.to(device).eval(), cfg, meta


def recipe_check(train_ids: torch.Tensor, meta: dict, steps: int = 10) -> dict:
    """Replay the first ``steps`` steps of the shipped checkpoint's recipe and compare the losses with the
    ones logged when it was trained (same seed, data order and schedule): evidence that the shipped
    weights come from this code and this data. Returns ``max_rel_diff`` and both loss lists."""
    cfg = GPTConfig(**meta["config"])
    _, log = train_gpt(train_ids, cfg, max_steps=steps)
    logged = meta["loss"][:steps]
    rel = [abs(a - b) / abs(b) for a, b in zip(log["loss"], logged)]
    return {
        "max_rel_diff": max(rel),
        "replayed": log["loss"],
        "logged": logged,
        "recipe_is_default": cfg == GPTConfig(),
    }
