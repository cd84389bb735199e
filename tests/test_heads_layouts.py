"""Head subspaces, overlaps and transformer weight layouts (BERT, GPT-2, LLaMA built from configs)."""

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel

from lsa.alignment.heads import head_bases, head_overlaps, overlap_matrix, transformer_blocks
from lsa.linalg import random_orthogonal

D, H = 32, 4


def tiny(kind):
    torch.manual_seed(0)
    if kind == "gpt2":
        m = GPT2Model(GPT2Config(n_layer=2, n_embd=D, n_head=H, vocab_size=50, n_positions=16))
    elif kind == "bert":
        m = BertModel(
            BertConfig(
                num_hidden_layers=2,
                hidden_size=D,
                num_attention_heads=H,
                intermediate_size=4 * D,
                vocab_size=50,
                max_position_embeddings=16,
            )
        )
    else:
        m = LlamaModel(
            LlamaConfig(
                num_hidden_layers=2,
                hidden_size=D,
                num_attention_heads=H,
                num_key_value_heads=2,
                intermediate_size=3 * D,
                vocab_size=50,
            )
        )
    with torch.no_grad():  # non-trivial norm gains so that folding matters
        for n, p in m.named_parameters():
            if p.ndim == 1 and ("ln" in n.lower() or "norm" in n.lower()) and n.endswith("weight"):
                p.uniform_(0.5, 2.0)
    return m.double().eval()


def normalise(x, rms=False, eps=1e-5):
    if rms:
        return x / torch.sqrt((x**2).mean(-1, keepdim=True) + 1e-6)
    mu, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
    return (x - mu) / torch.sqrt(var + eps)


@pytest.mark.parametrize("kind", ["gpt2", "bert", "llama"])
def test_folded_read_matrices_reproduce_module_outputs(kind):
    m = tiny(kind)
    _, blocks = transformer_blocks(m, fold_ln=True)
    x = torch.randn(5, D, dtype=torch.float64)
    b = blocks[1]
    if kind == "gpt2":
        blk = m.h[1]
        q_mod = blk.attn.c_attn(blk.ln_1(x))[:, :D]
        v_mod = blk.attn.c_attn(blk.ln_1(x))[:, 2 * D :]
        xh, q_lin = normalise(x), torch.from_numpy(b.Wq)
        const = blk.ln_1.bias @ blk.attn.c_attn.weight[:, :D] + blk.attn.c_attn.bias[:D]
        cv = blk.ln_1.bias @ blk.attn.c_attn.weight[:, 2 * D :] + blk.attn.c_attn.bias[2 * D :]
        np.testing.assert_allclose((xh @ q_lin.T + const).detach(), q_mod.detach(), atol=1e-10)
        np.testing.assert_allclose((xh @ torch.from_numpy(b.Wv).T + cv).detach(), v_mod.detach(), atol=1e-10)
        out_mod = blk.attn.c_proj(x[:, :D]) - blk.attn.c_proj.bias
        np.testing.assert_allclose(out_mod.detach(), x @ torch.from_numpy(b.Wo).T, atol=1e-10)
    elif kind == "bert":
        ln = m.encoder.layer[0].output.LayerNorm  # feeds layer 1
        q_mod = m.encoder.layer[1].attention.self.query(ln(x))
        lin = m.encoder.layer[1].attention.self.query
        const = ln.bias @ lin.weight.T + lin.bias
        np.testing.assert_allclose(
            (normalise(x, eps=ln.eps) @ torch.from_numpy(b.Wq).T + const).detach(), q_mod.detach(), atol=1e-10
        )
        ln2 = m.encoder.layer[1].attention.output.LayerNorm
        inter = m.encoder.layer[1].intermediate.dense
        np.testing.assert_allclose(
            (
                normalise(x, eps=ln2.eps) @ torch.from_numpy(b.mlp_in["in"]).T + ln2.bias @ inter.weight.T + inter.bias
            ).detach(),
            inter(ln2(x)).detach(),
            atol=1e-10,
        )
    else:
        blk = m.layers[1]
        q_mod = blk.self_attn.q_proj(blk.input_layernorm(x))
        np.testing.assert_allclose(
            (normalise(x, rms=True) @ torch.from_numpy(b.Wq).T).detach(), q_mod.detach(), atol=1e-6
        )
        assert b.Wk.shape == (2 * D // H, D) and b.head("k", 3) is not None
        np.testing.assert_array_equal(b.head("k", 2), b.head("k", 3))  # grouped-query: heads 2,3 share K
        assert set(b.mlp_in) == {"up", "gate"}


def test_overlap_matrix_closed_forms():
    rng = np.random.default_rng(0)
    Q = random_orthogonal(12, rng)
    bases = [Q[:, 0:3], Q[:, 3:6], Q[:, 0:3] @ random_orthogonal(3, rng)]
    M = overlap_matrix(bases)
    np.testing.assert_allclose(np.diag(M), 1.0, atol=1e-12)
    assert M[0, 1] == pytest.approx(0.0, abs=1e-12) and M[0, 2] == pytest.approx(1.0, abs=1e-12)
    # partial overlap: span(e1,e2,e3) vs span(e1, e4, e5): cos² sum = 1 → 1/3
    E = np.eye(6)
    assert overlap_matrix([E[:, :3]], [E[:, [0, 3, 4]]])[0, 0] == pytest.approx(1 / 3)


def test_random_heads_at_chance():
    torch.manual_seed(1)
    m = GPT2Model(GPT2Config(n_layer=2, n_embd=128, n_head=8, vocab_size=10, n_positions=8))
    _, blocks = transformer_blocks(m)
    ov = head_overlaps(blocks)
    for kind in "qkvo":
        for v in ov["within_mean"][kind]:
            assert v == pytest.approx(ov["chance"], rel=0.2)
    assert len(ov["cross_mean"]["q"]) == 1
    assert all(b.shape == (128, 16) for b in head_bases(blocks[0], "o"))
    with pytest.raises(ValueError, match="kind"):
        head_bases(blocks[0], "x")


def test_linear_cka_properties():
    from lsa.alignment.cka import linear_cka

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 10))
    assert linear_cka(X, X) == pytest.approx(1.0)
    Q = random_orthogonal(10, rng)
    assert linear_cka(X, 3.0 * X @ Q + 5.0) == pytest.approx(1.0)
    # closed form for independent Gaussians: small; for Y = X[:, :1] (rank-1 subset) known value
    Y = rng.standard_normal((200, 10))
    assert linear_cka(X, Y) < 0.2
    # one shared coordinate among isotropic features: CKA = (1) / sqrt(10 · 1) ≈ 0.316 in expectation
    assert linear_cka(X, X[:, :1]) == pytest.approx(1 / np.sqrt(10), abs=0.06)
    with pytest.raises(ValueError):
        linear_cka(X, Y[:5])
