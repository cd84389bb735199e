"""Tests of the small GPT of Part III: recipe determinism, cache round trip, shipped checkpoint."""

import pytest
import torch

from lsa.data.checksums import sha256_file, verify
from lsa.models.gpt import GPTConfig, build_gpt, load_or_train_gpt, load_shipped_gpt, train_gpt

TINY = GPTConfig(n_layer=1, n_embd=32, n_head=2, seqlen=32, steps=12, batch_size=4, warmup=2)


def _ids():
    return torch.tensor(list(b"the quick brown fox jumps over the lazy dog. " * 40), dtype=torch.long)


def test_training_is_deterministic_learns_and_replays():
    ids = _ids()
    m1, log1 = train_gpt(ids, TINY)
    _, log2 = train_gpt(ids, TINY, max_steps=4)
    assert log2["loss"] == pytest.approx(log1["loss"][:4], rel=1e-5)
    assert sum(log1["loss"][-3:]) < sum(log1["loss"][:3])  # a repetitive text is learnt quickly
    assert m1.config.vocab_size == 256 and m1.lm_head.weight.data_ptr() == m1.transformer.wte.weight.data_ptr()


def test_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path))
    ids = _ids()
    m1, _, cached1 = load_or_train_gpt(ids, TINY, "key")
    m2, _, cached2 = load_or_train_gpt(ids, TINY, "key")
    assert not cached1 and cached2
    x = ids[:32][None]
    torch.testing.assert_close(m1(input_ids=x).logits, m2(input_ids=x).logits)
    _, _, cached3 = load_or_train_gpt(ids, TINY, "other-data")
    assert not cached3


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="steps"):
        GPTConfig(steps=0)
    with pytest.raises(ValueError, match="longer than"):
        train_gpt(torch.arange(10), TINY)


def test_shipped_checkpoint_matches_recipe_and_data():
    model, cfg, meta = load_shipped_gpt()
    assert cfg == GPTConfig()  # the recipe in the code is the one that made the shipped weights
    assert meta["data_sha256"] == sha256_file(verify("text/docs.jsonl.gz"))
    assert len(meta["loss"]) == cfg.steps and meta["loss"][-1] < meta["loss"][0] - 2.0
    assert verify("text/gpt/small_gpt.safetensors").stat().st_size <= 20_000_000
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in build_gpt(cfg).parameters())
