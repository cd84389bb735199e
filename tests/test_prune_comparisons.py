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


def test_baseline_fidelity_compares_only_cells_with_published_numbers():
    from lsa.experiments.pruning_perplexity import baseline_fidelity
    from lsa.prune.reference import WANDA_README_LLAMA2, published_model

    assert published_model("facebook/opt-125m") == "OPT-125M"
    assert published_model("/models/Llama-2-7b-hf") == "LLaMA-2-7B" and published_model("small-gpt") is None
    pub = WANDA_README_LLAMA2["LLaMA-2-7B"]
    ours = {("wanda", "50%"): pub["50%"]["wanda"] + 0.04, ("cvr+ec", "50%"): 6.0, ("wanda", "2:4"): 11.0}
    res = baseline_fidelity("meta-llama/Llama-2-7b-hf", ours, dense_ppl=pub["dense"]["dense"] - 0.01)
    assert res["n_compared"] == 3  # dense, wanda 50 %, wanda 2:4; CVR+EC has no published number
    assert res["max_abs_diff"] == pytest.approx(0.04)
    (row,) = [r for r in res["rows"] if r["method"] == "cvr+ec"]
    assert row["published"] is None and "not reported" in row["source_or_reason"]
    opt = baseline_fidelity("facebook/opt-125m", ours, dense_ppl=27.0)
    assert opt["n_compared"] == 0 and opt["max_abs_diff"] is None
    assert all("could not read" in r["source_or_reason"] for r in opt["rows"])


def test_paper_scale_note_names_the_inputs_and_the_command():
    from lsa.experiments.pruning_perplexity import paper_scale_note

    note = paper_scale_note("pruning_perplexity", "small-gpt")
    assert "not testable here" in note and "OPT-125M" in note
    assert (
        "lsa run pruning_perplexity --profile paper -p model=PATH -p wikitext_path=PATH -p c4_train_path=PATH" in note
    )
    assert "c4_val_path" in note and "-p c4_val_path" not in note  # optional input listed, not required
    assert "not testable" not in paper_scale_note("pruning_cost", "/models/opt-125m")


def test_make_setup_refuses_a_window_longer_than_the_small_gpt_context():
    from lsa.prune.setups import make_setup

    with pytest.raises(ValueError, match="exceeds the small GPT's context of 128 bytes"):
        make_setup("small-gpt", "cpu", seqlen=4096)
