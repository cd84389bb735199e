"""Sequential block-by-block calibration: find the blocks, capture and replay their inputs, gather
per-channel statistics in float64.

The protocol (shared by the Wanda, SparseGPT and RIA reference code): capture every positional and keyword argument
that block 0 receives for each calibration sample; then for each block, run the still-dense block with hooks
that accumulate the statistics of every linear sublayer, prune, and run the pruned block again to produce the
inputs of the next block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

# attribute paths of the block list in common transformers architectures
BLOCK_PATHS = (
    "model.layers",
    "model.decoder.layers",
    "transformer.h",
    "gpt_neox.layers",
    "encoder.layer",
    "bert.encoder.layer",
    "model.encoder.layer",
    "layers",
    "h",
)


def is_prunable(module: nn.Module) -> bool:
    """True for ``nn.Linear`` and the transposed ``Conv1D`` of GPT-2."""
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def weight_view(module: nn.Module) -> torch.Tensor:
    """The weight as a ``(d_out, d_in)`` view: in-place writes change the module.

    ``nn.Linear`` stores ``(d_out, d_in)``; GPT-2's ``Conv1D`` stores ``(d_in, d_out)`` and is transposed.
    """
    if isinstance(module, nn.Linear):
        return module.weight.data
    if type(module).__name__ == "Conv1D":
        return module.weight.data.t()
    raise TypeError(f"cannot prune a {type(module).__name__}; expected nn.Linear or Conv1D")


def find_linears(block: nn.Module) -> dict[str, nn.Module]:
    """Every prunable linear inside ``block``, by qualified name, in module order."""
    return {name: m for name, m in block.named_modules() if name and is_prunable(m)}


def find_blocks(model: nn.Module) -> nn.ModuleList:
    """The list of repeated transformer blocks of a ``transformers`` model (decoder or encoder).

    Tries the usual attribute paths (LLaMA ``model.layers``, OPT ``model.decoder.layers``, GPT-2
    ``transformer.h``, BERT ``encoder.layer``, ...), then any ``nn.ModuleList`` of same-class modules that
    contain linears (the longest one).

    Raises
    ------
    ValueError
        When no such list exists (names the model class and the paths tried).
    """
    for path in BLOCK_PATHS:
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0 and find_linears(obj[0]):
            return obj
    best = None
    for m in model.modules():
        if (
            isinstance(m, nn.ModuleList)
            and len(m) > 0
            and len({type(c) for c in m}) == 1
            and find_linears(m[0])
            and (best is None or len(m) > len(best))
        ):
            best = m
    if best is None:
        raise ValueError(
            f"cannot find the transformer blocks of {type(model).__name__}: no attribute "
            f"among {BLOCK_PATHS} and no nn.ModuleList of identical blocks with linear layers"
        )
    return best


class _Captured(Exception):
    pass


@dataclass
class BlockInputs:
    """Captured inputs of block 0: per sample, the hidden states and the other call arguments."""

    hidden: list[torch.Tensor]
    args: list[tuple] = field(default_factory=list)
    kwargs: list[dict] = field(default_factory=list)


@torch.no_grad()
def capture_block_inputs(model: nn.Module, blocks: nn.ModuleList, samples: list[dict]) -> BlockInputs:
    """Run each sample up to block 0 and capture every argument the block receives.

    Parameters
    ----------
    model : nn.Module
        The ``transformers`` model (its ``forward`` takes the sample's keyword arguments).
    blocks : nn.ModuleList
        From :func:`find_blocks`.
    samples : list of dict
        Model inputs, e.g. ``{"input_ids": LongTensor(1, L)}`` (plus ``attention_mask`` for encoders).
    """
    if not samples:
        raise ValueError("calibration needs at least one sample")
    store = BlockInputs(hidden=[])

    def hook(_module, args, kwargs):
        if args:
            store.hidden.append(args[0])
            store.args.append(tuple(args[1:]))
            store.kwargs.append(dict(kwargs))
        else:
            kw = dict(kwargs)
            store.hidden.append(kw.pop("hidden_states"))
            store.args.append(())
            store.kwargs.append(kw)
        raise _Captured

    handle = blocks[0].register_forward_pre_hook(hook, with_kwargs=True)
    use_cache = getattr(model.config, "use_cache", None) if hasattr(model, "config") else None
    if use_cache is not None:
        model.config.use_cache = False
    try:
        for s in samples:
            try:
                model(**s)
            except _Captured:
                pass
    finally:
        handle.remove()
        if use_cache is not None:
            model.config.use_cache = use_cache
    if len(store.hidden) != len(samples):
        raise RuntimeError("block 0 was not called for every calibration sample")
    return store


def run_block(block: nn.Module, inputs: BlockInputs) -> list[torch.Tensor]:
    """Replay the captured arguments through ``block`` with each sample's hidden states."""
    outs = []
    with torch.no_grad():
        for h, a, kw in zip(inputs.hidden, inputs.args, inputs.kwargs):
            out = block(h, *a, **kw)
            outs.append(out[0] if isinstance(out, (tuple, list)) else out)
    return outs


class ChannelStats:
    """Per-input-channel count, mean and centred second moment in float64, merged with Chan's formula.

    Optionally also the Gram matrix ``Σ_t x_t x_tᵀ`` (float64) for SparseGPT and the exact EC modes.
    ``add`` takes a batch ``X`` of shape ``(..., d_in)``.
    """

    def __init__(self, d_in: int, gram: bool = False, device=None):
        self.n = 0
        self.n_batches = 0
        self.mean = torch.zeros(d_in, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(d_in, dtype=torch.float64, device=device)
        self.gram = torch.zeros(d_in, d_in, dtype=torch.float64, device=device) if gram else None

    def add(self, x: torch.Tensor) -> None:
        """Merge the rows of ``x`` (flattened to ``(T, d_in)``) into the statistics."""
        x = x.detach().reshape(-1, x.shape[-1]).to(torch.float64)
        nb = x.shape[0]
        if nb == 0:
            return
        mb = x.mean(0)
        m2b = ((x - mb) ** 2).sum(0)
        n = self.n
        delta = mb - self.mean
        tot = n + nb
        self.mean = self.mean + delta * (nb / tot)
        self.m2 = self.m2 + m2b + delta**2 * (n * nb / tot)
        self.n = tot
        self.n_batches += 1
        if self.gram is not None:
            self.gram += x.T @ x

    @property
    def var(self) -> torch.Tensor:
        """Population variance ``σ_j²`` (float64)."""
        return self.m2 / max(self.n, 1)

    @property
    def second_moment(self) -> torch.Tensor:
        """``m_j = (1/T) Σ_t x_tj² = σ_j² + μ_j²`` (float64)."""
        return self.var + self.mean**2

    @property
    def sq_norm(self) -> torch.Tensor:
        """``||X_j||_2²`` over all tokens (float64)."""
        return self.second_moment * self.n

    def covariance_second_moment(self) -> torch.Tensor:
        """``C = (1/T) Σ_t x_t x_tᵀ`` from the Gram matrix (needs ``gram=True``)."""
        if self.gram is None:
            raise ValueError("this ChannelStats was built without gram=True")
        return self.gram / max(self.n, 1)


class StatsHooks:
    """Forward hooks that feed every linear's input into its :class:`ChannelStats`."""

    def __init__(self, linears: dict[str, nn.Module], gram: bool = False):
        self.stats = {}
        self.handles = []
        for name, m in linears.items():
            d_in = weight_view(m).shape[1]
            self.stats[name] = ChannelStats(d_in, gram=gram, device=weight_view(m).device)
            self.handles.append(m.register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def fn(_module, inp, _out):
            self.stats[name].add(inp[0])

        return fn

    def remove(self) -> None:
        """Detach every hook."""
        for h in self.handles:
            h.remove()
        self.handles = []
