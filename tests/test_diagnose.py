"""lsa.alignment.diagnose: tidy table, agreement with the pair functions, errors on unmappable modules."""

import numpy as np
import pytest
import torch
from torch import nn

from lsa.alignment.commutator import commutator_direct
from lsa.alignment.diagnose import _pair_rows, conv_as_read, conv_as_write, diagnose
from lsa.alignment.imbalance import imbalance_norms
from lsa.alignment.levels import level_scores
from lsa.models.mlp import MLP
from lsa.models.resnet import ResNet


def test_mlp_table_matches_pair_functions():
    model = MLP((6, 10, 9, 3), "tanh", generator=torch.Generator().manual_seed(0))
    df = diagnose(model, null_draws=10)
    assert list(df.columns) == ["layer", "pair", "kind", "head", "metric", "value"]
    W = [w.detach().numpy() for w in model.weights()]
    for l in range(2):
        row = df[df.layer == l].set_index("metric").value
        assert row["commutator"] == pytest.approx(commutator_direct(W[l], W[l + 1]), rel=1e-8)
        assert row["imbalance_total"] == pytest.approx(imbalance_norms(W[l], W[l + 1])["total"], rel=1e-12)
        assert row["level2_soft"] == pytest.approx(level_scores(W[l], W[l + 1])["level2_soft"], rel=1e-12)
        assert np.isfinite(row["commutator_z"])


def test_wide_pair_path_matches_dense():
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((50, 8)), rng.standard_normal((6, 50))
    wide = {m: v for *_, m, v in _pair_rows(0, "p", "mlp", W1, W2, 0, 0, 0.9)}
    dense = imbalance_norms(W1, W2)
    for k in dense:
        assert wide[f"imbalance_{k}"] == pytest.approx(dense[k], rel=1e-9)
    assert wide["commutator"] == pytest.approx(commutator_direct(W1, W2), rel=1e-7)


def test_conv_reshape_gives_channel_grams():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((5, 3, 3, 3)), rng.standard_normal((4, 5, 3, 3))
    Q = np.einsum("aijk,bijk->ab", A, A)  # write Gram over channels of the shared space
    P = np.einsum("oajk,objk->ab", B, B)  # read Gram
    Wl, Wn = conv_as_write(A), conv_as_read(B)
    np.testing.assert_allclose(Wl @ Wl.T, Q, atol=1e-10)
    np.testing.assert_allclose(Wn.T @ Wn, P, atol=1e-10)


def test_resnet_and_sequential():
    df = diagnose(ResNet(1, 10, (8, 16), batchnorm=True), null_draws=0)
    assert set(df.pair) == {"block0.conv1-conv2", "block1.conv1-conv2", "block1.conv2-fc"}
    seq = nn.Sequential(nn.Linear(4, 7), nn.ReLU(), nn.Linear(7, 5), nn.GELU(), nn.Linear(5, 2))
    assert diagnose(seq, null_draws=0).layer.nunique() == 2


def test_unmappable_modules_named():
    with pytest.raises(ValueError, match=r"'1'.*LSTM"):
        diagnose(nn.Sequential(nn.Linear(4, 4), nn.LSTM(4, 4)))
    with pytest.raises(ValueError, match="reads 6 features"):
        diagnose(nn.Sequential(nn.Linear(4, 5), nn.Linear(6, 2)))

    class Weird(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = object()
            self.blocks = nn.ModuleList([nn.Linear(2, 2)])

    with pytest.raises(ValueError, match="cannot map module Weird"):
        diagnose(Weird())
    with pytest.raises(ValueError, match="null_draws"):
        diagnose(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), null_draws=1)


def test_transformer_rows():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=20, n_positions=8))
    df = diagnose(m, null_draws=8)
    assert set(df.kind) == {"mlp", "ov", "qk", "head_overlap", "mlp_write_read"}
    assert len(df[(df.kind == "ov") & (df.metric == "commutator")]) == 2 * 4
    mw = df[df.kind == "mlp_write_read"]
    assert set(mw.pair) == {"mlp->q(next)", "mlp->k(next)", "mlp->v(next)", "mlp->mlp.in(next)", "mlp->(next)"}
    assert set(mw.layer) == {0} and ((mw.value >= 0) & (mw.value <= 1)).all()
    c = df[df.metric == "commutator"].value
    assert ((c >= 0) & (c <= np.sqrt(2))).all()


def test_llama_and_bert_rows():
    from transformers import BertConfig, BertModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    llama = LlamaForCausalLM(
        LlamaConfig(
            num_hidden_layers=2,
            hidden_size=32,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=64,
            vocab_size=30,
        )
    )
    df = diagnose(llama, null_draws=4)
    assert {"mlp.up-out", "mlp.gate-out"} <= set(df.pair)
    assert len(df[(df.kind == "qk") & (df.metric == "commutator")]) == 2 * 4
    bert = BertModel(
        BertConfig(
            num_hidden_layers=2,
            hidden_size=32,
            num_attention_heads=4,
            intermediate_size=64,
            vocab_size=30,
            max_position_embeddings=8,
        )
    )
    assert set(diagnose(bert, null_draws=0).kind) == {"mlp", "ov", "qk", "head_overlap", "mlp_write_read"}


def test_parallel_table_equals_serial_and_n_jobs_checked():
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    m = GPT2Model(GPT2Config(n_layer=3, n_embd=32, n_head=4, vocab_size=20, n_positions=8))
    key = ["layer", "pair", "kind", "head", "metric"]
    serial = diagnose(m, null_draws=6, n_jobs=1).sort_values(key).reset_index(drop=True)
    par = diagnose(m, null_draws=6, n_jobs=2).sort_values(key).reset_index(drop=True)
    assert (serial[key] == par[key]).all().all()
    np.testing.assert_allclose(par.value, serial.value, rtol=1e-10, atol=1e-12)
    assert len(par[par.metric == "cross_mean"]) == 2 * 3  # writes of l → q, k, v reads of l + 1
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs"):
            diagnose(m, n_jobs=bad)


def test_mlp_write_read_energy_closed_cases():
    from lsa.alignment.diagnose import mlp_write_read_energy
    from lsa.linalg import random_orthogonal

    rng = np.random.default_rng(0)
    Q = random_orthogonal(40, rng)
    U, U_perp = Q[:, :6], Q[:, 6:]
    assert mlp_write_read_energy(U, rng.standard_normal((9, 6)) @ U.T) == pytest.approx(1.0, abs=1e-12)
    assert mlp_write_read_energy(U, rng.standard_normal((9, 34)) @ U_perp.T) == pytest.approx(0.0, abs=1e-12)
    # isotropic reads: E = k / d; with 20000 rows the share is within a few per cent of it
    assert mlp_write_read_energy(U, rng.standard_normal((20000, 40))) == pytest.approx(6 / 40, rel=0.05)
