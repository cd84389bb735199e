"""Every Hugging Face load of the library is offline by construction (through lsa.models.hf.from_local)."""

from __future__ import annotations

import ast

import pytest

from lsa.models.hf import from_local
from lsa.paths import PACKAGE_ROOT


def test_every_from_pretrained_goes_through_from_local():
    offenders = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        if path == PACKAGE_ROOT / "models" / "hf.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "from_pretrained":
                    offenders.append(f"{path.relative_to(PACKAGE_ROOT)}:{node.lineno}")
    assert offenders == []


def test_a_model_that_is_not_local_is_an_error_naming_it(monkeypatch):
    from transformers import AutoConfig

    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-hf-cache")
    with pytest.raises(OSError, match="'nobody/no-such-model' is not available offline"):
        from_local(AutoConfig, "nobody/no-such-model")
    with pytest.raises(ValueError, match="never downloads"):
        from_local(AutoConfig, "x", local_files_only=False)


def test_the_packaged_minilm_loads_offline():
    from lsa.models.minilm import load_minilm

    model, tok = load_minilm()
    assert model.config.num_hidden_layers == 6 and tok("a b")["input_ids"][0] == tok.cls_token_id
