"""The model suite of the ``pam_heatmaps`` chapter: build or load each backbone, extract its factor
chains (mode S and mode J; diffusion at three timesteps), run the margin protocol and collect the rows of the
tables T1 / T2 and the block-energy heatmaps of F6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lsa.gsa.config import GSAConfig
from lsa.gsa.factors import interfaces, jacobian_factors, static_factors
from lsa.gsa.pam import block_energy
from lsa.gsa.protocol import run_protocol

PAPER_CONFIGS = {
    # architecture families of the abstract at standard sizes (random twin; trained by the zoo recipe or loaded)
    "resnet": {"widths": [64, 128, 256, 512], "blocks": 3},  # BasicBlock stand-in for ResNet-50 (no torchvision)
    "vit": {"dim": 768, "depth": 12, "heads": 12, "mlp": 3072},  # ViT-B width/depth (16x16 digits input)
    "gpt": {"n_layer": 12, "n_embd": 768, "n_head": 12, "n_inner": 3072, "ctx": 64},  # GPT-2 small shape
    "unet": {"widths": [128, 256]},
}


def load_weights(model: torch.nn.Module, path: str) -> torch.nn.Module:
    """Load a local ``state_dict`` file (``torch.load(..., weights_only=True)``) into ``model``; clear errors."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {p} (expected a torch state_dict saved with torch.save)")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or not a torch file
        raise ValueError(f"checkpoint {p} could not be read as a torch state_dict: {exc}") from exc
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {p} holds a {type(state).__name__}, expected a state_dict (dict of tensors)")
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise ValueError(f"checkpoint {p} does not match {type(model).__name__}: shapes differ for {wrong[:5]}")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {p} does not match {type(model).__name__}: missing {list(missing)[:5]}, "
            f"unexpected {list(unexpected)[:5]}"
        )
    return model.eval()


def select_pairs(factors, n: int | None) -> list:
    """``n`` interfaces spread over depth (early / middle / late for n = 3); all when ``n`` is None or larger."""
    pairs = interfaces(factors)
    if n is None or n >= len(pairs):
        return pairs
    idx = np.unique(np.linspace(0, len(pairs) - 1, n).round().astype(int))
    return [pairs[i] for i in idx]


def model_chains(kind: str, model, probe_x, modes=("S", "J"), timesteps=(20, 100, 180)) -> dict:
    """Factor chains of one model: {"S": [...], "J": [...]} or, for the U-Net, {"J t=...": [...]} per timestep."""
    out = {}
    if kind == "unet":
        for t in timesteps:
            out[f"J t={t}"] = jacobian_factors(model, probe_x, t=t)
        return out
    if "S" in modes:
        out["S"] = static_factors(model)
    if "J" in modes:
        out["J"] = jacobian_factors(model, probe_x)
    return out


def analyse_model(
    name: str,
    chains: dict,
    cfg: GSAConfig,
    n_pairs: int | None = None,
    n_label_draws: int = 8,
    with_records: bool = False,
) -> tuple:
    """Run the protocol on each chain of a model.

    Returns
    -------
    rows : list of dict
        One T1 row per chain (interfaces, CERT_emp / CERT_GC / VERIFY counts, medians, f_core).
    fractions : list of dict
        Per interface: f_core / f_ovl / f_noise of the source-mode PAM, for the stacked F6 panel.
    heat : dict
        chain -> (block-energy heatmap H of a middle interface, support mask, interface label).
    records : list of dict
        Only with ``with_records``: the protocol's interface records of every chain (for P12).
    """
    rows, fractions, heat, records = [], [], {}, []
    for chain, fs in chains.items():
        rep = run_protocol(fs, cfg, pairs=select_pairs(fs, n_pairs), n_label_draws=n_label_draws)
        recs = rep["interfaces"]
        records += recs
        s = rep["summary"]
        rows.append(
            {
                "model": name,
                "chain": chain,
                "interfaces": s["n_interfaces"],
                "CERT_emp": s["CERT_emp"],
                "CERT_GC": s["CERT_GC"],
                "VERIFY": s["VERIFY"],
                "bugs": s["bugs"],
                "median_rho_over_delta": s["median_rho_over_delta"],
                "median_alphahat": s["median_alphahat"],
                "median_r90_over_d": s["median_r90_over_d"],
                "median_f_core": float(np.median([r["B"]["f_core"] for r in recs])),
            }
        )
        for i, r in enumerate(recs):
            fractions.append(
                {
                    "model": name,
                    "chain": chain,
                    "depth": i,
                    "f_core": r["B"]["f_core"],
                    "f_ovl": r["B"]["f_ovl"],
                    "f_noise": r["B"]["f_noise"],
                }
            )
        mid = rep["_analysis"][len(rep["_analysis"]) // 2]
        st = mid.mats["B"]["struct"]
        heat[chain] = (block_energy(st), st.support, f"{mid.record['src']}→{mid.record['dst']}")
    return (rows, fractions, heat, records) if with_records else (rows, fractions, heat)


def heat_checks(heats: list[dict]) -> dict:
    """Guarantees of F6: each heatmap column sums to 1 (or 0 for a zero column); max deviation."""
    dev = 0.0
    for h in heats:
        for H, _, _ in h.values():
            col = H.sum(0)
            dev = max(dev, float(np.max(np.minimum(np.abs(col - 1), np.abs(col)))))
    return {"column_sum_dev": dev}


def minilm_probe(tokenizer, n: int = 16, max_length: int = 32, seed: int = 0) -> torch.Tensor:
    """Token ids (n, max_length) of held-out English sentences from the committed text snapshot (data/text/),
    tokenised with the MiniLM tokenizer, padded/truncated to a fixed length (no attention mask needed: the
    sentences are cut to full length).
    """
    from lsa.data.text import load_documents, sentences

    sents = sentences(load_documents())
    rng = np.random.default_rng(seed)
    long = [s for s in sents if len(s) >= 6 * max_length]
    if len(long) < n:
        raise ValueError(f"the text snapshot has only {len(long)} sentences long enough for {max_length} tokens")
    pick = [long[i] for i in rng.choice(len(long), n, replace=False)]
    enc = tokenizer(pick, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt")
    return enc["input_ids"]
