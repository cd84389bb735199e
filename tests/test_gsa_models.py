"""Tests of the Part II model code: TinyViT / TinyUNet / GPT-2 / BERT factor extraction against direct
computations, local checkpoint loading (with random weights), probes, and bad input."""

import numpy as np
import pytest
import torch

from lsa.gsa.factors import _capture, conv_dc, jacobian_factors, static_factors
from lsa.gsa.suite import load_weights, select_pairs
from lsa.gsa.zoo import VOCAB, bracket_corpus, build_model, encode_text, trained
from lsa.models.resnet import ResNet
from lsa.models.unet import TinyUNet, linear_schedule, noise
from lsa.models.vit import ViT


def _gpt():
    return build_model("gpt", {"n_layer": 2, "n_embd": 16, "n_head": 2, "n_inner": 32, "ctx": 16}, seed=0).eval()


def test_subblock_factors_compose_to_the_blocks():
    torch.manual_seed(0)
    vit = ViT(16, 4, 1, 10, 16, 2, 2, 32).eval()
    x = torch.randn(3, 1, 16, 16)
    fs = jacobian_factors(vit, x)
    h = vit.tokens(x)
    with torch.no_grad():
        assert torch.allclose(fs[1].op.fn(fs[0].op.fn(h)), vit.blocks[0](h), atol=1e-6)
    gpt = _gpt()
    ids = torch.randint(0, len(VOCAB), (2, 8))
    outs = []
    hook = gpt.transformer.h[1].register_forward_hook(lambda m, a, o: outs.append(o))
    with torch.no_grad():
        gpt(ids)
    hook.remove()
    fs = jacobian_factors(gpt, ids)
    x1 = _capture(gpt, list(gpt.transformer.h), lambda: gpt(ids))[1][0][0]
    with torch.no_grad():
        y = fs[3].op.fn(fs[2].op.fn(x1))
    o = outs[0][0] if isinstance(outs[0], tuple) else outs[0]
    assert torch.allclose(y, o, atol=1e-5)
    # causal: the attention factor at token 0 ignores later tokens
    x2 = x1.clone()
    x2[:, -1] += 1.0
    with torch.no_grad():
        assert torch.allclose(fs[0].op.fn(x2)[:, 0], fs[0].op.fn(x1)[:, 0], atol=1e-6)


def test_static_factors_fold_batchnorm_and_layernorm():
    torch.manual_seed(0)
    net = ResNet(1, 10, (4,), 1).eval()
    bn = net.blocks[0].bn1
    with torch.no_grad():
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 2.0)
    W1 = static_factors(net)[0].op
    # DC response of conv1 + BN scale (bias ignored) on a constant field, away from the zero-padded border
    v = torch.randn(4)
    x = v[None, :, None, None].expand(1, 4, 7, 7)
    with torch.no_grad():
        y = net.blocks[0].conv1(x) * (bn.weight / torch.sqrt(bn.running_var + bn.eps))[None, :, None, None]
    assert np.allclose(W1 @ v.numpy(), y[0, :, 3, 3].numpy(), atol=1e-5)
    assert np.allclose(conv_dc(net.blocks[0].conv2.weight), net.blocks[0].conv2.weight.detach().sum((2, 3)).numpy())
    gpt = _gpt()
    with torch.no_grad():
        gpt.transformer.h[0].ln_1.weight.uniform_(0.5, 2.0)
    fs = static_factors(gpt)
    b = gpt.transformer.h[0]
    d = 16
    Wv = b.attn.c_attn.weight.detach().numpy()[:, 2 * d :].T * b.ln_1.weight.detach().numpy()[None]
    assert np.allclose(fs[0].op, Wv) and [f.name for f in fs[:4]] == ["L0.W_V", "L0.W_O", "L0.W_up", "L0.W_down"]


def test_unet_factors_schedule_and_checkpoint(tmp_path):
    torch.manual_seed(0)
    u = TinyUNet(1, (8, 16)).eval()
    x = torch.randn(2, 1, 16, 16)
    fs = jacobian_factors(u, x, t=50)
    assert [f.shape for f in fs] == [(16, 16)] * 3
    with pytest.raises(ValueError, match="timestep"):
        jacobian_factors(u, x)
    ab = linear_schedule(100)
    assert torch.all(ab[1:] < ab[:-1]) and 0 < ab[-1] < ab[0] < 1
    eps = torch.randn_like(x)
    t = torch.tensor([0, 99])
    xt = noise(x, t, ab, eps)
    assert torch.allclose(xt[1], ab[99].sqrt() * x[1] + (1 - ab[99]).sqrt() * eps[1])
    # local checkpoint round trip (random weights), then a mismatching and a corrupt file
    path = tmp_path / "unet.pt"
    torch.save(u.state_dict(), path)
    u2 = load_weights(TinyUNet(1, (8, 16)), str(path))
    assert all(torch.equal(a, b) for a, b in zip(u.state_dict().values(), u2.state_dict().values()))
    with pytest.raises(ValueError, match="does not match"):
        load_weights(TinyUNet(1, (16, 32)), str(path))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        load_weights(u, str(tmp_path / "bad.pt"))
    with pytest.raises(FileNotFoundError):
        load_weights(u, str(tmp_path / "missing.pt"))


def test_zoo_cache_and_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path))
    m1, cfg = trained("resnet", 0, widths=[4], blocks=1, epochs=1, batch=512)
    files = list((tmp_path / "cache" / "gsa").glob("resnet-*.pt"))
    assert len(files) == 1
    m2, _ = trained("resnet", 0, widths=[4], blocks=1, epochs=1, batch=512)  # reused from the cache
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    twin, _ = trained("resnet", 0, trained=False, widths=[4], blocks=1)
    assert not all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), twin.state_dict().values()))
    with pytest.raises(ValueError, match="unknown option"):
        trained("resnet", 0, width=[4])
    with pytest.raises(ValueError, match="unknown model kind"):
        trained("mlp")
    text = bracket_corpus(2000, seed=3)
    assert len(text) == 2000 and text == bracket_corpus(2000, seed=3) and set(text) <= set(VOCAB)
    assert encode_text("(1+2)\n").tolist() == [VOCAB.index(c) for c in "(1+2)\n"]
    with pytest.raises(ValueError, match="vocabulary"):
        encode_text("abc")
    with pytest.raises(ValueError, match="token ids"):
        jacobian_factors(_gpt(), torch.randn(2, 8))


def test_select_pairs_spreads_over_depth():
    fs = static_factors(ResNet(1, 10, (4, 8), 2))
    all_pairs = select_pairs(fs, None)
    three = select_pairs(fs, 3)
    assert len(three) == 3 and three[0] == all_pairs[0] and three[-1] == all_pairs[-1]
