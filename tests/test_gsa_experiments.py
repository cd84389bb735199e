"""Input checks of the Part II chapter drivers (lsa.experiments.pam_heatmaps)."""

import pytest

from lsa.experiments.pam_heatmaps import MODELS, HeatmapsConfig


def test_heatmaps_config_refuses_bad_input_before_work():
    with pytest.raises(ValueError, match="scale must be"):
        HeatmapsConfig(scale="huge")
    with pytest.raises(ValueError, match="unknown model"):
        HeatmapsConfig(models=("resnet", "lstm"), small={"resnet": {}})
    with pytest.raises(ValueError, match="small-scale configs missing"):
        HeatmapsConfig(models=("resnet", "vit"), small={"resnet": {}})
    assert HeatmapsConfig(models=("minilm",)).models == ("minilm",)
    assert HeatmapsConfig(scale="paper").models == MODELS


def test_paper_scale_trained_model_is_trained_not_the_random_twin(monkeypatch):
    """At paper scale without checkpoints the 'trained' model is trained at the standard size (never the twin
    under the same seed); with checkpoints, the weights are loaded into the twin's architecture."""
    from lsa.experiments import pam_heatmaps as ph
    from lsa.gsa import suite

    calls = []

    def fake_trained(kind, seed, trained, **overrides):
        calls.append((kind, trained, overrides))
        return f"{kind}-{'trained' if trained else 'twin'}", {}

    monkeypatch.setattr(ph, "trained", fake_trained)
    monkeypatch.setattr(suite, "load_weights", lambda model, path: (model, path))
    cfg = HeatmapsConfig(scale="paper")
    assert ph.load_model("resnet", True, cfg) == "resnet-trained"
    assert ph.load_model("resnet", False, cfg) == "resnet-twin"
    assert calls == [("resnet", True, suite.PAPER_CONFIGS["resnet"]), ("resnet", False, suite.PAPER_CONFIGS["resnet"])]
    with_ckpt = HeatmapsConfig(scale="paper", checkpoint_dir="/ckpt")
    assert ph.load_model("vit", True, with_ckpt) == ("vit-twin", "/ckpt/vit.pt")
