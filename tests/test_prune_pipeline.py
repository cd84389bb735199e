"""Model-level tests of lsa.prune: block capture/replay, the sequential pruner, perplexity, calibration."""

import copy
import math
import random

import pytest
import torch
from torch import nn

from lsa.prune.calibration import capture_block_inputs, find_blocks, find_linears, run_block, weight_view
from lsa.prune.perplexity import perplexity, perplexity_direct, sample_calibration, windows
from lsa.prune.pipeline import METHODS, PruneConfig, prune_model


@pytest.fixture(autouse=True, scope="module")
def _two_torch_threads():
    """These Hugging Face blocks prune faster on two torch threads; the session's setting is restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(n)


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(
        GPT2Config(vocab_size=64, n_positions=32, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
    ).eval()


def _llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
        )
    ).eval()


def _opt():
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(0)
    return OPTForCausalLM(
        OPTConfig(
            vocab_size=64,
            hidden_size=32,
            ffn_dim=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=64,
            word_embed_proj_dim=32,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=1,
        )
    ).eval()


def _bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    return BertModel(
        BertConfig(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=64,
        )
    ).eval()


MODELS = {"gpt2": _gpt2, "llama": _llama, "opt": _opt, "bert": _bert}


def _samples(n=4, L=16, seed=0, bert=False):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(2, 64, (1, L), generator=g)
        s = {"input_ids": ids}
        if bert:
            s["attention_mask"] = torch.ones_like(ids)
        out.append(s)
    return out


@pytest.mark.parametrize("arch", list(MODELS))
def test_capture_and_replay_reproduce_the_model(arch):
    model = MODELS[arch]()
    samples = _samples(bert=arch == "bert")
    blocks = find_blocks(model)
    assert len(blocks) == 2 and find_linears(blocks[0])
    inputs = capture_block_inputs(model, blocks, samples)
    for block in blocks:
        inputs.hidden = run_block(block, inputs)
    with torch.no_grad():
        for h, s in zip(inputs.hidden, samples):
            ref = model(**s, output_hidden_states=True).hidden_states[-1]
            if arch != "bert":  # decoders apply a final norm after the last block
                final_norm = {
                    "gpt2": lambda m: m.transformer.ln_f,
                    "llama": lambda m: m.model.norm,
                    "opt": lambda m: m.model.decoder.final_layer_norm,
                }[arch](model)
                h = final_norm(h)
            torch.testing.assert_close(h, ref, rtol=1e-4, atol=1e-4)


GRID = [("gpt2", m) for m in METHODS] + [("llama", "sparsegpt"), ("llama", "cvr"), ("bert", "ria")]


@pytest.mark.parametrize("arch,method", GRID)
def test_every_method_gives_exact_pattern(arch, method):
    model = MODELS[arch]()
    samples = _samples(bert=arch == "bert")
    for pattern in ("50%", "2:4"):
        m = copy.deepcopy(model)
        rep = prune_model(m, samples, PruneConfig(method=method, pattern=pattern, ec=method in ("cvr", "wanda")))
        assert rep["masks_ok"] and rep["ec_kept_mask"]
        assert abs(rep["sparsity"] - 0.5) < 1e-3
        for block in find_blocks(m):
            for mod in find_linears(block).values():
                W = weight_view(mod)
                zeros = (W == 0).reshape(W.shape[0], -1, 4).sum(-1)
                if pattern == "2:4":
                    assert bool((zeros >= 2).all())
                elif method in ("wanda", "cvr"):
                    assert bool(((W == 0).sum(1) >= W.shape[1] // 2).all())
        assert set(rep["time_s"]) == {"calibration", "scoring", "compensation", "total"}


@pytest.mark.parametrize("method", METHODS)
def test_zero_sparsity_returns_dense_model(method):
    model = _gpt2()
    m = copy.deepcopy(model)
    ids = torch.randint(0, 64, (200,), generator=torch.Generator().manual_seed(1))
    prune_model(m, _samples(), PruneConfig(method=method, pattern="0.0", ec=method != "sparsegpt"))
    for (n, p), (_, q) in zip(model.named_parameters(), m.named_parameters()):
        torch.testing.assert_close(p, q, rtol=2e-6, atol=2e-6, msg=n)
    assert perplexity(m, ids, 16) == pytest.approx(perplexity(model, ids, 16), rel=1e-5)


def test_find_blocks_error_names_the_model():
    with pytest.raises(ValueError, match="Sequential"):
        find_blocks(nn.Sequential(nn.ReLU(), nn.Tanh()))


class _Uniform(nn.Module):
    """A 'model' with constant logits: perplexity is the vocabulary size exactly."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids):
        class Out:
            pass

        o = Out()
        o.logits = torch.zeros(*input_ids.shape, self.vocab) + self.p
        return o


