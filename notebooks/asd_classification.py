# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # White-matter radiomics for ASD: how large must the effect be, and which mistakes fake it?
#
# ```{admonition} Claim box
# :class: note
# **What the paper claims** (Song et al., arXiv 2405.16248, abstract only): Pyradiomics features of
# MultiUNet-segmented white matter, classified by SVM, random forest, logistic regression and KNN, all exceed
# 80 % accuracy, the SVM reaching **89.47 %**; a CNN on the segmented white matter reaches **86.84 %**; the
# authors read this as a link between white-matter abnormalities and autism.
#
# **What we reconstructed** (the full text, data and settings are not public; every choice is on the page
# {ref}`asd-reconstruction`, the cohort and its calibration under {ref}`asd-cohort` and {ref}`asd-effect`):
# the pipeline on a *simulated* cohort built from nilearn's bundled MNI152 template -- smooth random warps,
# bias field, gain, Rician noise, optional sites -- with a diffuse white-matter hypo-intensity in the ASD
# group whose size `d` is calibrated as Cohen's d of a univariate WM/GM intensity summary.
# Features: Pyradiomics 3.0.1 with our shipped parameter file, inside the ground-truth WM mask (the
# segmentation chapter evaluates the MultiUNet masks). Classifiers: scikit-learn pipelines with
# every filter, scaler, selector and grid search fitted inside the training folds (nested CV).
#
# **What this chapter shows**: (1) the paper's numbers beside ours, with 95 % intervals, at an effect size we
# choose (it is *not* an estimate of the real ASD effect); (2) accuracy against `d` for each classifier;
# (3) whether at `d = 0` the accuracy of every classifier lies inside its permutation null; (4) the paper's
# single-split view with the CNN and McNemar's test; (5) how far one 38-subject test set can mislead, over
# many random splits; (6) how much a scanner-site imbalance inflates accuracy with no disease effect at all;
# (7) which features carry the signal. The paper's pipeline end to end (MultiUNet masks, grey-matter
# control, feature groups, CNN on matched folds) is the next chapter. The scale
# of this run (cohort size, resolution) is printed below; the `smoke` profile is a tiny 4 mm cohort. The
# `default` profile keeps the paper's cohort size (190) at 4 mm voxels: at 2 mm, rendering and Pyradiomics
# cost about 3.4 s per ASD subject against 0.7 s at 4 mm (measured on one CPU core), which alone would take
# this chapter past its five-minute budget on a 2-core laptop. The `paper` profile runs at 2 mm.
# Claims marked *abstract* are the paper's; *ours* are our reconstruction.
# ```

# %% tags=["profiles"]
PROFILES = {
    "smoke": {
        "n_subjects": 16,
        "n_jobs": 1,
        "resolution_mm": 4,
        "d_values": [0.0, 1.5, 4.0],
        "d_table": 4.0,
        "n_pilot": 8,
        "cv_folds": 3,
        "cv_repeats": 1,
        "n_permutations": 160,
        "rf_trees": 10,
        "site_agreements": [0.5, 0.95],
        "cnn_epochs": 2,
        "n_random_splits": 20,
        "timing_subjects": 1,
        "timing_resolution_mm": 4,
    },
    "default": {},
    "paper": {
        "resolution_mm": 2,
        "d_values": [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0],
        "grid": "full",
        "cv_repeats": 10,
        "n_permutations": 1000,
        "rf_trees": 500,
        "cnn_resolution_mm": 4,
        "cnn_epochs": 40,
        "site_agreements": [0.5, 0.65, 0.8, 0.95],
    },
}

