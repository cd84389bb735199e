"""Layer-level tests of lsa.prune: scores, masks, statistics, SparseGPT and EC against independent truth."""

import numpy as np
import pytest
import torch
from torch import nn

from lsa.prune.calibration import ChannelStats
from lsa.prune.compensation import ECConfig, apply_alpha, energy_alpha
from lsa.prune.masks import Pattern, check_mask, parse_pattern, select_mask
from lsa.prune.pipeline import PruneConfig, prune_layer
from lsa.prune.scores import CVRConfig, cvr_score, ria_score, wanda_score
from lsa.prune.sparsegpt import sparsegpt_prune, sparsegpt_unblocked


def _layer_data(d_out=48, d_in=64, t=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d_out, d_in, generator=g)
    X = torch.randn(t, d_in, generator=g) * torch.rand(d_in, generator=g) * 3
    X[:, :4] += 10.0  # offset-dominated channels
    X = X @ (torch.eye(d_in) + 0.3 * torch.randn(d_in, d_in, generator=g) / d_in**0.5)  # correlations
    return W, X


def _stats(X, gram=False, batches=4):
    s = ChannelStats(X.shape[1], gram=gram)
    for chunk in X.chunk(batches):
        s.add(chunk)
    return s


def _ref_scaler_row(X, batches=4):
    """Wanda's WrappedGPT.add_batch running mean, transcribed."""
    scaler, n = torch.zeros(X.shape[1]), 0
    for chunk in X.chunk(batches):
        b = 1
        scaler *= n / (n + b)
        n += b
        scaler += torch.norm(chunk.float(), p=2, dim=0) ** 2 / n
    return scaler


PATTERNS = [Pattern(0.5), Pattern(0.6), Pattern(0.7), Pattern(n=2, m=4), Pattern(n=4, m=8)]


@pytest.mark.parametrize("pat", PATTERNS, ids=lambda p: p.label)
def test_cvr_wanda_setting_equals_wanda_reference_mask(pat):
    W, X = _layer_data()
    st = _stats(X)
    # reference Wanda (prune_wanda of the published code), on its own running-mean statistic
    metric = W.abs() * torch.sqrt(_ref_scaler_row(X).reshape(1, -1))
    ref_prune = torch.zeros_like(metric, dtype=torch.bool)
    if pat.is_nm:
        for ii in range(metric.shape[1]):
            if ii % pat.m == 0:
                tmp = metric[:, ii : ii + pat.m].float()
                ref_prune.scatter_(1, ii + torch.topk(tmp, pat.n, dim=1, largest=False)[1], True)
    else:
        idx = torch.sort(metric, dim=-1, stable=True)[1][:, : int(metric.shape[1] * pat.sparsity)]
        ref_prune.scatter_(1, idx, True)
    wanda = select_mask(wanda_score(W, st.second_moment), pat, "row")
    cvr = select_mask(cvr_score(W, st.second_moment, st.var, CVRConfig(a=1, gamma=0, weight_term="abs")), pat, "row")
    assert torch.equal(wanda, ~ref_prune)
    assert torch.equal(cvr, wanda)
    assert check_mask(cvr, pat, "row")


@pytest.mark.parametrize("pat", PATTERNS, ids=lambda p: p.label)
def test_cvr_ria_setting_equals_ria_mask(pat):
    W, X = _layer_data(seed=1)
    st = _stats(X)
    ria = select_mask(ria_score(W, st.second_moment, a=0.5), pat, "layer")
    cvr = select_mask(
        cvr_score(W, st.second_moment, st.var, CVRConfig(a=0.5, gamma=0, weight_term="relative")), pat, "layer"
    )
    assert torch.equal(cvr, ria)
    # reference RIA metric (prune_ria of the published code) and its threshold rule
    Wa = W.abs()
    metric = (Wa / Wa.sum(0) + Wa / Wa.sum(1).reshape(-1, 1)) * torch.sqrt(_ref_scaler_row(X)) ** 0.5
    if pat.is_nm:
        ref = torch.zeros_like(metric, dtype=torch.bool)
        for ii in range(metric.shape[1]):
            if ii % pat.m == 0:
                ref.scatter_(1, ii + torch.topk(metric[:, ii : ii + pat.m], pat.n, dim=1, largest=False)[1], True)
        assert torch.equal(ria, ~ref)
    else:
        thresh = torch.sort(metric.flatten())[0][int(W.numel() * pat.sparsity)]
        ref = metric <= thresh  # reference prunes k+1 entries; ours exactly k, all among them
        assert int(ref.sum()) == int(W.numel() * pat.sparsity) + 1
        assert bool((~ria <= ref).all()) and int((~ria).sum()) == int(W.numel() * pat.sparsity)


