"""Driver of the chapter ``pruning_perplexity``: the zero-shot task, the stability runs, the checks of the pruners
on the real model (CVR's Wanda / RIA settings, layer errors, dense weights at zero sparsity, SparseGPT against its
unblocked form), the comparison with published baseline numbers and the paper-scale note.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lsa.data.text import ByteTokenizer, load_documents, split_documents
from lsa.data.zeroshot import ChoiceItem, continuation_task, load_multiple_choice
from lsa.prune.calibration import StatsHooks, capture_block_inputs, find_blocks, find_linears, run_block, weight_view
from lsa.prune.experiment import METHOD_SETTINGS, layer_errors_block0, mask_agreement, method_config, prune_grid
from lsa.prune.masks import parse_pattern
from lsa.prune.pipeline import prune_model
from lsa.prune.reference import published_model, published_perplexity
from lsa.prune.setups import LMSetup, calibration_samples
from lsa.prune.sparsegpt import sparsegpt_prune, sparsegpt_unblocked
from lsa.prune.zeroshot import zero_shot_accuracy


def encoder(setup: LMSetup) -> Callable[[str], torch.Tensor]:
    """The set-up's text → token ids function (bytes for the small GPT, the model's tokenizer otherwise)."""
    return setup.encode or ByteTokenizer().encode


def zero_shot_tasks(
    n_items: int, seed: int, n_choices: int = 4, context_chars: int = 64, continuation_chars: int = 32, path: str = ""
) -> dict[str, list[ChoiceItem]]:
    """The zero-shot tasks of a run: ``"continuation"`` (ours, from the test split of the committed snapshot,
    which no model of the book was trained on) and, when ``path`` names a standard task file, ``"file"``."""
    tasks = {
        "continuation": continuation_task(
            split_documents(load_documents())["test"],
            n_items,
            n_choices=n_choices,
            context_chars=context_chars,
            continuation_chars=continuation_chars,
            seed=seed,
        )
    }
    if path:
        tasks["file"] = load_multiple_choice(path)
    return tasks


NEUTRAL = "\n\n"
"""The neutral context of PMI scoring on our task: the blank line that separates documents in the training text."""


def zero_shot_evaluator(
    setup: LMSetup, tasks: dict[str, list[ChoiceItem]], patterns: list[str], batch_size: int = 64
) -> Callable:
    """A function ``(model, pattern) -> {"zs_<task>_acc", "_k", "_n", "_lo", "_hi", "zs_<task>_pmi_…"}`` that
    evaluates the tasks for the patterns in ``patterns`` only (and for the dense model, ``pattern=None``).

    Our continuation task is scored by raw likelihood and by PMI against :data:`NEUTRAL`; a standard task file
    by raw likelihood (the harness's ``acc``).
    """
    encode = encoder(setup)
    wanted = {parse_pattern(p).label for p in patterns}

    def evaluate(model, pattern: str | None = None) -> dict:
        if pattern is not None and parse_pattern(pattern).label not in wanted:
            return {}
        out = {}
        for name, items in tasks.items():
            neutral = NEUTRAL if name == "continuation" else None
            res = zero_shot_accuracy(model, items, encode, setup.seqlen, batch_size=batch_size, neutral=neutral)
            out.update({f"zs_{name}_{k}": v for k, v in res.items()})
        return out

    return evaluate


def zero_sparsity_check(setup: LMSetup, samples: list[dict], methods: list[str]) -> dict:
    """Prune a fresh model at sparsity 0 with every method: the largest change of any weight (0 when the pruner
    returns the dense weights) and the largest ``|α − 1|`` of EC (0 when EC leaves an unpruned layer alone)."""
    max_change, max_alpha_dev = 0.0, 0.0
    for label in methods:
        model = setup.fresh()
        dense = {n: p.detach().clone() for n, p in model.named_parameters()}
        rep = prune_model(model, samples, method_config(label, "0%"))
        for n, p in model.named_parameters():
            max_change = max(max_change, float((p.detach() - dense[n]).abs().max()))
        for r in rep["layers"].values():
            for a in r.get("alpha", []):
                max_alpha_dev = max(max_alpha_dev, abs(float(a) - 1.0))
    return {"max_weight_change": max_change, "max_alpha_deviation": max_alpha_dev, "methods": list(methods)}


@torch.no_grad()
def sparsegpt_reference_check(setup: LMSetup, samples: list[dict], patterns: list[str]) -> dict:
    """SparseGPT (blocked, lazy updates) against its unblocked form on every linear of every block of the model,
    both in float64, with the Gram matrices of the sequential calibration (dense prefix). Returns the number of
    mismatching mask entries and the largest weight difference relative to the layer's largest weight."""
    model = setup.fresh()
    blocks = find_blocks(model)
    inputs = capture_block_inputs(model, blocks, samples)
    mismatch, worst, layers = 0, 0.0, 0
    for block in blocks:
        linears = find_linears(block)
        hooks = StatsHooks(linears, gram=True)
        run_block(block, inputs)
        hooks.remove()
        for name, mod in linears.items():
            W = weight_view(mod).detach().double()
            H = hooks.stats[name].gram
            for p in patterns:
                pat = parse_pattern(p)
                a, ka = sparsegpt_prune(W, H, pat, exact_count=False, dtype=torch.float64)
                b, kb = sparsegpt_unblocked(W, H, pat, dtype=torch.float64)
                mismatch += int((ka != kb).sum())
                worst = max(worst, float((a - b).abs().max() / W.abs().max()))
                layers += 1
        inputs.hidden = run_block(block, inputs)
    return {"mask_mismatch": mismatch, "max_rel_diff": worst, "layer_patterns": layers}


def baseline_fidelity(model: str, ppl: dict[tuple[str, str], float], dense_ppl: float) -> dict:
    """Our perplexities beside the published ones for the same model, one row per (pattern, method).

    Returns ``{"published_model", "rows", "n_compared", "max_abs_diff"}``; a row's ``published`` is ``None``
    with the ``reason`` when no published number is on record for that cell.
    """
    name = published_model(model)
    ours = {("dense", "dense"): dense_ppl, **ppl}
    table, note = published_perplexity(name)
    rows, diffs = [], []
    for (method, pattern), value in ours.items():
        pub = table.get(pattern, {}).get(method)
        rows.append(
            {
                "model": name or model,
                "pattern": pattern,
                "method": method,
                "ours": value,
                "published": pub,
                "difference": None if pub is None else value - pub,
                "source_or_reason": note["source"] if pub is not None else note["reason"],
            }
        )
        if pub is not None:
            diffs.append(abs(value - pub))
    return {
        "published_model": name,
        "rows": rows,
        "n_compared": len(diffs),
        "max_abs_diff": max(diffs) if diffs else None,
    }


def stability_runs(
    setup: LMSetup,
    ppl50: dict[str, float],
    seed: int,
    extra_seeds: list[int],
    nsamples: int,
    device,
    max_windows: int | None,
    batch_size: int,
    methods: tuple[str, ...] = ("wanda", "cvr+ec"),
) -> list[dict]:
    """Perplexity at 50 % of ``methods`` for each extra calibration seed, with the main run's values
    (``ppl50[method]`` at ``seed``) first: rows ``{seed, method, ppl}``."""
    rows = [{"seed": seed, "method": m, "ppl": ppl50[m]} for m in methods if m in ppl50]
    for s in extra_seeds:
        samples = calibration_samples(setup, nsamples, s, device)
        grid = prune_grid(setup, list(methods), ["50%"], samples, max_windows=max_windows, batch_size=batch_size)
        rows += [{"seed": s, "method": r["method"], "ppl": r["ppl"]} for r in grid]
    return rows


def implementation_checks(setup: LMSetup, samples: list[dict], methods: list[str], patterns: list[str]) -> dict:
    """The checks of the pruners on the real model, on the patterns 50 % and 2:4 when the run has them (else its
    first pattern): CVR's Wanda / RIA settings (mask agreement), SparseGPT's and Wanda's layer errors on block 0,
    sparsity 0 (dense weights) and SparseGPT against its unblocked form."""
    pats = [p for p in patterns if p in ("50%", "2:4")] or patterns[:1]
    errs = layer_errors_block0(setup, samples, pats)
    for r in errs:
        r["ratio"] = r["sparsegpt"] / r["wanda"]
    return {
        "patterns": pats,
        "agreement": mask_agreement(setup, samples, pats),
        "layer_errors": errs,
        "zero": zero_sparsity_check(setup, samples, [m for m in [*methods, "cvr+ec"] if m in METHOD_SETTINGS]),
        "sparsegpt": sparsegpt_reference_check(setup, samples, pats),
    }


PAPER_INPUTS = {
    "model": "a local folder with OPT-125M in Hugging Face format (config, weights, tokenizer)",
    "wikitext_path": "WikiText-2 raw: the folder of wikitext-2-raw-v1.zip (wiki.test.raw) or the test parquet",
    "c4_train_path": "the C4 English train shard c4-train.00000-of-01024.json.gz",
    "c4_val_path": "optional: the C4 validation shard c4-validation.00000-of-00008.json.gz",
}


def paper_scale_note(chapter: str, model: str, inputs: tuple[str, ...] = tuple(PAPER_INPUTS)) -> str:
    """Markdown saying whether this run is at paper scale and, if not, what a user must supply and the command."""
    from lsa.prune.setups import SMALL_GPT

    if model not in SMALL_GPT:
        return f"This run prunes `{model}` with the files given on the command line (the `paper` setting)."
    lines = "\n".join(f"- `{k}`: {PAPER_INPUTS[k]}" for k in inputs)
    args = " ".join(f"-p {k}=PATH" for k in inputs if not PAPER_INPUTS[k].startswith("optional"))
    return (
        "**At paper scale: not testable here.** The `paper` profile prunes OPT-125M (125 million parameters) with "
        "WikiText-2 perplexity and C4 calibration (128 × 2048 tokens, fp16, a GPU). None of these can be "
        "downloaded on the machines that build this book, so no `paper` run is shown and the ledger's claims have "
        f"no `paper` outcome. A user who has them supplies:\n\n{lines}\n\nand runs\n\n"
        f"```\nlsa run {chapter} --profile paper {args}\n```"
    )