def test_perplexity_closed_form_and_independent_loop():
    ids = torch.randint(0, 50, (1000,))
    assert perplexity(_Uniform(50), ids, 64) == pytest.approx(50.0, rel=1e-6)  # float32 log-softmax
    model = _gpt2()
    ids = torch.randint(0, 64, (16 * 7 + 5,), generator=torch.Generator().manual_seed(2))
    a = perplexity(model, ids, 16, batch_size=3)
    b = perplexity_direct(model, ids, 16)
    # HF's own loss as a third computation
    with torch.no_grad():
        losses = [model(input_ids=w[None], labels=w[None]).loss for w in windows(ids, 16)]
    c = math.exp(float(torch.stack(losses).mean()))
    assert a == pytest.approx(b, rel=1e-5) and a == pytest.approx(c, rel=1e-5)
    with pytest.raises(ValueError, match="shorter than one window"):
        perplexity(model, ids[:10], 16)


def test_calibration_sampling_follows_reference_rule():
    g = torch.Generator().manual_seed(0)
    docs = [torch.randint(0, 100, (n,), generator=g) for n in (5, 40, 17, 100, 33, 8)]
    got = sample_calibration(docs, 6, 16, seed=0)
    random.seed(0)  # the reference get_c4 loop, transcribed
    ref = []
    for _ in range(6):
        while True:
            i = random.randint(0, len(docs) - 1)
            if docs[i].numel() > 16:
                break
        j = random.randint(0, docs[i].numel() - 16 - 1)
        ref.append(docs[i][j : j + 16])
    assert all(torch.equal(s["input_ids"][0], r) for s, r in zip(got, ref))
    texts = ["a" * n for n in (5, 40, 17)]
    lazy = sample_calibration(texts, 3, 16, seed=1, encode=lambda t: torch.tensor([ord(c) for c in t]))
    assert all(s["input_ids"].shape == (1, 16) for s in lazy)
    with pytest.raises(ValueError, match="shorter than one window"):
        sample_calibration(docs, 2, 100)


def test_paper_path_on_a_local_hf_model_and_files(tmp_path):
    """The `paper` profile's path end to end, offline: a local OPT checkpoint (random, tiny) with a real
    tokenizer, WikiText-2 raw and C4 json.gz files written here in their formats."""
    import gzip
    import json
    import shutil

    from transformers import OPTConfig, OPTForCausalLM

    from lsa.models.minilm import minilm_path
    from lsa.prune.experiment import dense_perplexity_check, prune_grid
    from lsa.prune.setups import calibration_samples, hf_setup

    torch.manual_seed(0)
    model_dir = tmp_path / "tiny-opt"
    OPTForCausalLM(
        OPTConfig(
            vocab_size=30522,
            hidden_size=16,
            ffn_dim=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=64,
            word_embed_proj_dim=16,
            pad_token_id=0,
            bos_token_id=101,
            eos_token_id=102,
        )
    ).save_pretrained(model_dir)
    for f in minilm_path().iterdir():
        if "token" in f.name or f.name == "vocab.txt":
            shutil.copy(f, model_dir / f.name)
    text = " The quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat .\n"
    (tmp_path / "wiki.test.raw").write_text((" \n" + text) * 30)
    with gzip.open(tmp_path / "c4.json.gz", "wt") as f:
        for i in range(5):
            f.write(json.dumps({"text": text * (3 + i), "timestamp": "t", "url": "u"}) + "\n")
    setup = hf_setup(
        str(model_dir),
        str(tmp_path / "wiki.test.raw"),
        str(tmp_path / "c4.json.gz"),
        seqlen=16,
        device="cpu",
        dtype="float32",
    )
    samples = calibration_samples(setup, 3, 0, "cpu")
    dense = dense_perplexity_check(setup, None)
    assert dense["rel_diff"] < 1e-4
    rows = prune_grid(setup, ["wanda", "cvr+ec"], ["50%"], samples)
    assert all(r["masks_ok"] and abs(r["sparsity"] - 0.5) < 1e-3 for r in rows)
    with pytest.raises(ValueError, match="wikitext_path"):
        hf_setup(str(model_dir), "", str(tmp_path / "c4.json.gz"))
