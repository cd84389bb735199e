"""Published baseline reference numbers (spec §8.3), shown beside ours in the ``paper`` profile.

These are NOT results of the CVR paper (whose tables we could not read): they are the WikiText-2
perplexities of the locuslab/wanda README ("LLaMA-2 results"), seqlen 2048, C4 calibration 128 × 2048.
Used by the chapter pruning_perplexity (Part III).
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


def reference_rows() -> list[dict]:
    """Flat rows ``{model, pattern, method, ppl, source}`` of :data:`WANDA_README_LLAMA2`.

    Used by the chapter pruning_perplexity (Part III).
    """
    return [
        {"model": m, "pattern": p, "method": k, "ppl": v, "source": SOURCE}
        for m, pats in WANDA_README_LLAMA2.items()
        for p, meths in pats.items()
        for k, v in meths.items()
    ]
