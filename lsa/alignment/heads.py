"""Weight-only attention diagnostics: per-head read/write subspaces, overlaps and commutators.

Per head ``h`` (model width ``d``, head width ``d_h``): read subspaces ``row(W_Q^h)``, ``row(W_K^h)``,
``row(W_V^h)`` and write subspace ``col(W_O^h)`` in the residual stream ``R^d``. Overlap
``ov(S, S') = ‖Q_Sᵀ Q_S'‖_F² / d_h`` (mean cos² of the principal angles; chance ``d_h / d``).
Per-head commutators: OV ``[W_O^hᵀ W_O^h, W_V^h W_V^hᵀ]`` and QK ``[W_K^h W_K^hᵀ, W_Q^h W_Q^hᵀ]`` (``d_h × d_h``);
MLP ``[W_outᵀ W_out, W_in W_inᵀ]`` in the ``4d`` hidden space.

Layouts (math orientation ``out × in``): BERT (``nn.Linear``), GPT-2 (``Conv1D``, transposed, fused
``c_attn``) and LLaMA (``q/k/v/o_proj`` with grouped-query K/V heads, gated MLP). LayerNorm/RMSNorm gains
``γ`` that feed a read matrix are folded in (``W diag(γ)``) when ``fold_ln=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lsa.linalg import as_float64

KINDS = ("q", "k", "v", "o")


@dataclass
class BlockWeights:
    """Float64 weights of one transformer block in ``out × in`` orientation (LN gains folded if asked)."""

    index: int
    Wq: np.ndarray  # (H d_h, d)
    Wk: np.ndarray  # (H_kv d_h, d)
    Wv: np.ndarray  # (H_kv d_h, d)
    Wo: np.ndarray  # (d, H d_h)
    mlp_in: dict = field(default_factory=dict)  # name -> (n_ff, d)
    mlp_out: np.ndarray | None = None  # (d, n_ff)
    n_heads: int = 1
    n_kv_heads: int = 1

    @property
    def d_head(self) -> int:
        return self.Wq.shape[0] // self.n_heads

    @property
    def d_model(self) -> int:
        return self.Wq.shape[1]

    def head(self, kind: str, h: int) -> np.ndarray:
        """Head ``h``'s matrix: ``W_Q^h``, ``W_K^h``, ``W_V^h`` (``d_h × d``) or ``W_O^h`` (``d × d_h``)."""
        dh = self.d_head
        g = h // (self.n_heads // self.n_kv_heads)  # grouped-query: K/V head shared by a group
        if kind == "q":
            return self.Wq[h * dh : (h + 1) * dh]
        if kind == "k":
            return self.Wk[g * dh : (g + 1) * dh]
        if kind == "v":
            return self.Wv[g * dh : (g + 1) * dh]
        if kind == "o":
            return self.Wo[:, h * dh : (h + 1) * dh]
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _gain(ln, fold: bool):
    return as_float64(ln.weight) if (fold and ln is not None and getattr(ln, "weight", None) is not None) else None


def _fold(W, gain):
    return W if gain is None else W * gain[None, :]


def unwrap_transformer(model):
    """The bare transformer inside a task wrapper (``GPT2LMHeadModel.transformer``, ``LlamaForCausalLM.model``…)."""
    for attr in ("transformer", "model", "bert", "roberta"):
        inner = getattr(model, attr, None)
        if inner is not None and hasattr(inner, "named_modules") and inner is not model:
            if any(hasattr(inner, a) for a in ("h", "layers", "encoder")):
                return inner
    return model


def transformer_layout(model) -> str | None:
    """``"bert"``, ``"gpt2"``, ``"llama"`` or ``None`` when ``model`` is not one of these layouts."""
    m = unwrap_transformer(model)
    if (
        hasattr(m, "encoder")
        and hasattr(m.encoder, "layer")
        and len(m.encoder.layer)
        and hasattr(m.encoder.layer[0], "attention")
    ):
        return "bert"
    if hasattr(m, "h") and len(m.h) and hasattr(m.h[0], "attn") and hasattr(m.h[0].attn, "c_attn"):
        return "gpt2"
    if (
        hasattr(m, "layers")
        and len(m.layers)
        and hasattr(m.layers[0], "self_attn")
        and hasattr(m.layers[0].self_attn, "q_proj")
    ):
        return "llama"
    return None


def _check_block(block, path: str, required: tuple[str, ...]):
    for name in required:
        obj = block
        for part in name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise ValueError(
                    f"cannot map module {path} ({type(block).__name__}): it has no {name!r}; "
                    f"supported layouts are BERT, GPT-2 and LLaMA blocks"
                )


