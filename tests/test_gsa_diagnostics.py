"""The Gram-average and token-local diagnostics of mode-J factors (lsa.gsa.jacobian), against closed forms."""

import numpy as np
import torch

from lsa.gsa.jacobian import MeanChannelJacobian, gram_vs_mean, token_local_difference

C, T, N = 5, 4, 6


def test_linear_block_has_equal_gram_and_mean_spectra():
    W = torch.randn(C, C, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    op = MeanChannelJacobian(lambda h: h @ W.T, torch.randn(N, T, C, dtype=torch.float64))
    out = gram_vs_mean(op, W.numpy())
    np.testing.assert_allclose(out["s_mean"], np.linalg.svd(W.numpy(), compute_uv=False), rtol=1e-10)
    assert abs(out["margin"]) < 1e-10 and abs(out["energy_ratio"] - 1) < 1e-10 and out["mean_rel_err"] < 1e-12


def test_input_dependent_block_has_gram_excess():
    W = torch.randn(C, C, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    op = MeanChannelJacobian(lambda h: torch.tanh(3 * h @ W.T), torch.randn(N, T, C, dtype=torch.float64))
    out = gram_vs_mean(op)
    assert out["margin"] >= -1e-12 and out["energy_ratio"] > 1.01 and out["mean_rel_err"] is None


def test_token_wise_block_is_token_local_and_mixing_block_is_not():
    x = torch.randn(N, T, C, dtype=torch.float64)
    W = torch.randn(C, C, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    tokenwise = MeanChannelJacobian(lambda h: torch.tanh(h @ W.T), x)
    assert token_local_difference(tokenwise)["rel_diff"] < 1e-12
    mixing = MeanChannelJacobian(lambda h: h + h.mean(dim=1, keepdim=True) @ W.T, x)
    assert token_local_difference(mixing)["rel_diff"] > 0.1


def test_token_table_checks_mlp_blocks_on_a_subset_and_measures_attention_on_every_sequence():
    from types import SimpleNamespace

    import pytest

    from lsa.experiments.gsa_spectra import SpectraRun, token_table

    x = torch.randn(N, T, C, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    W = torch.randn(C, C, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    blocks = {"h0.mlp": lambda h: torch.tanh(h @ W.T), "h0.attn": lambda h: h + torch.tanh(h.cumsum(1)) @ W.T}
    factors = []
    for name, fn in blocks.items():
        op = MeanChannelJacobian(fn, x)
        factors.append(SimpleNamespace(factor=SimpleNamespace(name=name, op=op), spec=SimpleNamespace(dense=op.dense)))
    run = SpectraRun(chains={}, taps={}, analyses={("GPT J", "trained"): factors, ("GPT J", "random"): factors})
    full, sub = token_table(run), token_table(run, mlp_sequences=2)
    assert list(full.n_sequences) == [N] * 4 and list(sub.n_sequences) == [2, N, 2, N]
    assert (sub[sub.sub_block == "mlp"].rel_diff < 1e-12).all()  # the guarantee holds on any subset
    ref = token_local_difference(MeanChannelJacobian(blocks["h0.attn"], x))  # computed independently
    attn = sub[(sub.sub_block == "attn") & (sub.init == "trained")].iloc[0]
    assert attn.rel_diff == pytest.approx(ref["rel_diff"], rel=1e-12) and attn.rel_diff > 0.01
    assert token_table(run, mlp_sequences=N + 5).n_sequences.tolist() == [N] * 4
    with pytest.raises(ValueError, match="mlp_sequences must be a positive integer"):
        token_table(run, mlp_sequences=0)