# %% tags=["parameters"]
profile: str = "default"  # {smoke, default, paper} set by `lsa run --profile`
seed: int = 0  # [0, inf) cohort seed (subject i uses SeedSequence([seed, i])) and CV / model seed
n_subjects: int = 190  # [1, inf) balanced cohort size (38 test subjects at 80/20, as the paper's numbers imply)
resolution_mm: int = 4  # [1, inf) voxel size of the simulated images, mm (paper: 2)
effect_extent: str = "diffuse"  # {diffuse, focal} diffuse (all WM) | focal (six WM regions)
d_values: list[float] = [0.0, 0.5, 1.0, 2.0, 3.0]  # [0, inf) effect sizes (Cohen's d of the calibrated summary)
d_table: float = (
    1.0  # [0, inf) effect size of the paper-style table (must be in d_values; claim C1 is stated at d of 1)
)
n_pilot: int = 30  # [2, inf) calibration pilot subjects
shape_features: bool = False  # add the 14 shape features (mask only)
grid: str = "small"  # {small, full} hyper-parameter grid: small | full
cv_folds: int = 5  # [2, inf) outer stratified folds
cv_repeats: int = 1  # [1, inf) outer CV repeats
n_permutations: int = 200  # [1, inf) permutations of the no-effect null (at least 160, so that G1 can fail at 0.625 %)
rf_trees: int = 100  # [1, inf) random-forest trees
site_agreements: list[float] = [0.5, 0.8, 0.95]  # [0, 1] probability that site equals diagnosis (2 sites, no effect)
cnn_resolution_mm: int = 8  # [1, inf) CNN input voxel size, mm (paper profile 4 mm; 8 mm keeps the CPU run short)
cnn_epochs: int = 30  # [0, inf) CNN training epochs (0 skips the CNN)
n_random_splits: int = 200  # [1, inf) random stratified 80/20 splits of the single-split spread
timing_subjects: int = 2  # [1, inf) subjects timed for radiomics seconds per subject (no / our / stock shape)
timing_resolution_mm: int = 2  # [1, inf) voxel size of the timing subjects, mm
n_jobs: int = 2  # [1, inf) worker processes (subjects, CV fits, permutations, random splits)
cpu_threads: int = 1  # [1, inf) torch CPU threads (1 is fastest on the shared 2-core machine)
device: str = "auto"  # {auto, cpu, cuda} where torch computes (auto: CUDA when visible)

# %%
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from IPython.display import Markdown, display
from scipy import stats

import lsa
from lsa.experiments import asd_classification as driver
from lsa.mri import classify as C
from lsa.mri.cnn import CNNConfig
from lsa.mri.radiomics import seconds_per_subject
from lsa.mri.reference import PAPER_ACCURACY, PAPER_FLOOR, consistent_test_sizes, smallest_mcnemar_p
from lsa.mri.simulate import SimConfig, cached_calibration, cohens_d
from lsa.plotting import figsize, use_book_style

t_start = time.perf_counter()
use_book_style()
torch.set_num_threads(cpu_threads)
dev = lsa.device(device)
if d_table not in d_values:
    raise ValueError(f"d_table={d_table} must be one of d_values={d_values}")
if 0.0 not in d_values:
    raise ValueError("d_values must include 0.0 (the no-effect control)")
if cnn_epochs > 0 and cnn_resolution_mm % resolution_mm:
    raise ValueError(f"cnn_resolution_mm={cnn_resolution_mm} must be a multiple of resolution_mm={resolution_mm}")
cfg = SimConfig(
    n_subjects=n_subjects, resolution_mm=resolution_mm, effect_extent=effect_extent, n_pilot=n_pilot, seed=seed
)
S = driver.CVSettings(grid=grid, folds=cv_folds, repeats=cv_repeats, seed=seed, rf_trees=rf_trees, n_jobs=n_jobs)
t0 = time.perf_counter()
cal = cached_calibration(cfg)
t_calibration = time.perf_counter() - t0
print(
    f"cohort: {n_subjects} subjects ({n_subjects // 2} ASD / {n_subjects - n_subjects // 2} TD), "
    f"{resolution_mm} mm, {effect_extent} effect; device {dev}"
)
print(f"calibration: delta per unit d = {cal.delta_per_d:.4f} (WM {100 * cal.delta_per_d:.1f} % darker per unit d)")

# %% [markdown]
# ## Measurements
# Each subject is rendered **once**. Its image at every effect size shares the same anatomy, scanner and noise
# (a paired design); a control's image does not depend on the effect size, so its features are extracted
# once; the same subject scanned at the second site (for the site-confound section) shares everything but
# the scanner; the CNN input comes from the same render. Measurements are cached per subject.

# %%
t0 = time.perf_counter()
M = driver.measure(
    cfg, d_values, d_table, cal.delta_per_d, cnn_resolution_mm if cnn_epochs > 0 else None, shape_features, n_jobs
)
t_features = time.perf_counter() - t0
emp_d = [cohens_d(M.summary[d][M.y == 0], M.summary[d][M.y == 1]) for d in d_values]
n_features = driver.features_at(M, d_values[0], shape_features).shape[1]
print(f"{n_features} features per subject; measurement step {t_features:.1f} s (cached subjects are reused)")
print("summed seconds per stage over freshly measured subjects:", {k: round(v, 1) for k, v in M.seconds.items()})
print(pd.DataFrame({"requested d": d_values, "empirical d of the summary": np.round(emp_d, 2)}).to_string(index=False))

