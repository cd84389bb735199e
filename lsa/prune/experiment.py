"""Experiments of the pruning chapters on a model set-up (:mod:`lsa.prune.setups`): the method × pattern grid,
mask agreement, layer reconstruction errors, MiniLM fidelity, timing and the per-layer cost sweep.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from lsa.prune.calibration import StatsHooks, capture_block_inputs, find_blocks, find_linears, run_block, weight_view
from lsa.prune.masks import parse_pattern
from lsa.prune.perplexity import perplexity, perplexity_direct
from lsa.prune.pipeline import PruneConfig, prune_layer, prune_model
from lsa.prune.setups import LMSetup
from lsa.prune.sparsegpt import sparsegpt_prune

METHOD_SETTINGS = {
    "magnitude": {"method": "magnitude"},
    "wanda": {"method": "wanda"},
    "sparsegpt": {"method": "sparsegpt"},
    "ria": {"method": "ria"},
    "cvr": {"method": "cvr"},
    "cvr+ec": {"method": "cvr", "ec": True},
    "wanda+ec": {"method": "wanda", "ec": True},
    "ria+ec": {"method": "ria", "ec": True},
    "magnitude+ec": {"method": "magnitude", "ec": True},
}


def method_config(label: str, pattern: str, **overrides) -> PruneConfig:
    """The :class:`PruneConfig` of a method label (``"cvr+ec"``, ``"wanda"``, ...) and pattern."""
    if label not in METHOD_SETTINGS:
        raise ValueError(f"unknown method {label!r}; expected one of {tuple(METHOD_SETTINGS)}")
    return PruneConfig(pattern=pattern, **{**METHOD_SETTINGS[label], **overrides})


def dense_perplexity_check(setup: LMSetup, max_windows: int | None, batch_size: int = 8) -> dict:
    """Dense perplexity by :func:`perplexity` and by the independent loop :func:`perplexity_direct`."""
    model = setup.fresh()
    a = perplexity(model, setup.eval_ids, setup.seqlen, batch_size=batch_size, max_windows=max_windows)
    b = perplexity_direct(model, setup.eval_ids, setup.seqlen, max_windows=max_windows)
    return {"ppl": a, "ppl_direct": b, "rel_diff": abs(a - b) / b}


def prune_grid(
    setup: LMSetup,
    methods: list[str],
    patterns: list[str],
    samples: list[dict],
    max_windows: int | None = None,
    batch_size: int = 8,
    val: bool = False,
    progress: bool = False,
    extra: Callable[[torch.nn.Module, str], dict] | None = None,
    **overrides,
) -> list[dict]:
    """Prune a fresh copy of the model for every (pattern, method) and measure perplexity.

    Returns one row per run: ``method``, ``pattern``, ``ppl`` (test; or validation if ``val``), achieved
    ``sparsity``, ``target``, ``masks_ok``, ``ec_kept_mask``, the time split and the EC α summary, plus the
    entries of ``extra(pruned_model, pattern)`` when given (e.g. zero-shot accuracy).
    """
    rows = []
    pairs = [(p, m) for p in patterns for m in methods]
    it = pairs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(pairs, desc="methods × patterns")
    ids = setup.val_ids if val else setup.eval_ids
    for pattern, label in it:
        cfg = method_config(label, pattern, **overrides)
        model = setup.fresh()
        rep = prune_model(model, samples, cfg)
        alphas = [a for r in rep["layers"].values() for a in r.get("alpha", [])]
        rows.append(
            {
                "method": label,
                "pattern": cfg._pattern.label,
                "target": cfg._pattern.target,
                "ppl": perplexity(model, ids, setup.seqlen, batch_size=batch_size, max_windows=max_windows),
                "sparsity": rep["sparsity"],
                "min_d_in": rep["min_d_in"],
                "masks_ok": rep["masks_ok"],
                "ec_kept_mask": rep["ec_kept_mask"],
                **{f"t_{k}": v for k, v in rep["time_s"].items()},
                "alpha_median": float(torch.tensor(alphas).median()) if alphas else None,
                "alpha_clipped": sum(r.get("n_clipped", 0) for r in rep["layers"].values()),
                **(extra(model, pattern) if extra else {}),
            }
        )
        del model
    return rows


def mask_agreement(setup: LMSetup, samples: list[dict], patterns: list[str]) -> dict:
    """Mismatching mask entries between Wanda and CVR(a=1, γ=0, abs, row), and between RIA and
    CVR(a=0.5, γ=0, relative, layer), over every layer of the full sequential run.
    """
    out = {"wanda": 0, "ria": 0, "entries": 0}
    pairs = {
        "wanda": (
            {"method": "wanda"},
            {"method": "cvr", "cvr_a": 1.0, "cvr_gamma": 0.0, "cvr_weight_term": "abs", "cvr_group": "row"},
        ),
        "ria": (
            {"method": "ria"},
            {"method": "cvr", "cvr_a": 0.5, "cvr_gamma": 0.0, "cvr_weight_term": "relative", "cvr_group": "layer"},
        ),
    }
    for pattern in patterns:
        for key, (ref, cvr) in pairs.items():
            ra = prune_model(setup.fresh(), samples, PruneConfig(pattern=pattern, **ref), keep_masks=True)
            rb = prune_model(setup.fresh(), samples, PruneConfig(pattern=pattern, **cvr), keep_masks=True)
            for name in ra["layers"]:
                ma, mb = ra["layers"][name]["mask"], rb["layers"][name]["mask"]
                out[key] += int((ma != mb).sum())
                if key == "wanda":
                    out["entries"] += ma.numel()
    return out


@torch.no_grad()
def layer_errors_block0(setup: LMSetup, samples: list[dict], patterns: list[str]) -> list[dict]:
    """Relative output error ``tr(ΔW C ΔWᵀ)/tr(W C Wᵀ)`` of Wanda and SparseGPT on every linear of block 0,
    with ``C`` the measured second moment of that linear's dense inputs.
    """
    model = setup.fresh()
    blocks = find_blocks(model)
    linears = find_linears(blocks[0])
    inputs = capture_block_inputs(model, blocks, samples)
    hooks = StatsHooks(linears, gram=True)
    run_block(blocks[0], inputs)
    hooks.remove()
    rows = []
    for name, mod in linears.items():
        st = hooks.stats[name]
        W = weight_view(mod).detach().clone().float()
        C = st.covariance_second_moment()
        denom = float(torch.einsum("ij,jk,ik->", W.double(), C, W.double()))
        for pattern in patterns:
            pat = parse_pattern(pattern)
            lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=False).to(W.device)
            lin.weight.data.copy_(W)
            prune_layer(lin, st, PruneConfig(method="wanda", pattern=pattern))
            sg, _ = sparsegpt_prune(W, st.gram, pat)
            err = {}
            for label, Wn in (("wanda", lin.weight.data), ("sparsegpt", sg)):
                D = (W - Wn).double()
                err[label] = float(torch.einsum("ij,jk,ik->", D, C, D)) / denom
            rows.append({"layer": name, "pattern": pat.label, **err})
    return rows


def minilm_fidelity(
    methods: list[str],
    patterns: list[str],
    n_calib: int,
    n_pairs: int,
    seed: int,
    device="cpu",
    progress: bool = False,
    max_length: int = 64,
) -> dict:
    """Prune the real MiniLM-L6 with every method; embedding cosine to the dense model and adjacent-sentence
    retrieval accuracy on held-out (test-split) sentences of the text snapshot.

    Calibration: train-split sentences packed into 128-token windows; held-out sentences are encoded with at
    most ``max_length`` tokens. Returns ``{"dense_retrieval",
    "rows": [{method, pattern, cosine, retrieval, sparsity, masks_ok}], "n_pairs"}``.
    """
    from lsa.data.text import load_documents, sentences, split_documents
    from lsa.models.minilm import encode, load_minilm
    from lsa.prune.fidelity import encoder_calibration, mean_cosine, retrieval_accuracy, sentence_pairs

    splits = split_documents(load_documents())
    by_doc = [sentences([d]) for d in splits["test"]]
    queries, keys = sentence_pairs(by_doc, n_pairs, seed)
    held = queries + keys
    dense, tok = load_minilm(pretrained=True)
    dense = dense.to(device)
    calib_text = sentences(splits["train"])
    calib = encoder_calibration(tok, calib_text, n_calib)
    calib = [{k: v.to(device) for k, v in s.items()} for s in calib]
    e_dense = encode(dense, tok, held, max_length=max_length)
    n = len(queries)
    out = {
        "dense_retrieval": retrieval_accuracy(e_dense[:n], e_dense[n:]),
        "rows": [],
        "n_pairs": n,
        "n_calib_windows": len(calib),
    }
    pairs = [(p, m) for p in patterns for m in methods]
    it = pairs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(pairs, desc="MiniLM methods × patterns")
    for pattern, label in it:
        model = copy.deepcopy(dense)
        rep = prune_model(model, calib, method_config(label, pattern))
        e = encode(model, tok, held, max_length=max_length)
        out["rows"].append(
            {
                "method": label,
                "pattern": parse_pattern(pattern).label,
                "cosine": mean_cosine(e, e_dense),
                "retrieval": retrieval_accuracy(e[:n], e[n:]),
                "sparsity": rep["sparsity"],
                "masks_ok": rep["masks_ok"],
            }
        )
        del model
    return out


def time_methods(
    setup: LMSetup, methods: list[str], pattern: str, samples: list[dict], repeats: int = 3, progress: bool = False
) -> list[dict]:
    """Wall time of the whole pruning of a fresh model per method, split into calibration / scoring /
    compensation, ``repeats`` times with the methods interleaved (round robin) so that they share the
    machine's conditions. One row per (method, repeat).
    """
    rows = []
    it = range(repeats)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="timing rounds")
    for r in it:
        for label in methods:
            model = setup.fresh()
            rep = prune_model(model, samples, method_config(label, pattern))
            rows.append({"method": label, "repeat": r, **rep["time_s"], "masks_ok": rep["masks_ok"]})
            del model
    return rows


def layer_cost_scaling(
    dims: list[int], methods: list[str], pattern: str = "50%", tokens: int = 2048, repeats: int = 3, seed: int = 0
) -> list[dict]:
    """Scoring-only cost on one square layer of each size (statistics already gathered): time of score +
    mask (+ OBS reconstruction for SparseGPT, + EC where asked), median of ``repeats``. Shows how the
    per-layer work grows with the width (SparseGPT's is cubic).
    """
    import time

    from lsa.prune.calibration import ChannelStats

    rows = []
    g = torch.Generator().manual_seed(seed)
    for d in dims:
        x = torch.randn(tokens, d, generator=g)
        W = torch.randn(d, d, generator=g) / d**0.5
        st = ChannelStats(d, gram=True)
        st.add(x)
        for label in methods:
            cfg = method_config(label, pattern)
            times = []
            for _ in range(repeats):
                lin = torch.nn.Linear(d, d, bias=False)
                lin.weight.data.copy_(W)
                t0 = time.perf_counter()
                prune_layer(lin, st, cfg)
                times.append(time.perf_counter() - t0)
            rows.append({"d": d, "method": label, "seconds": float(sorted(times)[len(times) // 2])})
    return rows
