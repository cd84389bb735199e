"""Layer factors of real networks in both modes of our reconstruction (mode S and mode J):

* mode S — static weights in physical channel coordinates (DC-reduced convs, BatchNorm folded into rows,
  LayerNorm gains folded into the columns of the next reader; biases ignored);
* mode J — mean broadcast channel Jacobians of residual blocks / sub-blocks at probe activations
  (:class:`lsa.gsa.jacobian.MeanChannelJacobian`).

Supported: :class:`lsa.models.resnet.ResNet`, :class:`lsa.models.vit.ViT`, ``transformers`` GPT-2 and BERT
(MiniLM) models, :class:`lsa.models.unet.TinyUNet`. Anything else raises a ``TypeError`` saying what is
supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lsa.gsa.jacobian import MeanChannelJacobian
from lsa.linalg import as_float64

SUPPORTED = "lsa ResNet, lsa ViT, transformers GPT2LMHeadModel/GPT2Model, transformers BERT (MiniLM), lsa TinyUNet"


@dataclass
class Factor:
    """One layer factor: a dense matrix or a ``LinearOperator`` with named input / output spaces."""

    name: str
    op: Any  # ndarray (m x n) or scipy LinearOperator
    in_space: str
    out_space: str
    mode: str  # "S" or "J"
    kind: str = "block"  # "block" | "transition"

    @property
    def shape(self) -> tuple:
        """(m, n) = (output dimension, input dimension)."""
        return tuple(self.op.shape)

    def dense(self) -> np.ndarray:
        """The factor as a float64 matrix (n JVPs for a Jacobian operator)."""
        if isinstance(self.op, np.ndarray):
            return self.op
        return self.op.dense() if hasattr(self.op, "dense") else self.op.matmat(np.eye(self.op.shape[1]))


def interfaces(factors: list[Factor]) -> list[tuple[int, int]]:
    """Consecutive pairs (l, l+1) whose spaces match (out_space(l) == in_space(l+1)), as the protocol uses them."""
    if len(factors) < 2:
        raise ValueError(f"need at least two factors to form an interface, got {len(factors)}")
    pairs = [
        (i, i + 1)
        for i in range(len(factors) - 1)
        if factors[i].out_space == factors[i + 1].in_space and factors[i].shape[0] == factors[i + 1].shape[1]
    ]
    if not pairs:
        raise ValueError(
            "no consecutive factors share a space: out_space(l) must equal in_space(l+1); got "
            + ", ".join(f"{f.name}:{f.in_space}->{f.out_space}" for f in factors)
        )
    return pairs


def conv_dc(weight: torch.Tensor) -> np.ndarray:
    """DC reduction of a conv kernel (C_out, C_in, kh, kw) -> C_out x C_in: the response to a constant field."""
    if weight.ndim != 4:
        raise ValueError(f"expected a conv kernel of shape (C_out, C_in, kh, kw), got {tuple(weight.shape)}")
    return as_float64(weight).sum(axis=(2, 3))


def conv_taps(weight: torch.Tensor) -> np.ndarray:
    """Tap-unfolded conv kernel (C_out, C_in, kh, kw) -> C_out x (C_in kh kw), columns ordered channel-major
    (mode S, the alternative to :func:`conv_dc`). ``conv_dc(w) = conv_taps(w) @ E`` with ``E`` the
    (C_in kh kw) x C_in matrix that copies each channel to all of its taps (a constant field).

    Its input space is not the channel space, so a tap-unfolded factor forms no interface with its
    neighbours: it serves spectra (and the channel energies of :func:`tap_channel_energies`) only.
    """
    if weight.ndim != 4:
        raise ValueError(f"expected a conv kernel of shape (C_out, C_in, kh, kw), got {tuple(weight.shape)}")
    return as_float64(weight).reshape(weight.shape[0], -1)


def tap_channel_energies(Vt, c_in: int, taps: int) -> np.ndarray:
    """Reduce right singular vectors of a tap-unfolded factor (rows of ``Vt``, length ``c_in * taps``) to
    input-channel energies: ``e[j, i] = sum over taps of Vt[j, (i, tap)]^2`` (rows sum to 1).
    """
    Vt = np.asarray(Vt, dtype=np.float64)
    if Vt.ndim != 2 or Vt.shape[1] != c_in * taps:
        raise ValueError(f"Vt must have rows of length c_in * taps = {c_in * taps}, got shape {Vt.shape}")
    return (Vt.reshape(Vt.shape[0], c_in, taps) ** 2).sum(axis=2)


def bn_scale(bn: nn.Module) -> np.ndarray | None:
    """Per-channel eval-mode BatchNorm gain gamma / sqrt(var + eps) (None for Identity)."""
    if isinstance(bn, nn.Identity):
        return None
    if not isinstance(bn, nn.BatchNorm2d):
        raise TypeError(f"expected BatchNorm2d or Identity, got {type(bn).__name__}")
    g = as_float64(bn.weight) if bn.weight is not None else 1.0
    return g / np.sqrt(as_float64(bn.running_var) + bn.eps)


def _resnet_static(model, conv: str = "dc") -> list[Factor]:
    reduce = conv_dc if conv == "dc" else conv_taps
    out = []
    for b, blk in enumerate(model.blocks):
        W1, W2 = reduce(blk.conv1.weight), reduce(blk.conv2.weight)
        s1, s2 = bn_scale(blk.bn1), bn_scale(blk.bn2)
        W1 = W1 if s1 is None else s1[:, None] * W1
        W2 = W2 if s2 is None else s2[:, None] * W2
        c_in, c_out = blk.conv1.weight.shape[1], W2.shape[0]
        pre = "" if conv == "dc" else "taps:"
        out.append(
            Factor(
                f"block{b}.conv1",
                W1,
                f"{pre}stream{c_in}",
                f"hidden{b}",
                "S",
                "transition" if c_in != c_out else "block",
            )
        )
        out.append(Factor(f"block{b}.conv2", W2, f"{pre}hidden{b}", f"stream{c_out}", "S"))
    return out


def _linear(w: torch.Tensor, conv1d: bool = False) -> np.ndarray:
    W = as_float64(w)
    return W.T if conv1d else W  # transformers Conv1D stores (in, out)


def _prelayer_chain(layers, get) -> list[Factor]:
    """Static chain V -> O -> up -> down per pre-/post-LN layer; ``get(layer)`` returns the four matrices."""
    out = []
    for i, layer in enumerate(layers):
        V, O, U, D = get(layer)
        out += [
            Factor(f"L{i}.W_V", V, "stream", f"heads{i}", "S"),
            Factor(f"L{i}.W_O", O, f"heads{i}", "stream", "S"),
            Factor(f"L{i}.W_up", U, "stream", f"mlp{i}", "S"),
            Factor(f"L{i}.W_down", D, f"mlp{i}", "stream", "S"),
        ]
    return out


def static_factors(model, conv: str = "dc") -> list[Factor]:
    """Mode-S factors of a supported model (BN folded into rows, LN gains into the next reader's columns).

    ``conv`` chooses the conv reduction of ResNets: ``"dc"`` (default, channel coordinates, forms
    interfaces) or ``"taps"`` (:func:`conv_taps`; input spaces are named ``taps:...`` so that no interface
    is formed — spectra only).
    """
    from lsa.models.resnet import ResNet
    from lsa.models.vit import ViT

    if conv not in ("dc", "taps"):
        raise ValueError(f"conv must be 'dc' or 'taps', got {conv!r}")
    if isinstance(model, ResNet):
        return _resnet_static(model, conv)
    if isinstance(model, ViT):
        return _prelayer_chain(
            model.blocks,
            lambda b: (
                as_float64(b.attn.v.weight) * as_float64(b.ln1.weight)[None],
                as_float64(b.attn.o.weight),
                as_float64(b.fc1.weight) * as_float64(b.ln2.weight)[None],
                as_float64(b.fc2.weight),
            ),
        )
    tf = getattr(model, "transformer", model)
    if hasattr(tf, "h") and hasattr(tf, "wte"):  # GPT-2

        def gpt(b):
            d = b.attn.c_attn.weight.shape[0]
            V = _linear(b.attn.c_attn.weight, True)[2 * d : 3 * d] * as_float64(b.ln_1.weight)[None]
            return (
                V,
                _linear(b.attn.c_proj.weight, True),
                _linear(b.mlp.c_fc.weight, True) * as_float64(b.ln_2.weight)[None],
                _linear(b.mlp.c_proj.weight, True),
            )

        return _prelayer_chain(tf.h, gpt)
    enc = getattr(model, "encoder", None)
    if enc is not None and hasattr(enc, "layer") and hasattr(enc.layer[0], "intermediate"):  # BERT / MiniLM
        layers = list(enc.layer)
        gains = [as_float64(model.embeddings.LayerNorm.weight)] + [
            as_float64(l.output.LayerNorm.weight) for l in layers[:-1]
        ]

        def bert(pair):
            l, g_in = pair
            return (
                as_float64(l.attention.self.value.weight) * g_in[None],
                as_float64(l.attention.output.dense.weight),
                as_float64(l.intermediate.dense.weight) * as_float64(l.attention.output.LayerNorm.weight)[None],
                as_float64(l.output.dense.weight),
            )

        return _prelayer_chain(list(zip(layers, gains)), bert)
    raise TypeError(f"cannot map the blocks of {type(model).__name__} to factors; supported: {SUPPORTED}")


def _capture(model: nn.Module, modules: list[nn.Module], run) -> list[tuple]:
    """Run ``run()`` and record (args, kwargs) entering each module (first call)."""
    seen: dict[int, tuple] = {}
    hooks = [
        m.register_forward_pre_hook(lambda m, a, k, i=i: seen.setdefault(i, (a, k)), with_kwargs=True)
        for i, m in enumerate(modules)
    ]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
    missing = [i for i in range(len(modules)) if i not in seen]
    if missing:
        raise ValueError(f"the probe forward pass never reached blocks {missing}")
    return [seen[i] for i in range(len(modules))]


def _sublayer_factors(i: int, f_att, f_mlp, x: torch.Tensor, chunk: int) -> list:
    """The attention and MLP sub-block factors of transformer block ``i``: the MLP's Jacobian is taken at the
    attention sub-block's output, both over the last (channel) axis of the residual stream."""
    with torch.no_grad():
        x_mid = f_att(x)
    return [
        Factor(f"L{i}.attn", MeanChannelJacobian(f_att, x, -1, chunk), "stream", "stream", "J"),
        Factor(f"L{i}.mlp", MeanChannelJacobian(f_mlp, x_mid, -1, chunk), "stream", "stream", "J"),
    ]


def jacobian_factors(model, probe, chunk: int = 64, t: int | None = None) -> list[Factor]:
    """Mode-J factors: mean broadcast channel Jacobians of residual blocks at the probe activations.

    Parameters
    ----------
    model : supported model (eval mode is set here)
    probe : torch.Tensor
        Images (N, C, H, W) for ResNet / ViT / TinyUNet, token ids (N, T) for GPT-2 / BERT.
    t : int, optional
        Diffusion timestep for TinyUNet (required there).
    """
    from lsa.models.resnet import ResNet
    from lsa.models.unet import TinyUNet
    from lsa.models.vit import ViT

    model.eval()
    if not isinstance(probe, torch.Tensor):
        raise ValueError(f"probe must be a torch.Tensor, got {type(probe).__name__}")
    if isinstance(model, (ResNet, ViT, TinyUNet)):
        c_in = (
            model.stem[0] if isinstance(model, ResNet) else model.patch if isinstance(model, ViT) else model.inp
        ).in_channels
        if probe.ndim != 4 or probe.shape[1] != c_in:
            raise ValueError(
                f"probe batch for {type(model).__name__} must have shape (N, {c_in}, H, W), got {tuple(probe.shape)}"
            )
    elif probe.ndim != 2 or probe.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"probe for a language model must be integer token ids of shape (N, T), got "
            f"{tuple(probe.shape)} {probe.dtype}"
        )
    if isinstance(model, ResNet):
        blocks = list(model.blocks)
        ins = _capture(model, blocks, lambda: model(probe))
        out = []
        for b, (blk, (a, _)) in enumerate(zip(blocks, ins)):
            ci, co = blk.conv1.in_channels, blk.conv2.out_channels
            out.append(
                Factor(
                    f"block{b}",
                    MeanChannelJacobian(blk, a[0], 1, chunk),
                    f"stream{ci}",
                    f"stream{co}",
                    "J",
                    "transition" if ci != co else "block",
                )
            )
        return out
    if isinstance(model, ViT):
        ins = _capture(model, list(model.blocks), lambda: model(probe))
        out = []
        for i, (b, (a, _)) in enumerate(zip(model.blocks, ins)):
            out += _sublayer_factors(i, b.attn_sub, b.mlp_sub, a[0], chunk)
        return out
    if isinstance(model, TinyUNet):
        if t is None:
            raise ValueError("TinyUNet factors need the diffusion timestep t")
        blocks = model.factor_blocks()
        tt = torch.full((probe.shape[0],), int(t), dtype=torch.long)
        ins = _capture(model, [m for _, m in blocks], lambda: model(probe, tt))
        out = []
        for (name, m), (a, _) in zip(blocks, ins):
            x, e = a[0], a[1] if len(a) > 1 else None
            out.append(
                Factor(f"t{t}.{name}", MeanChannelJacobian(lambda h, m=m, e=e: m(h, e), x, 1, chunk), "mid", "mid", "J")
            )
        return out
    if hasattr(model, "set_attn_implementation"):  # fused SDPA kernels lack forward-mode AD
        model.set_attn_implementation("eager")
    tf = getattr(model, "transformer", model)
    if hasattr(tf, "h") and hasattr(tf, "wte"):  # GPT-2 (pre-LN)
        ins = _capture(model, list(tf.h), lambda: model(probe))
        out = []
        for i, (b, (a, k)) in enumerate(zip(tf.h, ins)):
            x = a[0] if a else k["hidden_states"]
            mask = k.get("attention_mask", a[2] if len(a) > 2 else None)
            f_att = lambda h, b=b, mask=mask: h + b.attn(b.ln_1(h), attention_mask=mask)[0]
            f_mlp = lambda h, b=b: h + b.mlp(b.ln_2(h))
            out += _sublayer_factors(i, f_att, f_mlp, x, chunk)
        return out
    enc = getattr(model, "encoder", None)
    if enc is not None and hasattr(enc, "layer") and hasattr(enc.layer[0], "intermediate"):  # BERT (post-LN)
        layers = list(enc.layer)
        ins = _capture(model, layers, lambda: model(input_ids=probe))
        out = []
        for i, (l, (a, k)) in enumerate(zip(layers, ins)):
            x = a[0] if a else k["hidden_states"]
            mask = a[1] if len(a) > 1 else k.get("attention_mask")
            f_att = lambda h, l=l, mask=mask: l.attention(h, mask)[0]
            f_mlp = lambda h, l=l: l.output(l.intermediate(h), h)
            out += _sublayer_factors(i, f_att, f_mlp, x, chunk)
        return out
    raise TypeError(f"cannot map the blocks of {type(model).__name__} to factors; supported: {SUPPORTED}")