# %% [markdown]
# ## Accuracy against effect size
# Nested CV (outer stratified folds, inner 3-fold grid search on ROC AUC). The dashed line is the accuracy
# of the best univariate threshold on the calibrated summary itself, $\Phi(d/2)$: the radiomics pipeline
# never sees that summary, so the gap shows what whole-mask radiomics loses. The pooled out-of-fold
# interval in the table counts each subject once (`n_ci`), however many CV repeats there are.

# %%
t0 = time.perf_counter()
curve = driver.accuracy_vs_effect(M, d_values, S, shape_features)
t_cv = time.perf_counter() - t0
acc_vs_d_mean = curve.groupby("d")["accuracy"].mean().reindex(d_values).tolist()
d_oracle = 2 * stats.norm.ppf(PAPER_ACCURACY["SVM"])
fig, ax = plt.subplots(figsize=figsize("column", 0.6))
for m in C.MODELS:
    c = curve[curve.model == m]
    ax.errorbar(c.d, c.accuracy, yerr=c.sd, marker="o", capsize=3, label=m)
dd = np.linspace(0, max(d_values), 100)
ax.plot(dd, stats.norm.cdf(dd / 2), "k--", label=r"univariate oracle $\Phi(d/2)$")
ax.axhline(PAPER_ACCURACY["SVM"], color="grey", ls=":", label=f"paper's SVM ({100 * PAPER_ACCURACY['SVM']:.2f} %)")
ax.set(
    xlabel="effect size d (Cohen's d of the WM/GM summary)",
    ylabel="nested-CV accuracy (fraction; mean ± SD over folds)",
    title=(
        f"Mean accuracy {'rises' if all(np.diff(acc_vs_d_mean) >= 0) else 'does not rise monotonically'} with d; "
        f"{100 * PAPER_ACCURACY['SVM']:.2f} % needs d ≈ {d_oracle:.1f} even for the oracle"
    ),
)
ax.legend(fontsize=8)
lsa.save_figure(fig, "accuracy_vs_d")
plt.show()
curve.round(3)

# %% [markdown]
# ## The no-effect control: permutation nulls at d = 0
# With no effect, cross-validated accuracy of small cohorts scatters widely around -- and often below --
# 0.5. The right reference is the permutation null of the same pipeline and the same folds
# (fixed hyper-parameters: C = 0.1 for LR, the SVM/KNN defaults; tuning inside each permutation would cost a
# factor of the grid size; each permutation shuffles the labels of the whole cohort and refits the classifier on
# the same folds, whose label-free preprocessing is fitted once). Each accuracy should sit inside the central
# 98.75 % of its null: eight one-sided tests (four models, two tails), each at 0.625 %, keep the family-wise
# false-alarm rate of a correct pipeline at most 5 % (Bonferroni). A p-value can only fall below 0.625 % with at
# least 160 permutations, so the profiles use 160 (smoke) and 200 or more. This is a finding, not a guarantee: a
# correct pipeline fails it in up to 5 % of seeds.

# %%
t0 = time.perf_counter()
nulls = driver.permutation_nulls(M, S, n_permutations, shape_features)
t_null = time.perf_counter() - t0
alpha_tail = 0.05 / (2 * len(C.MODELS))
outside = [m for m in C.MODELS if min(nulls[m]["p_upper"], nulls[m]["p_lower"]) <= alpha_tail]
fig, axes = plt.subplots(1, 4, figsize=figsize("wide", 0.3), sharey=True)
for ax, m in zip(axes, C.MODELS):
    ax.hist(nulls[m]["null"], bins=15, alpha=0.7, label="permutation null")
    ax.axvline(nulls[m]["accuracy"], color="C3", lw=2, label=f"observed {nulls[m]['accuracy']:.2f}")
    ax.set(title=f"{m}: p_upper = {nulls[m]['p_upper']:.2f}", xlabel="CV accuracy at d = 0 (fraction)")
    ax.legend(fontsize=7)