def test_mask_counts_exact_for_every_group():
    g = torch.Generator().manual_seed(3)
    S = torch.rand(37, 40, generator=g)
    for s in (0.0, 0.3, 0.5, 0.77):
        row = select_mask(S, Pattern(s), "row")
        assert ((~row).sum(1) == int(40 * s)).all()
        lay = select_mask(S, Pattern(s), "layer")
        assert int((~lay).sum()) == int(S.numel() * s)
        # the pruned entries are the lowest scores
        if s > 0:
            assert S[~lay].max() <= S[lay].min()
    nm = select_mask(S, Pattern(n=3, m=8), "row")
    assert ((~nm).reshape(37, 5, 8).sum(-1) == 3).all()
    with pytest.raises(ValueError, match="divisible"):
        select_mask(torch.rand(4, 6), Pattern(n=2, m=4))


@pytest.mark.parametrize("bad", [1.0, -0.1, "4:4", "5:4", "0:4", "abc", "150%"])
def test_bad_patterns_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_pattern(bad)


def test_bad_config_names_the_knob():
    with pytest.raises(ValueError, match="method"):
        PruneConfig(method="wandaa")
    with pytest.raises(ValueError, match="EC mode"):
        PruneConfig(ec_mode="foo")
    with pytest.raises(ValueError, match="weight_term"):
        PruneConfig(cvr_weight_term="rel")


