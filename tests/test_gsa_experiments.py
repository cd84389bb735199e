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