axes[0].set_ylabel("permutations (count)")
fig.suptitle(
    f"At d = 0, {len(C.MODELS) - len(outside)} of {len(C.MODELS)} classifiers lie inside their permutation null "
    f"(each tail at {100 * alpha_tail:.3g} %)" + (f"; outside: {', '.join(outside)}" if outside else "")
)
lsa.save_figure(fig, "null_d0")
plt.show()
pd.DataFrame(
    {
        m: {
            "observed accuracy": v["accuracy"],
            "null mean": v["null"].mean(),
            "p_upper": v["p_upper"],
            "p_lower": v["p_lower"],
        }
        for m, v in nulls.items()
    }
).T.round(3)

# %% [markdown]
# ## The paper's numbers beside ours (one 80/20 split)
# The paper reports accuracy on what its numbers imply is a single test set of 38 subjects. We do the same
# at `d = d_table`, tuning on the training 80 % only, and give each accuracy its Wilson 95 % interval.
# The CNN is trained on the WM-masked, brain-z-scored images (ground-truth mask), pooled to
# `cnn_resolution_mm`. **The first column is the abstract's; the second is our inference from it** (the
# smallest test-set size at which both stated percentages are whole counts, and the Wilson interval of that
# count); **only the columns marked "ours" are computed from this run.**

# %%
t0 = time.perf_counter()
ccfg = CNNConfig(epochs=cnn_epochs, seed=seed) if cnn_epochs > 0 else None
H = driver.paper_holdout(M, d_table, S, ccfg, cnn_resolution_mm, dev)
t_holdout = time.perf_counter() - t0
tab, test = H["models"], H["test"]
if ccfg is None:
    print("CNN skipped (cnn_epochs = 0)")
n_implied, k_implied = consistent_test_sizes(PAPER_ACCURACY)[0]
paper = {m: f"{100 * PAPER_ACCURACY[m]:.2f} %" for m in PAPER_ACCURACY} | {
    m: f"> {100 * PAPER_FLOOR:.0f} % (value not given)" for m in ("RF", "LR", "KNN")
}
inferred = {
    m: "{}/{}; Wilson CI {:.1f}–{:.1f} %".format(k, n_implied, *(100 * x for x in C.wilson_ci(k, n_implied)))
    for m, k in k_implied.items()
} | {m: "–" for m in ("RF", "LR", "KNN")}
rows = list(C.MODELS) + (["CNN"] if "CNN" in tab else [])
pd.DataFrame(
    {
        "paper (abstract; real MRI, data not public)": {m: paper[m] for m in rows},
        f"our inference from the abstract (n_test = {n_implied})": {m: inferred[m] for m in rows},
        f"ours: accuracy (d = {d_table}, n_test = {len(test)})": {
            k: f"{100 * tab[k]['accuracy']:.1f} % ({tab[k]['correct']}/{tab[k]['n']})" for k in rows
        },
        "ours: Wilson 95 % CI": {k: f"{100 * tab[k]['acc_lo']:.1f}–{100 * tab[k]['acc_hi']:.1f} %" for k in rows},
        "ours: sensitivity": {k: round(tab[k]["sensitivity"], 2) for k in rows},
        "ours: specificity": {k: round(tab[k]["specificity"], 2) for k in rows},
        "ours: AUC": {k: round(tab[k]["auc"], 2) for k in rows},
        "ours: nested-CV accuracy": {
            m: f"{100 * curve[(curve.d == d_table) & (curve.model == m)].accuracy.item():.1f} %" for m in C.MODELS
        }
        | {"CNN": "–"},
    }
)

# %% [markdown]
# ### SVM against CNN on the same test subjects (McNemar)
# The abstract ranks the SVM (89.47 %) above the CNN (86.84 %): on 38 subjects that is one subject. Only the
# subjects on which the two disagree inform a paired comparison; McNemar's exact test asks whether those
# split unevenly. With the paper's own counts (34 and 33 of 38) the discordant subjects differ by one
# whatever their number, and the smallest two-sided p-value they allow is printed below.

# %%
p_paper_min = smallest_mcnemar_p(k_implied["SVM"], k_implied["CNN"], n_implied)
mc = H["mcnemar"]
if mc is None:
    c2_text = "The CNN was not trained in this run (cnn_epochs = 0), so there is no paired comparison."