def test_channel_stats_float64_merging_matches_two_pass():
    rng = np.random.default_rng(0)
    x = 1e4 + rng.standard_normal((5000, 7)) * np.array([1e-3, 1e-2, 0.1, 1, 10, 100, 1e3])
    st = ChannelStats(7, gram=True)
    for chunk in np.array_split(x, 13):
        st.add(torch.from_numpy(chunk))
    np.testing.assert_allclose(st.mean.numpy(), x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(st.var.numpy(), x.var(0), rtol=1e-8)
    np.testing.assert_allclose(st.gram.numpy(), x.T @ x, rtol=1e-12)
    assert st.n == 5000


@pytest.mark.parametrize("pat", [Pattern(0.5), Pattern(n=2, m=4)], ids=lambda p: p.label)
def test_sparsegpt_matches_independent_obs(pat):
    W, X = _layer_data(d_out=24, d_in=96, seed=2)
    H = 2 * X.T.double() @ X.double() / 4
    H[5, :] = 0
    H[:, 5] = 0  # a dead input
    new, keep = sparsegpt_prune(W, H, pat, blocksize=32, exact_count=False)
    ref, ref_keep = sparsegpt_unblocked(W, H, pat, 32)
    assert torch.equal(keep, ref_keep)
    torch.testing.assert_close(new, ref, rtol=1e-4, atol=1e-4)
    assert bool((new[~keep] == 0).all())
    # in float64 the blocked, lazily updated form and the unblocked one agree to round-off
    new64, keep64 = sparsegpt_prune(W, H, pat, blocksize=32, exact_count=False, dtype=torch.float64)
    ref64, ref_keep64 = sparsegpt_unblocked(W, H, pat, 32, dtype=torch.float64)
    assert torch.equal(keep64, ref_keep64) and float((new64 - ref64).abs().max()) < 1e-9


def _out_err(W, Wn, X):
    return float(((X.double() @ (W - Wn).double().T) ** 2).sum())


def test_sparsegpt_error_not_above_wanda_and_dense_at_zero_sparsity():
    W, X = _layer_data(d_out=64, d_in=128, t=2048, seed=4)
    st = _stats(X, gram=True)
    errs = {}
    for method in ("wanda", "sparsegpt"):
        lin = nn.Linear(128, 64, bias=False)
        lin.weight.data.copy_(W)
        prune_layer(lin, st, PruneConfig(method=method, pattern="50%"))
        errs[method] = _out_err(W, lin.weight.data, X)
    assert errs["sparsegpt"] <= errs["wanda"]
    new, keep = sparsegpt_prune(W, st.gram, Pattern(0.0))
    assert keep.all()
    torch.testing.assert_close(new, W)


def test_ec_keeps_mask_and_matches_closed_form():
    W, X = _layer_data(seed=5)
    st = _stats(X, gram=True)
    keep = select_mask(cvr_score(W, st.second_moment, st.var), Pattern(0.5), "row")
    P = W * keep
    alpha, info = energy_alpha(W, P, st.mean, st.var, ECConfig(mode="mv", alpha_min=1e-3, alpha_max=1e3))
    # direct evaluation with the explicit covariance model C = diag(σ²) + μμᵀ
    C = torch.diag(st.var) + torch.outer(st.mean, st.mean)
    Wd, Pd = W.double(), P.double()
    direct = torch.sqrt(torch.diag(Wd @ C @ Wd.T) / torch.diag(Pd @ C @ Pd.T))
    torch.testing.assert_close(alpha, direct, rtol=1e-10, atol=0)
    new = apply_alpha(P, alpha)
    assert int((new == 0).sum()) == int((P == 0).sum())
    # diag mode: C = diag(m), always α ≥ 1 (pruning only removes energy)
    a_diag, _ = energy_alpha(W, P, st.mean, st.var, ECConfig(mode="diag", alpha_max=1e3))
    assert bool((a_diag >= 1).all())
    # zero sparsity → α = 1
    a0, _ = energy_alpha(W, W.clone(), st.mean, st.var, ECConfig())
    torch.testing.assert_close(a0, torch.ones_like(a0))


def test_ec_exact_single_token_reproduces_energy_ratio_and_ls_is_least_squares():
    W, X = _layer_data(seed=6)
    P = W * select_mask(W.abs(), Pattern(0.5), "row")
    x = X[:1]
    st = _stats(x, gram=True, batches=1)
    cfg = ECConfig(mode="exact", alpha_min=1e-6, alpha_max=1e6)
    alpha, _ = energy_alpha(W, P, st.mean, st.var, cfg, st.covariance_second_moment())
    yd, yp = (x.double() @ W.double().T)[0], (x.double() @ P.double().T)[0]
    torch.testing.assert_close(alpha**2, yd**2 / yp**2, rtol=1e-8, atol=0)
    # ls_exact: α_i minimises ||X W_iᵀ − α X P_iᵀ||² (closed-form 1-D least squares)
    st2 = _stats(X, gram=True)
    a_ls, _ = energy_alpha(
        W,
        P,
        st2.mean,
        st2.var,
        ECConfig(mode="ls_exact", alpha_min=1e-6, alpha_max=1e6),
        st2.covariance_second_moment(),
    )
    Yd, Yp = X.double() @ W.double().T, X.double() @ P.double().T
    ref = (Yd * Yp).sum(0) / (Yp * Yp).sum(0)
    torch.testing.assert_close(a_ls, ref, rtol=1e-8, atol=0)
    # layer granularity gives one α
    a_layer, _ = energy_alpha(W, P, st2.mean, st2.var, ECConfig(granularity="layer"))
    assert torch.unique(a_layer).numel() == 1


def test_fidelity_metrics_and_outlier_inputs():
    from lsa.prune.fidelity import mean_cosine, retrieval_accuracy, sentence_pairs
    from lsa.prune.outliers import OutlierConfig, layer_errors, outlier_inputs

    g = torch.Generator().manual_seed(7)
    q = torch.randn(20, 8, generator=g)
    assert retrieval_accuracy(q, q) == 1.0 and mean_cosine(q, 3 * q) == pytest.approx(1.0)
    keys = q.clone()
    keys[[0, 1]] = keys[[1, 0]]  # two swapped keys: exactly those two queries miss
    assert retrieval_accuracy(q, keys) == pytest.approx(18 / 20)
    qs, ks = sentence_pairs([["a", "b", "c", "d"], ["e", "f"]], 10)
    assert sorted(zip(qs, ks)) == [("a", "b"), ("c", "d"), ("e", "f")]
    cfg = OutlierConfig(d_in=32, d_out=8, n_tokens=4000, n_offset=2, n_spread=2)
    x = outlier_inputs(cfg, 4000, seed=1).double()
    assert x[:, 0].mean() == pytest.approx(20, abs=0.05) and x[:, 1].mean() == pytest.approx(-20, abs=0.05)
    assert x[:, 0].std() == pytest.approx(0.2, rel=0.1) and x[:, 2].std() == pytest.approx(5, rel=0.2)
    assert x[:, 4:].std() == pytest.approx(1.0, rel=0.15)  # unit-variance Student-t
    W = torch.randn(8, 32, generator=g)
    assert layer_errors(W, W, x.float()) == {"raw": 0.0, "centred": 0.0}
    W2 = W.clone()
    W2[:, 0] = 0  # removing an offset channel's weights: the error is almost all offset
    err = layer_errors(W, W2, x.float())
    assert err["raw"] > 10 * err["centred"]
