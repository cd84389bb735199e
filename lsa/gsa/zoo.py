"""Small trained models of the Part II suite, trained once and cached with :mod:`lsa.cache`
(keyed by their config and this module's code): ResNet-mini and TinyViT on
scikit-learn's digits (upsampled to 16x16), TinyGPT (``transformers`` GPT-2 from a small config) on a
seeded synthetic bracket/arithmetic corpus, and a TinyUNet DDPM denoiser on digits. The data come from
:mod:`lsa.data.digits` and :mod:`lsa.data.brackets`.
"""

from __future__ import annotations

import numpy as np
import torch

from lsa import cache
from lsa.data.brackets import VOCAB, bracket_corpus, encode_text
from lsa.data.digits import digits16

KINDS = ("resnet", "vit", "gpt", "unet")


def _defaults(kind: str) -> dict:
    return {
        "resnet": {"widths": [16, 32, 64], "blocks": 2, "epochs": 15, "lr": 1e-3, "batch": 64},
        "vit": {"dim": 64, "depth": 4, "heads": 4, "mlp": 128, "epochs": 15, "lr": 1e-3, "batch": 64},
        "gpt": {
            "n_layer": 4,
            "n_embd": 128,
            "n_head": 4,
            "n_inner": 512,
            "ctx": 64,
            "steps": 2000,
            "batch": 32,
            "lr": 1e-3,
        },
        "unet": {"widths": [32, 64], "steps": 3000, "batch": 64, "lr": 2e-3, "T": 200},
    }[kind]


def build_model(kind: str, cfg: dict, seed: int = 0):
    """Build a model of ``kind`` from its config (random initialisation, seeded)."""
    torch.manual_seed(seed)
    if kind == "resnet":
        from lsa.models.resnet import ResNet

        return ResNet(1, 10, tuple(cfg["widths"]), cfg["blocks"])
    if kind == "vit":
        from lsa.models.vit import ViT

        return ViT(16, 4, 1, 10, cfg["dim"], cfg["depth"], cfg["heads"], cfg["mlp"])
    if kind == "gpt":
        from lsa.models.gpt import gpt2_lm

        shape = (len(VOCAB), cfg["ctx"], cfg["n_embd"], cfg["n_layer"], cfg["n_head"])
        return gpt2_lm(*shape, n_inner=cfg["n_inner"], attn_implementation="eager", pad_token_id=0)
    if kind == "unet":
        from lsa.models.unet import TinyUNet

        return TinyUNet(1, tuple(cfg["widths"]))
    raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")


def _train(kind: str, model, cfg: dict, seed: int):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    model.train()
    if kind in ("resnet", "vit"):
        x, y, _, _ = digits16(seed)
        for _ in range(cfg["epochs"]):
            perm = torch.randperm(len(y), generator=g)
            for i in range(0, len(y), cfg["batch"]):
                b = perm[i : i + cfg["batch"]]
                loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
                opt.zero_grad(), loss.backward(), opt.step()
    elif kind == "gpt":
        data = encode_text(bracket_corpus(seed=seed))
        for _ in range(cfg["steps"]):
            s = torch.randint(0, len(data) - cfg["ctx"] - 1, (cfg["batch"],), generator=g)
            ids = torch.stack([data[i : i + cfg["ctx"]] for i in s.tolist()])
            loss = model(input_ids=ids, labels=ids).loss
            opt.zero_grad(), loss.backward(), opt.step()
    else:
        from lsa.models.unet import linear_schedule, noise

        x, _, _, _ = digits16(seed)
        abar = linear_schedule(cfg["T"])
        for _ in range(cfg["steps"]):
            b = torch.randint(0, len(x), (cfg["batch"],), generator=g)
            t = torch.randint(0, cfg["T"], (cfg["batch"],), generator=g)
            eps = torch.randn(x[b].shape, generator=g)
            loss = torch.nn.functional.mse_loss(model(noise(x[b], t, abar, eps), t), eps)
            opt.zero_grad(), loss.backward(), opt.step()
    model.eval()
    return model


def trained(kind: str, seed: int = 0, trained: bool = True, **overrides):
    """The model ``kind`` trained with its config (defaults of the small suite, updated by ``overrides``), cached.

    ``trained=False`` returns the random-initialisation twin (same config and seed, no training).
    Returns ``(model, cfg)``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")
    cfg = _defaults(kind)
    unknown = sorted(set(overrides) - set(cfg))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {kind}; known: {sorted(cfg)}")
    cfg.update(overrides)
    model = build_model(kind, cfg, seed)
    if not trained:
        return model.eval(), cfg
    path = cache.entry("gsa", __name__, {"kind": kind, "cfg": cfg, "seed": seed}, ".pt", prefix=f"{kind}-")
    with cache.producing(path):  # another chapter training the same model: wait for it, then load
        if path.is_file():
            model.load_state_dict(torch.load(path, weights_only=True))
            return model.eval(), cfg
        _train(kind, model, cfg, seed)
        cache.atomic_write(path, lambda tmp: torch.save(model.state_dict(), tmp))
    return model.eval(), cfg


def probe(kind: str, n: int = 32, seed: int = 0, ctx: int = 32) -> torch.Tensor:
    """Fixed held-out probe inputs: test digits (vision, diffusion) or corpus windows (GPT, seed + 1 text)."""
    if kind in ("resnet", "vit", "unet"):
        return digits16(seed)[2][:n]
    if kind == "gpt":
        data = encode_text(bracket_corpus(20_000, seed=seed + 1))
        starts = np.random.default_rng(seed).integers(0, len(data) - ctx, n)
        return torch.stack([data[s : s + ctx] for s in starts])
    raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")