else:
    cells = {
        "both right": mc["both"],
        "SVM right only": mc["a_only"],
        "CNN right only": mc["b_only"],
        "both wrong": mc["neither"],
    }
    fig, ax = plt.subplots(figsize=figsize("narrow", 0.6))
    ax.bar(list(cells), list(cells.values()), color=["C2", "C0", "C1", "C7"])
    ax.set(
        xlabel=f"SVM and CNN on the same {len(test)} test subjects (d = {d_table})",
        ylabel="subjects (count)",
        title=f"Discordant: {mc['a_only']} vs {mc['b_only']}; exact McNemar p = {mc['p']:.2f}",
    )
    ax.tick_params(axis="x", labelsize=8)
    lsa.save_figure(fig, "svm_vs_cnn_mcnemar")
    plt.show()
    c2_text = (
        f"Ours at d = {d_table}: SVM {tab['SVM']['correct']}/{len(test)} and CNN {tab['CNN']['correct']}/{len(test)} "
        f"correct; SVM right and CNN wrong on {mc['a_only']} subjects, the reverse on {mc['b_only']}: exact McNemar "
        f"p = {mc['p']:.3f}, so this run "
        + ("separates" if mc["p"] < 0.05 else "does not separate")
        + " the two models at the 5 % level."
    )
display(
    Markdown(
        f"With the paper's counts (our inference: {k_implied['SVM']} and {k_implied['CNN']} of {n_implied}) the "
        f"smallest possible McNemar p-value is {p_paper_min:.2f}: the abstract's ranking of SVM over CNN "
        + ("cannot" if p_paper_min >= 0.05 else "could")
        + f" be significant at 5 % on {n_implied} subjects. {c2_text}"
    )
)

# %% [markdown]
# ## How far can one test set of 38 subjects mislead?
# The same features, many random stratified 80/20 splits, the four classifiers with fixed hyper-parameters
# (tuning inside each split would multiply the cost by the grid size and would not narrow the spread that a
# 38-subject test set causes). For each model, and for the best of the four on each split (the number a
# paper that reports its best model shows), the distribution of test accuracy and the fraction of splits that
# reach the paper's 89.47 %.

# %%
t0 = time.perf_counter()
R = driver.random_splits(M, d_table, S, n_random_splits, PAPER_ACCURACY["SVM"])
t_splits = time.perf_counter() - t0
e3 = R["summary"]
long = R["splits"].melt(id_vars="split", var_name="model", value_name="accuracy")
fig, ax = plt.subplots(figsize=figsize("column", 0.55))
sns.violinplot(data=long, x="model", y="accuracy", cut=0, inner="quartile", ax=ax)
ax.axhline(PAPER_ACCURACY["SVM"], color="grey", ls=":", label=f"paper's SVM ({100 * PAPER_ACCURACY['SVM']:.2f} %)")
ax.set(
    xlabel="classifier (best = the highest of the four on each split)",
    ylabel=f"test accuracy (fraction, n_test = {R['n_test']})",
    title=(
        f"{n_random_splits} splits at d = {d_table}: single-split SVM accuracy spans "
        f"{100 * e3.loc['SVM', 'q2.5']:.0f}–{100 * e3.loc['SVM', 'q97.5']:.0f} %; "
        f"P(best of four ≥ {100 * PAPER_ACCURACY['SVM']:.2f} %) = {e3.loc['best', 'P(acc >= threshold)']:.3f}"
    ),
)
ax.legend(fontsize=8)
lsa.save_figure(fig, "random_splits")
plt.show()
p_binom = {
    m: float(stats.binom.sf(np.ceil(PAPER_ACCURACY["SVM"] * R["n_test"]) - 1, R["n_test"], e3.loc[m, "median"]))
    for m in C.MODELS
}
e3.assign(**{"binomial P(acc >= threshold) at the median": pd.Series(p_binom)}).round(3)

# %% [markdown]
# ## Can a site confound fake the effect?
# Two scanner sites, no disease effect (`d = 0`). Site 1 is noisier and has a stronger bias field; **how
# much** it differs is our choice (the simulator's site factors, printed below), so the size of the inflation
# shown here follows those factors and is no estimate for any real pair of scanners. When site tracks
# diagnosis (agreement > 0.5), a classifier can learn the scanner. Two references: a **covariate-only
# baseline** (logistic regression on site, age and WM volume, same nested CV: what knowing the scanner
# alone is worth), and, at the highest agreement, **leave-one-site-out CV** (train on one site, test on the
# other; black crosses; fixed hyper-parameters where a site is too unbalanced to tune). Each subject's
# features come from its render at the site it is drawn at, so every agreement uses the same subjects. What
# these show in this run is stated under the figure.

