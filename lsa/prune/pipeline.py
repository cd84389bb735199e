"""The sequential pruner: every linear of every block, block by block, with any method and optional EC.

Methods: ``magnitude`` (per layer), ``wanda`` (per row), ``sparsegpt`` (OBS update), ``ria`` (per layer,
``a = 0.5``), ``cvr`` (the CVR family, per row by default); ``ec=True`` adds energy compensation after any
of them. Wall time is split into calibration (forward passes and statistics), scoring (scores, masks and,
for SparseGPT, its OBS reconstruction) and compensation (EC).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from lsa.prune.calibration import StatsHooks, capture_block_inputs, find_blocks, find_linears, run_block, weight_view
from lsa.prune.compensation import ECConfig, apply_alpha, energy_alpha
from lsa.prune.masks import GROUPS, Pattern, check_mask, parse_pattern, select_mask
from lsa.prune.scores import CVRConfig, cvr_score, magnitude_score, ria_score, wanda_score
from lsa.prune.sparsegpt import sparsegpt_prune

METHODS = ("magnitude", "wanda", "sparsegpt", "ria", "cvr")
DEFAULT_GROUP = {"magnitude": "layer", "wanda": "row", "ria": "layer", "cvr": "row", "sparsegpt": "block"}


@dataclass
class PruneConfig:
    """One pruning setting.

    Attributes
    ----------
    method : str
        One of ``METHODS``.
    pattern : str
        ``"50%"``, ``"0.6"`` or ``"2:4"`` (N zeros per M).
    ec : bool
        Apply energy compensation after the mask (``ec_*`` knobs, :class:`~lsa.prune.compensation.ECConfig`).
    cvr_a, cvr_gamma, cvr_weight_term, cvr_group :
        The CVR family (:class:`~lsa.prune.scores.CVRConfig`) and its comparison group.
    ria_a : float
        RIA's activation power (0.5).
    blocksize, percdamp : SparseGPT's column block and dampening.
    """

    method: str = "cvr"
    pattern: str = "50%"
    ec: bool = False
    cvr_a: float = 1.0
    cvr_gamma: float = 1.0
    cvr_weight_term: str = "abs"
    cvr_group: str = "row"
    ria_a: float = 0.5
    ec_mode: str = "mv"
    ec_granularity: str = "row"
    ec_alpha_min: float = 0.5
    ec_alpha_max: float = 2.0
    blocksize: int = 128
    percdamp: float = 0.01
    _pattern: Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.cvr_group not in GROUPS:
            raise ValueError(f"cvr_group must be one of {GROUPS}, got {self.cvr_group!r}")
        self._pattern = parse_pattern(self.pattern)
        _ = self.cvr, self.ec_config  # building them validates the CVR and EC knobs

    @property
    def cvr(self) -> CVRConfig:
        """The CVR knobs as a :class:`CVRConfig`."""
        return CVRConfig(a=self.cvr_a, gamma=self.cvr_gamma, weight_term=self.cvr_weight_term)

    @property
    def ec_config(self) -> ECConfig:
        """The EC knobs as an :class:`ECConfig`."""
        return ECConfig(
            mode=self.ec_mode, granularity=self.ec_granularity, alpha_min=self.ec_alpha_min, alpha_max=self.ec_alpha_max
        )

    @property
    def group(self) -> str:
        """Comparison group of the unstructured mask."""
        return self.cvr_group if self.method == "cvr" else DEFAULT_GROUP[self.method]

    @property
    def needs_data(self) -> bool:
        """False only for magnitude without EC."""
        return self.method != "magnitude" or self.ec

    def as_dict(self) -> dict:
        """Plain dict of the knobs (for cache keys and tables)."""
        d = asdict(self)
        d.pop("_pattern", None)
        return d


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


class _Timer:
    def __init__(self, device):
        self.device = device
        self.split = {"calibration": 0.0, "scoring": 0.0, "compensation": 0.0}

    def add(self, key, t0):
        _sync(self.device)
        self.split[key] += time.perf_counter() - t0


def score_layer(weight: torch.Tensor, stats, cfg: PruneConfig) -> torch.Tensor:
    """The method's score of one layer (not SparseGPT, whose mask is chosen during reconstruction)."""
    if cfg.method == "magnitude":
        return magnitude_score(weight)
    if cfg.method == "wanda":
        return wanda_score(weight, stats.second_moment)
    if cfg.method == "ria":
        return ria_score(weight, stats.second_moment, a=cfg.ria_a)
    if cfg.method == "cvr":
        return cvr_score(weight, stats.second_moment, stats.var, cfg.cvr)
    raise ValueError(f"no score function for method {cfg.method!r}")


