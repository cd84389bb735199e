"""Driver of the chapter ``pruning_cost``: timing of the whole pruning per method, the cost ratios the ledger
checks, the CVR statistic grid and the EC variants on the validation split."""

from __future__ import annotations

import platform

import pandas as pd
import torch

from lsa.prune.experiment import prune_grid, time_methods
from lsa.prune.setups import LMSetup

PARTS = ("calibration", "scoring", "compensation", "total")


def device_name(device) -> str:
    """The GPU's name, or the CPU and its torch thread count."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def timing(
    setup: LMSetup, methods: list[str], pattern: str, samples: list[dict], repeats: int, progress: bool = False
) -> dict:
    """Time the whole pruning of every method ``repeats`` times (methods interleaved) and summarise.

    Returns ``{"rows": DataFrame (one row per method and round), "median": DataFrame (method × part),
    "ratios": {...}}`` with the ratios of the ledger: CVR+EC / Wanda end to end, SparseGPT / CVR+EC end to end,
    and CVR+EC's scoring-only time (scores, masks and EC) / Wanda's scoring time.
    """
    rows = pd.DataFrame(time_methods(setup, methods, pattern, samples, repeats=repeats, progress=progress))
    med = rows.groupby("method")[list(PARTS)].median().loc[methods]
    ratios = {}
    if {"cvr+ec", "wanda"} <= set(methods):
        ratios["cost_ratio_cvr_ec_over_wanda"] = float(med.loc["cvr+ec", "total"] / med.loc["wanda", "total"])
        ratios["scoring_ratio_cvr_ec_over_wanda"] = float(
            (med.loc["cvr+ec", "scoring"] + med.loc["cvr+ec", "compensation"]) / med.loc["wanda", "scoring"]
        )
    if {"cvr+ec", "sparsegpt"} <= set(methods):
        ratios["cost_ratio_sparsegpt_over_cvr_ec"] = float(med.loc["sparsegpt", "total"] / med.loc["cvr+ec", "total"])
    ratios["timing_masks_ok"] = bool(rows.masks_ok.all())
    ratios["split_sums_le_total"] = bool(
        ((rows.calibration + rows.scoring + rows.compensation) <= rows.total * 1.001 + 1e-6).all()
    )
    return {"rows": rows, "median": med, "ratios": ratios}


def cvr_grid(
    setup: LMSetup,
    samples: list[dict],
    weight_terms: list[str],
    a_values: list[float],
    gammas: list[float],
    max_windows: int | None,
    batch_size: int,
) -> pd.DataFrame:
    """Validation perplexity of CVR at 50 % for every (weight term, a, γ): columns ``weight_term, a, gamma, ppl``."""
    out = []
    for wt in weight_terms:
        for a in a_values:
            for g in gammas:
                (r,) = prune_grid(
                    setup,
                    ["cvr"],
                    ["50%"],
                    samples,
                    max_windows=max_windows,
                    batch_size=batch_size,
                    val=True,
                    cvr_a=a,
                    cvr_gamma=g,
                    cvr_weight_term=wt,
                )
                out.append({"weight_term": wt, "a": a, "gamma": g, "ppl": r["ppl"]})
    return pd.DataFrame(out)


def ec_variants(
    setup: LMSetup,
    samples: list[dict],
    modes: list[str],
    granularities: list[str],
    max_windows: int | None,
    batch_size: int,
) -> pd.DataFrame:
    """Validation perplexity of CVR+EC at 50 % for every EC mode and granularity, with the α summary."""
    out = []
    for mode in modes:
        for gran in granularities:
            (r,) = prune_grid(
                setup,
                ["cvr+ec"],
                ["50%"],
                samples,
                max_windows=max_windows,
                batch_size=batch_size,
                val=True,
                ec_mode=mode,
                ec_granularity=gran,
            )
            out.append(
                {
                    "mode": mode,
                    "granularity": gran,
                    "ppl": r["ppl"],
                    "alpha_median": r["alpha_median"],
                    "alpha_clipped": r["alpha_clipped"],
                }
            )
    return pd.DataFrame(out)
