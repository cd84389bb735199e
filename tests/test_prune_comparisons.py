"""Metric names and comparisons of a pruning grid (lsa.prune.comparisons)."""

import pytest

from lsa.prune.comparisons import cell_metrics, comparison_metrics, metric_name, pattern_key


def test_metric_names_follow_the_ledger_spelling():
    assert metric_name("ppl", "cvr+ec", "50%") == "ppl_cvr_ec_50pct"
    assert metric_name("ppl", "wanda", "0.6") == "ppl_wanda_60pct"
    assert metric_name("acc", "magnitude", "2:4") == "acc_magnitude_2_4"
    assert pattern_key("4:8") == "4_8"
    assert cell_metrics({("cvr+ec", "2:4"): 3, ("wanda", "50%"): 2.5}, "ppl") == {
        "ppl_cvr_ec_2_4": 3.0,
        "ppl_wanda_50pct": 2.5,
    }


@pytest.mark.parametrize("bad", ["cvr ec", "", "wanda/ec"])
def test_bad_method_label_is_rejected(bad):
    with pytest.raises(ValueError, match="method label"):
        metric_name("ppl", bad, "50%")


def test_bad_pattern_is_rejected():
    with pytest.raises(ValueError):
        metric_name("ppl", "wanda", "half")


def test_comparisons_compute_ratios_and_worst_from_the_values():
    values = {
        ("magnitude", "50%"): 9.0,
        ("wanda", "50%"): 4.0,
        ("sparsegpt", "50%"): 3.0,
        ("cvr+ec", "50%"): 3.6,
        ("magnitude", "2:4"): 5.0,
        ("wanda", "2:4"): 6.0,
        ("cvr+ec", "2:4"): 6.6,
    }
    out = comparison_metrics(values, ["50%", "2:4"])
    assert out["magnitude_worst_50pct"] is True
    assert out["magnitude_worst_2_4"] is False  # wanda (6.0) and cvr+ec (6.6) are worse than magnitude (5.0)
    assert out["ratio_cvr_ec_over_wanda_50pct"] == pytest.approx(0.9)
    assert out["ratio_cvr_ec_over_sparsegpt_50pct"] == pytest.approx(1.2)
    assert out["ratio_cvr_ec_over_wanda_2_4"] == pytest.approx(1.1)
    # cells that were not run give no comparison (ria, cvr are absent; no sparsegpt at 2:4)
    assert not any("ria" in k or k.endswith("over_cvr_50pct") for k in out)
    assert "ratio_cvr_ec_over_sparsegpt_2_4" not in out
