"""Published baseline perplexities, shown beside ours when a run prunes a model that has them.

These are NOT results of the CVR paper (whose tables we could not read). The LLaMA-2 numbers are the WikiText-2
perplexities of the locuslab/wanda README ("LLaMA-2 results"; 2048-token windows, C4 calibration 128 × 2048).
For OPT-125M, the model of our ``paper`` profile, the SparseGPT and Wanda papers report perplexities, but we
could not read their tables here and do not transcribe numbers from memory: its cells stay empty, with that
reason, until someone copies them from the papers.
"""

from __future__ import annotations

SOURCE = "locuslab/wanda README.md, 'LLaMA-2 results' (WikiText-2 PPL; not the CVR paper's numbers)"

# model -> pattern -> method -> perplexity
WANDA_README_LLAMA2 = {
    "LLaMA-2-7B": {
        "dense": {"dense": 5.12},
        "50%": {"magnitude": 14.89, "sparsegpt": 6.51, "wanda": 6.42},
        "4:8": {"magnitude": 16.48, "sparsegpt": 8.12, "wanda": 7.97},
        "2:4": {"magnitude": 54.59, "sparsegpt": 10.17, "wanda": 11.02},
    },
    "LLaMA-2-13B": {
        "dense": {"dense": 4.57},
        "50%": {"magnitude": 6.37, "sparsegpt": 5.63, "wanda": 5.56},
        "4:8": {"magnitude": 6.76, "sparsegpt": 6.60, "wanda": 6.55},
        "2:4": {"magnitude": 8.33, "sparsegpt": 8.32, "wanda": 8.27},
    },
    "LLaMA-2-70B": {
        "dense": {"dense": 3.12},
        "50%": {"magnitude": 4.98, "sparsegpt": 3.98, "wanda": 3.98},
        "4:8": {"magnitude": 5.58, "sparsegpt": 4.59, "wanda": 4.47},
        "2:4": {"magnitude": 6.33, "sparsegpt": 5.40, "wanda": 5.16},
    },
}

NOT_TRANSCRIBED = {
    "OPT-125M": (
        "published in the SparseGPT and Wanda papers; we could not read their tables here and do not copy numbers "
        "from memory"
    ),
}

# lower-case substrings of a model path or Hub id -> published model name
ALIASES = {
    "opt-125m": "OPT-125M",
    "llama-2-7b": "LLaMA-2-7B",
    "llama-2-13b": "LLaMA-2-13B",
    "llama-2-70b": "LLaMA-2-70B",
}


def published_model(model: str) -> str | None:
    """The published model a run's model path or id names (``"facebook/opt-125m"`` → ``"OPT-125M"``), or None."""
    low = str(model).lower().replace("_", "-")
    for key, name in ALIASES.items():
        if key in low:
            return name
    return None


def published_perplexity(name: str | None) -> tuple[dict, dict]:
    """``(pattern -> method -> ppl, {"source", "reason"})`` for a published model name; empty when none is on
    record, with the reason."""
    if name in WANDA_README_LLAMA2:
        return WANDA_README_LLAMA2[name], {"source": SOURCE, "reason": "not reported in that README"}
    if name in NOT_TRANSCRIBED:
        return {}, {"source": "", "reason": NOT_TRANSCRIBED[name]}
    return {}, {"source": "", "reason": "our model: no published numbers exist"}


def reference_rows() -> list[dict]:
    """Flat rows ``{model, pattern, method, ppl, source}`` of :data:`WANDA_README_LLAMA2`."""
    return [
        {"model": m, "pattern": p, "method": k, "ppl": v, "source": SOURCE}
        for m, pats in WANDA_README_LLAMA2.items()
        for p, meths in pats.items()
        for k, v in meths.items()
    ]
