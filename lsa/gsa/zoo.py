"""Small trained models of the Part II suite (spec 5.2), trained once and cached with :mod:`lsa.cache`
(keyed by their config and this module's code): ResNet-mini and TinyViT on
scikit-learn's digits (upsampled to 16x16), TinyGPT (``transformers`` GPT-2 from a small config) on a
seeded synthetic bracket/arithmetic corpus, and a TinyUNet DDPM denoiser on digits.

Used by ``pam_certificates``, ``gsa_spectra`` and ``pam_heatmaps``.
"""

from __future__ import annotations

import numpy as np
import torch

from lsa import cache

KINDS = ("resnet", "vit", "gpt", "unet")


def digits16(seed: int = 0, split: float = 0.8) -> tuple:
    """Digits (1797 8x8 images) bilinearly upsampled to 16x16, standardised; seeded 80/20 split.

    Returns (x_train, y_train, x_test, y_test) as float32 / int64 tensors.

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.as_tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    x = torch.nn.functional.interpolate(x, size=16, mode="bilinear", align_corners=False)
    x = (x - x.mean()) / x.std()
    y = torch.as_tensor(d.target, dtype=torch.long)
    idx = torch.as_tensor(np.random.default_rng(seed).permutation(len(y)))
    n = int(split * len(y))
    return x[idx[:n]], y[idx[:n]], x[idx[n:]], y[idx[n:]]


def bracket_corpus(n_chars: int = 200_000, seed: int = 0) -> str:
    """Seeded probabilistic grammar of nested arithmetic / bracket expressions, one per line.

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
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


def build(kind: str, cfg: dict, seed: int = 0):
    """Build a model of ``kind`` from its config (random initialisation, seeded).

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    torch.manual_seed(seed)
    if kind == "resnet":
        from lsa.models.resnet import ResNet

        return ResNet(1, 10, tuple(cfg["widths"]), cfg["blocks"])
    if kind == "vit":
        from lsa.models.vit import ViT

        return ViT(16, 4, 1, 10, cfg["dim"], cfg["depth"], cfg["heads"], cfg["mlp"])
    if kind == "gpt":
        from transformers import GPT2Config, GPT2LMHeadModel

        c = GPT2Config(
            vocab_size=len(VOCAB),
            n_positions=cfg["ctx"],
            n_embd=cfg["n_embd"],
            n_layer=cfg["n_layer"],
            n_head=cfg["n_head"],
            n_inner=cfg["n_inner"],
            attn_implementation="eager",
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        )
        return GPT2LMHeadModel(c)
    if kind == "unet":
        from lsa.models.unet import TinyUNet

        return TinyUNet(1, tuple(cfg["widths"]))
    raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")


VOCAB = sorted(set("0123456789+-*()[]{}\n"))


def encode_text(text: str) -> torch.Tensor:
    """Character ids of the synthetic corpus (unknown characters raise).

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    idx = {c: i for i, c in enumerate(VOCAB)}
    bad = sorted(set(text) - set(idx))
    if bad:
        raise ValueError(f"characters {bad} are not in the TinyGPT vocabulary {VOCAB}")
    return torch.tensor([idx[c] for c in text], dtype=torch.long)


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
    """The model ``kind`` trained with its config (defaults of spec 5.2, updated by ``overrides``), cached.

    ``trained=False`` returns the random-initialisation twin (same config and seed, no training).
    Returns ``(model, cfg)``.

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")
    cfg = _defaults(kind)
    unknown = sorted(set(overrides) - set(cfg))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {kind}; known: {sorted(cfg)}")
    cfg.update(overrides)
    model = build(kind, cfg, seed)
    if not trained:
        return model.eval(), cfg
    path = cache.entry("gsa", __name__, {"kind": kind, "cfg": cfg, "seed": seed}, ".pt", prefix=f"{kind}-")
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval(), cfg
    _train(kind, model, cfg, seed)
    cache.atomic_write(path, lambda tmp: torch.save(model.state_dict(), tmp))
    return model.eval(), cfg


def probe(kind: str, n: int = 32, seed: int = 0, ctx: int = 32) -> torch.Tensor:
    """Fixed held-out probe inputs: test digits (vision, diffusion) or corpus windows (GPT, seed + 1 text).

    Used by ``gsa_spectra``, ``pam_certificates`` and ``pam_heatmaps``.
    """
    if kind in ("resnet", "vit", "unet"):
        return digits16(seed)[2][:n]
    if kind == "gpt":
        data = encode_text(bracket_corpus(20_000, seed=seed + 1))
        starts = np.random.default_rng(seed).integers(0, len(data) - ctx, n)
        return torch.stack([data[s : s + ctx] for s in starts])
    raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")