# %%
print(f"site factors (ours): site 1 noise x {cfg.site_noise_factor}, bias-field exponent x {cfg.site_bias_factor}")
t0 = time.perf_counter()
SC = driver.site_confound(cfg, M, site_agreements, S)
t_site = time.perf_counter() - t0
strat, covariate, lso = SC["site"], SC["covariate"], SC["leave_site_out"]
site_acc_mean = strat.groupby("agreement")["accuracy"].mean().reindex(site_agreements).tolist()
site_acc_covariate = covariate.accuracy.tolist()
fig, ax = plt.subplots(figsize=figsize("column", 0.6))
sns.lineplot(data=strat, x="agreement", y="accuracy", hue="model", marker="o", ax=ax)
ax.plot(covariate.agreement, covariate.accuracy, "k--", marker="s", label="covariates only (site, age, WM volume)")
ax.scatter(lso.agreement, lso.accuracy, marker="x", s=60, color="k", label="leave-site-out CV")
ax.axhline(0.5, color="grey", ls=":")
ax.set(
    xlabel="P(site = diagnosis) (no disease effect, d = 0)",
    ylabel="nested-CV accuracy (fraction)",
    title=(
        f"No disease effect: mean accuracy {100 * site_acc_mean[0]:.0f} % at agreement {site_agreements[0]} vs "
        f"{100 * site_acc_mean[-1]:.0f} % at {site_agreements[-1]}"
    ),
)
ax.legend(fontsize=8)
lsa.save_figure(fig, "site_confound")
plt.show()
gain = site_acc_mean[-1] - site_acc_mean[0]
text = (
    f"In this run the mean radiomics accuracy moves by {100 * gain:+.1f} points from agreement "
    f"{site_agreements[0]} to {site_agreements[-1]}; the covariate-only baseline reaches "
    f"{100 * site_acc_covariate[-1]:.0f} % at the highest agreement."
)
if lso.empty:
    text += " Leave-site-out CV could not run: at the highest agreement a site holds a single diagnosis."
else:
    text += (
        f" Leave-site-out CV gives {', '.join(f'{r.model} {100 * r.accuracy:.0f} %' for r in lso.itertuples())}"
        f" (mean {100 * lso.accuracy.mean():.0f} %): "
        + (
            "below chance, because each training site holds mostly one class and the test site differs in scanner, "
            "not in disease."
            if lso.accuracy.mean() < 0.5
            else "not below chance here."
        )
    )
display(Markdown(text))
pd.concat([strat, lso]).round(3)

# %% [markdown]
# ## Which features carry the signal?
# Random-forest importances (mean decrease in impurity) at the largest effect size, fitted on all subjects
# (descriptive only; no claim rests on it). The simulated effect is a WM hypo-intensity, so first-order
# intensity features of the z-scored image should lead.

# %%
d_max = max(d_values)
Xmax = driver.features_at(M, d_max, shape_features)
imp = C.feature_importance(Xmax.values, M.y, list(Xmax.columns), seed=seed, rf_trees=rf_trees)
top = pd.DataFrame(imp[:15], columns=["feature", "importance"])
top["class"] = top.feature.str.split("_").str[1]
fig, ax = plt.subplots(figsize=figsize("column", 0.6))
sns.barplot(data=top, y="feature", x="importance", hue="class", dodge=False, ax=ax)
ax.set(
    xlabel="RF importance (mean decrease in impurity)",
    ylabel="",
    title=f"Top features at d = {d_max}: {top['class'].iloc[0]} features lead",
)
lsa.save_figure(fig, "feature_importance")
plt.show()
firstorder_share_top10 = float(np.mean(top["class"].iloc[:10] == "firstorder"))

# %% [markdown]
# ## Cost of Pyradiomics per subject
# Shape features depend only on the mask; the chapter leaves them off by default (`shape_features`), and E8
# measures them as their own group. We time one extraction of every class three ways: without shape, with the
# book's shape code (`lsa.mri.shape`: Pyradiomics' values without its all-pairs diameter search) and with a
# stock Pyradiomics extractor. The last line splits this run's wall time by stage.