def transformer_blocks(model, fold_ln: bool = True) -> tuple[str, list[BlockWeights]]:
    """Extract every block's attention and MLP weights.

    Parameters
    ----------
    model : transformers model
        BERT-style (``BertModel`` and wrappers), GPT-2-style or LLaMA-style.
    fold_ln : bool
        Fold the LayerNorm/RMSNorm gain feeding Q/K/V and the MLP input into those read matrices.

    Returns
    -------
    layout : str
    blocks : list of BlockWeights

    Raises
    ------
    ValueError
        Naming the module that could not be mapped.
    """
    m = unwrap_transformer(model)
    layout = transformer_layout(model)
    cfg = getattr(model, "config", None) or getattr(m, "config", None)
    blocks = []
    if layout == "bert":
        H = cfg.num_attention_heads
        prev_ln = getattr(getattr(m, "embeddings", None), "LayerNorm", None)
        for i, blk in enumerate(m.encoder.layer):
            path = f"encoder.layer.{i}"
            _check_block(
                blk, path, ("attention.self.query", "attention.output.dense", "intermediate.dense", "output.dense")
            )
            att = blk.attention
            g_in, g_mlp = _gain(prev_ln, fold_ln), _gain(att.output.LayerNorm, fold_ln)
            blocks.append(
                BlockWeights(
                    i,
                    _fold(as_float64(att.self.query.weight), g_in),
                    _fold(as_float64(att.self.key.weight), g_in),
                    _fold(as_float64(att.self.value.weight), g_in),
                    as_float64(att.output.dense.weight),
                    {"in": _fold(as_float64(blk.intermediate.dense.weight), g_mlp)},
                    as_float64(blk.output.dense.weight),
                    H,
                    H,
                )
            )
            prev_ln = blk.output.LayerNorm
    elif layout == "gpt2":
        H = cfg.n_head
        for i, blk in enumerate(m.h):
            path = f"h.{i}"
            _check_block(blk, path, ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"))
            W = as_float64(blk.attn.c_attn.weight).T  # Conv1D stores (in, out)
            d = W.shape[1]
            g1, g2 = _gain(blk.ln_1, fold_ln), _gain(blk.ln_2, fold_ln)
            blocks.append(
                BlockWeights(
                    i,
                    _fold(W[:d], g1),
                    _fold(W[d : 2 * d], g1),
                    _fold(W[2 * d :], g1),
                    as_float64(blk.attn.c_proj.weight).T,
                    {"in": _fold(as_float64(blk.mlp.c_fc.weight).T, g2)},
                    as_float64(blk.mlp.c_proj.weight).T,
                    H,
                    H,
                )
            )
    elif layout == "llama":
        H = cfg.num_attention_heads
        H_kv = getattr(cfg, "num_key_value_heads", None) or H
        for i, blk in enumerate(m.layers):
            path = f"layers.{i}"
            _check_block(
                blk,
                path,
                (
                    "self_attn.q_proj",
                    "self_attn.k_proj",
                    "self_attn.v_proj",
                    "self_attn.o_proj",
                    "mlp.up_proj",
                    "mlp.down_proj",
                ),
            )
            a = blk.self_attn
            g1, g2 = _gain(blk.input_layernorm, fold_ln), _gain(blk.post_attention_layernorm, fold_ln)
            mlp_in = {"up": _fold(as_float64(blk.mlp.up_proj.weight), g2)}
            if getattr(blk.mlp, "gate_proj", None) is not None:
                mlp_in["gate"] = _fold(as_float64(blk.mlp.gate_proj.weight), g2)
            blocks.append(
                BlockWeights(
                    i,
                    _fold(as_float64(a.q_proj.weight), g1),
                    _fold(as_float64(a.k_proj.weight), g1),
                    _fold(as_float64(a.v_proj.weight), g1),
                    as_float64(a.o_proj.weight),
                    mlp_in,
                    as_float64(blk.mlp.down_proj.weight),
                    H,
                    H_kv,
                )
            )
    else:
        first = next((f"{n} ({type(c).__name__})" for n, c in m.named_children()), type(m).__name__)
        raise ValueError(
            f"cannot map module {type(m).__name__}: no BERT (encoder.layer.*.attention), GPT-2 "
            f"(h.*.attn.c_attn) or LLaMA (layers.*.self_attn.q_proj) blocks found; first child: {first}"
        )
    return layout, blocks


def _orth(A) -> np.ndarray:
    """Orthonormal basis of ``col(A)`` (tall ``A``): QR when well conditioned, SVD when rank-deficient."""
    Q, R = np.linalg.qr(A)
    d = np.abs(np.diag(R))
    if d.size and d.min() > 1e-10 * d.max():
        return Q
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    r = int(np.sum(s > max(A.shape) * np.finfo(float).eps * (s[0] if s.size else 0)))
    return U[:, :r]


def head_bases(block: BlockWeights, kind: str) -> list[np.ndarray]:
    """Orthonormal bases (``d × d_h``) of each head's read (``q``, ``k``, ``v``) or write (``o``) subspace."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    mats = [block.head(kind, h) for h in range(block.n_heads)]
    return [_orth(M) if kind == "o" else _orth(M.T) for M in mats]


def overlap_matrix(bases_a, bases_b=None, d_head: int | None = None) -> np.ndarray:
    """Matrix of ``ov(S_h, S'_h') = ‖Q_hᵀ Q'_h'‖_F² / d_h`` between two lists of orthonormal bases."""
    bases_b = bases_a if bases_b is None else bases_b
    d_head = d_head or bases_a[0].shape[1]
    A, B = np.concatenate(bases_a, 1), np.concatenate(bases_b, 1)
    G = (A.T @ B) ** 2
    ia = np.cumsum([0] + [b.shape[1] for b in bases_a])
    ib = np.cumsum([0] + [b.shape[1] for b in bases_b])
    S = np.add.reduceat(np.add.reduceat(G, ia[:-1], axis=0), ib[:-1], axis=1)
    return S / d_head


def mean_offdiag(M) -> float:
    """Mean of the off-diagonal entries of a square matrix (within-layer head-pair average)."""
    M = np.asarray(M)
    return float(M[~np.eye(len(M), dtype=bool)].mean()) if len(M) > 1 else float("nan")


def layer_head_bases(block: BlockWeights) -> dict[str, list[np.ndarray]]:
    """:func:`head_bases` of every kind (``q``, ``k``, ``v``, ``o``) of one block."""
    return {k: head_bases(block, k) for k in KINDS}


def within_overlaps(bases: dict, d_head: int) -> dict[str, np.ndarray]:
    """``H × H`` head-overlap matrix of each kind within one block (bases from :func:`layer_head_bases`)."""
    return {k: overlap_matrix(bases[k], d_head=d_head) for k in KINDS}


def cross_overlap_means(bases_l: dict, bases_next: dict, d_head: int) -> dict[str, float]:
    """Mean ``ov(O_h(l), kind_h'(l+1))`` of block ``l``'s head writes with block ``l+1``'s Q, K, V reads."""
    return {k: float(overlap_matrix(bases_l["o"], bases_next[k], d_head).mean()) for k in ("q", "k", "v")}


def head_overlaps(blocks: list[BlockWeights]) -> dict:
    """Within-layer (per kind) and cross-layer (write of ``l`` → reads of ``l+1``) head overlap summaries.

    Returns
    -------
    dict
        ``within[kind]``: list over layers of ``H × H`` matrices; ``within_mean[kind]``: list of their
        off-diagonal means; ``cross_mean[kind]``: list over ``l`` of mean ``ov(O_h(l), kind_h'(l+1))``;
        ``chance``: ``d_h / d``.
    """
    bases = [layer_head_bases(blk) for blk in blocks]
    per_layer = [within_overlaps(b, blk.d_head) for b, blk in zip(bases, blocks)]
    within = {k: [w[k] for w in per_layer] for k in KINDS}
    cross_l = [cross_overlap_means(bases[l], bases[l + 1], blocks[l].d_head) for l in range(len(blocks) - 1)]
    return {
        "within": within,
        "within_mean": {k: [mean_offdiag(M) for M in within[k]] for k in KINDS},
        "cross_mean": {k: [c[k] for c in cross_l] for k in ("q", "k", "v")},
        "chance": blocks[0].d_head / blocks[0].d_model,
    }


def head_commutator_pairs(block: BlockWeights) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per-head adjacent pairs ``(W_l, W_next)`` for :func:`~lsa.alignment.commutator.commutator_magnitude`.

    OV: ``(W_V^h, W_O^h)`` (hidden space = head space); QK: ``(W_Q^h, W_K^hᵀ)`` so that
    ``P = W_K^h W_K^hᵀ`` and ``Q = W_Q^h W_Q^hᵀ``.
    """
    return {
        "ov": [(block.head("v", h), block.head("o", h)) for h in range(block.n_heads)],
        "qk": [(block.head("q", h), block.head("k", h).T) for h in range(block.n_heads)],
    }