def prune_layer(
    module: nn.Module, stats, cfg: PruneConfig, timer: _Timer | None = None, keep_mask: bool = False
) -> dict:
    """Prune one linear in place (mask, then optional EC); return its record (``mask`` too if asked)."""
    timer = timer or _Timer(weight_view(module).device)
    W = weight_view(module)
    dense = W.detach().clone()
    pat = cfg._pattern
    t0 = time.perf_counter()
    if cfg.method == "sparsegpt":
        new, keep = sparsegpt_prune(dense, stats.gram, pat, cfg.blocksize, cfg.percdamp)
        W.copy_(new.to(W.dtype))
        if pat.is_nm:
            mask_ok = check_mask(keep, pat, "row")
        else:  # exact count in every column block (SparseGPT's adaptive mask selection)
            mask_ok = all(
                int((~keep[:, i : i + cfg.blocksize]).sum())
                == int(keep.shape[0] * keep[:, i : i + cfg.blocksize].shape[1] * pat.sparsity)
                for i in range(0, keep.shape[1], cfg.blocksize)
            )
    else:
        keep = select_mask(score_layer(dense, stats, cfg), pat, cfg.group)
        W.mul_(keep.to(W.dtype))
        mask_ok = check_mask(keep, pat, cfg.group)
    timer.add("scoring", t0)
    rec = {
        "d_out": W.shape[0],
        "d_in": W.shape[1],
        "pruned": int((~keep).sum()),
        "mask_ok": bool(mask_ok),
        "zeros_before_ec": int((W == 0).sum()),
    }
    if cfg.ec:
        t0 = time.perf_counter()
        ecc = cfg.ec_config
        second = stats.covariance_second_moment() if ecc.needs_gram else None
        alpha, info = energy_alpha(dense, W, stats.mean, stats.var, ecc, second)
        W.copy_(apply_alpha(W, alpha.to(W.device)))
        timer.add("compensation", t0)
        rec.update(alpha=alpha.cpu().tolist(), n_clipped=info["n_clipped"])
    rec["zeros_after"] = int((W == 0).sum())
    if keep_mask:
        rec["mask"] = keep.cpu()
    return rec


@torch.no_grad()
def prune_model(
    model: nn.Module, samples: list[dict], cfg: PruneConfig, progress: bool = False, keep_masks: bool = False
) -> dict:
    """Prune every linear of every block of ``model`` in place, sequentially (block by block).

    Parameters
    ----------
    model : transformers model
        Decoder (GPT-2, OPT, LLaMA ...) or BERT-style encoder; on its target device.
    samples : list of dict
        Calibration inputs (e.g. ``{"input_ids": (1, L)}``) already on the model's device. Ignored by
        magnitude without EC.
    cfg : PruneConfig
    progress : bool
        Show a tqdm bar over blocks.
    keep_masks : bool
        Also return every layer's boolean keep-mask (``layers[name]["mask"]``, on the CPU).

    Returns
    -------
    dict
        ``layers`` (per linear: shape, pruned count, ``mask_ok``, zeros before/after EC, ``alpha``),
        ``sparsity`` (pruned / parameters over the block linears), ``min_d_in`` (smallest input width:
        per-row rounding of ``floor(d_in·s)`` keeps ``|sparsity − s| < 1/min_d_in``), ``masks_ok``,
        ``time_s`` (split into
        calibration / scoring / compensation, plus ``total``), ``config``.
    """
    blocks = find_blocks(model)
    device = next(model.parameters()).device
    timer = _Timer(device)
    layers = {}
    was_training = model.training
    model.eval()
    t_all = time.perf_counter()
    if not cfg.needs_data:
        for b, block in enumerate(blocks):
            for name, mod in find_linears(block).items():
                layers[f"{b}.{name}"] = prune_layer(mod, None, cfg, timer, keep_masks)
    else:
        if not samples:
            raise ValueError(f"method {cfg.method!r} needs calibration samples, got none")
        _sync(device)
        t0 = time.perf_counter()
        inputs = capture_block_inputs(model, blocks, samples)
        timer.add("calibration", t0)
        gram = cfg.method == "sparsegpt" or (cfg.ec and cfg.ec_config.needs_gram)
        it = range(len(blocks))
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"prune {cfg.method}{'+EC' if cfg.ec else ''} {cfg.pattern}")
        for b in it:
            block = blocks[b]
            linears = find_linears(block)
            t0 = time.perf_counter()
            hooks = StatsHooks(linears, gram=gram)
            run_block(block, inputs)
            hooks.remove()
            timer.add("calibration", t0)
            for name, mod in linears.items():
                layers[f"{b}.{name}"] = prune_layer(mod, hooks.stats[name], cfg, timer, keep_masks)
            t0 = time.perf_counter()
            inputs.hidden = run_block(block, inputs)
            timer.add("calibration", t0)
    _sync(device)
    total = time.perf_counter() - t_all
    model.train(was_training)
    n_params = sum(r["d_out"] * r["d_in"] for r in layers.values())
    n_pruned = sum(r["pruned"] for r in layers.values())
    return {
        "layers": layers,
        "sparsity": n_pruned / max(n_params, 1),
        "min_d_in": min((r["d_in"] for r in layers.values()), default=0),
        "masks_ok": all(r["mask_ok"] for r in layers.values()),
        "ec_kept_mask": all(r["zeros_after"] == r["zeros_before_ec"] for r in layers.values()),
        "time_s": {**timer.split, "total": total},
        "config": cfg.as_dict(),
    }