# %%
cfg_t = replace(cfg, resolution_mm=timing_resolution_mm)
t_with = seconds_per_subject(cfg_t, n=timing_subjects, shape="ours")
t_stock = seconds_per_subject(cfg_t, n=timing_subjects, shape="pyradiomics")
t_without = seconds_per_subject(cfg_t, n=timing_subjects, shape="none")
print(
    f"Pyradiomics at {timing_resolution_mm} mm: {t_with:.2f} s per subject with our shape code, "
    f"{t_stock:.2f} s with stock Pyradiomics shape, {t_without:.2f} s without shape "
    f"(median of {timing_subjects}; wall time on this machine, which may be shared)"
)
wall_s = time.perf_counter() - t_start
stages = dict(
    calibration=t_calibration,
    measurements=t_features,
    nested_cv=t_cv,
    permutations=t_null,
    single_split=t_holdout,
    random_splits=t_splits,
    site=t_site,
)
print("wall seconds by stage:", {k: round(v, 1) for k, v in stages.items()}, f"total {wall_s:.1f}")

# %%
lsa.write_metrics(
    {
        "n_subjects": n_subjects,
        "resolution_mm": resolution_mm,
        "n_features": n_features,
        "d_values": d_values,
        "empirical_d": emp_d,
        "delta_per_d": cal.delta_per_d,
        "acc_vs_d_mean": acc_vs_d_mean,
        "acc_vs_d": {m: curve[curve.model == m].accuracy.tolist() for m in C.MODELS},
        "auc_vs_d": {m: curve[curve.model == m].auc.tolist() for m in C.MODELS},
        "null_acc_d0": [nulls[m]["accuracy"] for m in C.MODELS],
        "null_p_upper_d0": [nulls[m]["p_upper"] for m in C.MODELS],
        "null_p_lower_d0": [nulls[m]["p_lower"] for m in C.MODELS],
        "n_permutations": n_permutations,
        "null_alpha_per_tail": alpha_tail,
        "holdout_d": d_table,
        "holdout_n_test": len(test),
        "paper_implied_n_test": n_implied,
        "holdout_acc": [tab[m]["accuracy"] for m in C.MODELS],
        "holdout_acc_cnn": tab["CNN"]["accuracy"] if "CNN" in tab else None,
        "holdout_acc_lo": [tab[m]["acc_lo"] for m in rows],
        "holdout_acc_hi": [tab[m]["acc_hi"] for m in rows],
        "cnn_trained": "CNN" in tab,
        "mcnemar_svm_cnn_p": None if mc is None else mc["p"],
        "mcnemar_svm_only": None if mc is None else mc["a_only"],
        "mcnemar_cnn_only": None if mc is None else mc["b_only"],
        "mcnemar_paper_min_p": p_paper_min,
        "cv_acc_at_table_d": [curve[(curve.d == d_table) & (curve.model == m)].accuracy.item() for m in C.MODELS],
        "cv_n_subjects_in_interval": [
            int(curve[(curve.d == d_table) & (curve.model == m)].n_ci.item()) for m in C.MODELS
        ],
        "e3_n_splits": n_random_splits,
        "e3_n_test": R["n_test"],
        "e3_q025": [e3.loc[m, "q2.5"] for m in C.MODELS],
        "e3_q975": [e3.loc[m, "q97.5"] for m in C.MODELS],
        "e3_median": [e3.loc[m, "median"] for m in C.MODELS],
        "e3_best_median": e3.loc["best", "median"],
        "e3_p_reach_paper": [e3.loc[m, "P(acc >= threshold)"] for m in C.MODELS],
        "e3_best_p_reach_paper": e3.loc["best", "P(acc >= threshold)"],
        "site_agreements": site_agreements,
        "site_acc_mean": site_acc_mean,
        "site_acc_leave_site_out": lso.accuracy.tolist(),
        "site_acc_covariate": site_acc_covariate,
        "site_noise_factor": cfg.site_noise_factor,
        "site_bias_factor": cfg.site_bias_factor,
        "firstorder_share_top10": firstorder_share_top10,
        "top_feature": top.feature.iloc[0],
        "timing_resolution_mm": timing_resolution_mm,
        "radiomics_s_per_subject_shape": t_with,
        "radiomics_s_per_subject_no_shape": t_without,
        "radiomics_s_per_subject_stock_shape": t_stock,
        "feature_step_s": t_features,
        "stage_s": stages,
        "wall_s": wall_s,
    }
)
