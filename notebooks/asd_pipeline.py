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
# # The ASD radiomics pipeline end to end: MultiUNet masks, white matter against grey matter, CNN against radiomics
#
# ```{admonition} Claim box
# :class: note
# **What the paper claims** (Song et al., arXiv 2405.16248, abstract only): white matter segmented by a
# **MultiUNet** feeds Pyradiomics features to SVM, random forest, logistic regression and KNN (all above 80 %,
# SVM best at **89.47 %**); a CNN on the segmented white matter reaches **86.84 %**; the authors read this as a
# link between white-matter abnormalities and autism.
#
# **What we reconstructed** (every choice is on the page {ref}`asd-reconstruction`): the previous two
# chapters built the pieces -- the MultiUNet on its own
# segmentation cohort, the radiomics classifiers on ground-truth ("oracle") masks. Here they are joined as
# the paper joins them: the MultiUNet trained in the segmentation chapter (same settings, same cached
# weights) segments every subject of the classification cohort, and the radiomics and the CNN use its masks.
#
# **What this chapter shows**: (E7) accuracy on MultiUNet masks beside oracle and intensity-baseline masks,
# and the change per mask; (E8) whether the signal is specific to white matter -- the same pipeline inside a
# grey-matter mask, and on feature groups (shape, first-order, texture, all); (E9) the CNN against the
# radiomics SVM on the same outer folds, with McNemar's test on every subject. All at one effect size `d_eval`,
# chosen before any run as the point where whole-mask radiomics is well above chance and below its ceiling
# (d = 2), so that differences between masks can show. The scale of this run is printed below; `smoke` is a
# tiny cohort that only exercises the code.
# ```

# %% tags=["profiles"]
PROFILES = {
    "smoke": {
        "n_subjects": 16,
        "n_jobs": 1,
        "cv_folds": 3,
        "rf_trees": 10,
        "cnn_epochs": 2,
        "seg_n_train": 5,
        "seg_n_test": 3,
        "seg_epochs": 3,
        "seg_channels": [8, 16, 32],
    },
    "default": {},
    "paper": {
        "resolution_mm": 2,
        "grid": "full",
        "rf_trees": 500,
        "cnn_resolution_mm": 4,
        "cnn_epochs": 40,
        "seg_n_train": 20,
        "seg_epochs": 30,
        "seg_channels": [16, 32, 64, 128],
    },
}

# %% tags=["parameters"]
profile: str = "default"  # {smoke, default, paper} set by `lsa run --profile`
seed: int = 0  # [0, inf) cohort seed and CV / model seed
n_subjects: int = 190  # [4, inf) balanced classification cohort (38 test subjects at 80/20)
resolution_mm: int = 4  # [1, inf) voxel size, mm (4 keeps shape features and the MultiUNet cheap on a CPU)
effect_extent: str = "diffuse"  # {diffuse, focal} diffuse (all WM) | focal (six WM regions)
d_eval: float = 2.0  # [0, inf) effect size of every comparison in this chapter (fixed before any run)
grid: str = "small"  # {small, full} hyper-parameter grid of the inner search
cv_folds: int = 5  # [2, inf) outer stratified folds (shared by radiomics and the CNN)
rf_trees: int = 100  # [1, inf) random-forest trees
cnn_resolution_mm: int = 8  # [1, inf) CNN input voxel size, mm (a multiple of resolution_mm)
cnn_epochs: int = 30  # [1, inf) CNN training epochs per fold
seg_n_train: int = 12  # [1, inf) MultiUNet training subjects (the segmentation chapter's setting)
seg_n_test: int = 5  # [1, inf) held-out subjects of the segmentation cohort (not used for training)
seg_epochs: int = 8  # [1, inf) MultiUNet epochs per plane (the segmentation chapter's setting)
seg_channels: list[int] = [16, 32, 64]  # [1, inf) UNet widths per level (the segmentation chapter's setting)
seg_d_effect: float = 1.0  # [0, inf) effect size of the segmentation cohort's ASD subjects
n_jobs: int = 2  # [1, inf) worker processes (MultiUNet planes, subjects, CV fits, CNN folds)
cpu_threads: int = 1  # [1, inf) torch CPU threads in this process
device: str = "auto"  # {auto, cpu, cuda} where the MultiUNet trains (auto: CUDA when visible)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from IPython.display import Markdown, display

import lsa
from lsa.experiments import asd_pipeline as driver
from lsa.experiments.asd_classification import CVSettings
from lsa.mri import classify as C
from lsa.mri.cnn import CNNConfig
from lsa.mri.segment import UNetConfig
from lsa.mri.simulate import SimConfig, cached_calibration
from lsa.plotting import figsize, use_book_style

t_start = time.perf_counter()
use_book_style()
torch.set_num_threads(cpu_threads)
dev = lsa.device(device)
if cnn_resolution_mm % resolution_mm:
    raise ValueError(f"cnn_resolution_mm={cnn_resolution_mm} must be a multiple of resolution_mm={resolution_mm}")
n_pilot = 8 if resolution_mm >= 4 else 30  # the segmentation chapter's rule, so both share one calibration
cfg = SimConfig(
    n_subjects=n_subjects, resolution_mm=resolution_mm, effect_extent=effect_extent, n_pilot=n_pilot, seed=seed
)
seg_cfg = SimConfig(resolution_mm=resolution_mm, seed=seed, n_pilot=n_pilot)
S = CVSettings(grid=grid, folds=cv_folds, repeats=1, seed=seed, rf_trees=rf_trees, n_jobs=n_jobs)
cal = cached_calibration(cfg)
seg_cal = cached_calibration(seg_cfg)
print(f"classification cohort: {n_subjects} subjects at {resolution_mm} mm, d_eval = {d_eval}; device {dev}")

# %% [markdown]
# ## The MultiUNet, and every subject measured once
# The segmenter is the one the segmentation chapter trains (its cohort, settings and cached weights). Each
# classification subject is then rendered once; from that render come the four masks (oracle, MultiUNet,
# intensity baseline, grey matter), the radiomics inside each, the oracle mask's shape features and the CNN
# inputs. When the MultiUNet is not cached yet, its three planes train in the same worker processes first, and
# a worker left without a plane meanwhile measures what does not need the MultiUNet's masks.

# %%
t0 = time.perf_counter()
ucfg = UNetConfig(channels=tuple(seg_channels), epochs=seg_epochs, seed=seed)
seg, M = driver.segment_and_measure(
    cfg,
    d_eval,
    cal.delta_per_d,
    cnn_resolution_mm,
    seg_cfg,
    seg_cal.delta(seg_d_effect),
    seg_n_train,
    seg_n_test,
    ucfg,
    dev,
    n_jobs,
)
t_measure = time.perf_counter() - t0
dice_vs_oracle = {m: float(np.mean(v)) for m, v in M.dice.items()}
print(f"segmenter and measurements ready in {t_measure:.1f} s (cached weights and subjects are reused)")
print("CPU seconds by step, summed over subjects:", {k: round(v, 1) for k, v in M.seconds.items()})
print("mean Dice with the oracle mask:", {m: round(v, 3) for m, v in dice_vs_oracle.items()})

# %% [markdown]
# ## Every model fitted once, in one pool
# E7, E8 and E9 below compare the four classifiers (nested cross-validation, same outer folds) on eight
# feature tables -- the three masks of E7, the grey-matter mask and the four feature groups of E8 -- and the
# CNN on those outer folds. All of these fits are independent, so they run here together in `n_jobs` worker
# processes, the CNN's folds (the longest) first; the sections below only read the results. Each fit is seeded
# on its own, so no result depends on the number of workers or the order.

# %%
t0 = time.perf_counter()
tables = {m: M.features[(m, float(d_eval))] for m in driver.MASKS} | {"GM": M.features[("gm", float(d_eval))]}
tables |= {f"WM: {g}": driver.feature_group(M, d_eval, g) for g in driver.GROUPS}
ccfg = CNNConfig(epochs=cnn_epochs, seed=seed)
cv, cnn = driver.evaluate(M, tables, S, cnn_input=("multiunet", cnn_resolution_mm), cnn_config=ccfg)
t_fits = time.perf_counter() - t0
print(f"{len(cv)} nested cross-validations and {cv_folds} CNN folds in {t_fits:.1f} s on {n_jobs} worker(s)")

# %% [markdown]
# ## E7: the paper's pipeline -- radiomics on MultiUNet masks
# Nested CV of the four classifiers on features from each mask, same folds. The oracle mask is the
# simulator's ground truth (an upper bound no real pipeline has); the MultiUNet mask is what the paper's
# pipeline would use; the intensity baseline (a Gaussian mixture) needs no training.

# %%
e7 = driver.accuracy_table(cv, {m: m for m in driver.MASKS})
piv = e7.pivot(index="model", columns="input", values="accuracy").reindex(index=list(C.MODELS), columns=driver.MASKS)
e7_mean = {m: float(piv[m].mean()) for m in driver.MASKS}
e7_delta = {m: e7_mean[m] - e7_mean["oracle"] for m in driver.MASKS}
fig, ax = plt.subplots(figsize=figsize("column", 0.55))
sns.barplot(data=e7, x="model", y="accuracy", hue="input", hue_order=list(driver.MASKS), ax=ax)
ax.axhline(0.5, color="grey", ls=":")
ax.set(
    xlabel="classifier",
    ylabel=f"nested-CV accuracy at d = {d_eval} (fraction)",
    ylim=(0.3, 1.0),
    title=(
        f"MultiUNet masks: mean accuracy {100 * e7_mean['multiunet']:.1f} % vs oracle {100 * e7_mean['oracle']:.1f} % "
        f"({100 * e7_delta['multiunet']:+.1f} points); intensity {100 * e7_delta['intensity']:+.1f}"
    ),
)
ax.legend(title="mask", fontsize=8)
lsa.save_figure(fig, "e7_masks")
plt.show()
piv.assign(**{f"{m} − oracle": piv[m] - piv["oracle"] for m in ("multiunet", "intensity")}).round(3)

# %% [markdown]
# ## E8: is the signal specific to white matter?
# Our simulated effect lives in white matter only. The same pipeline inside a **grey-matter** mask should
# therefore do worse -- unless the features carry white-matter information in another way: every image is
# z-scored over the whole brain before Pyradiomics, so a darker white matter also shifts the grey-matter
# z-scores. On the oracle white-matter mask, the **feature groups** separate what the mask's shape alone
# carries (it does not depend on diagnosis here) from first-order intensity statistics and texture.

# %%
e8_inputs = {"WM (oracle)": "oracle", "GM": "GM"} | {f"WM: {g}": f"WM: {g}" for g in driver.GROUPS}
e8 = driver.accuracy_table(cv, e8_inputs)
e8_mean = e8.groupby("input")["accuracy"].mean()
e8_wm_minus_gm = float(e8_mean["WM (oracle)"] - e8_mean["GM"])
e8_group_acc = [float(e8_mean[f"WM: {g}"]) for g in driver.GROUPS]
fig, ax = plt.subplots(figsize=figsize("column", 0.6))
order = list(e8_inputs)
sns.pointplot(data=e8, y="input", x="accuracy", hue="model", order=order, dodge=0.4, linestyle="none", ax=ax)
ax.axvline(0.5, color="grey", ls=":")
ax.set(
    xlabel=f"nested-CV accuracy at d = {d_eval} (fraction)",
    ylabel="mask / feature group",
    title=(
        f"WM − GM: {100 * e8_wm_minus_gm:+.1f} points; shape only {100 * e8_group_acc[0]:.0f} %, "
        f"first-order {100 * e8_group_acc[1]:.0f} %, texture {100 * e8_group_acc[2]:.0f} %"
    ),
)
lsa.save_figure(fig, "e8_specificity")
plt.show()
e8.pivot(index="input", columns="model", values="accuracy").reindex(order).assign(mean=e8_mean).round(3)

# %% [markdown]
# ## E9: CNN against radiomics on matched folds
# The CNN sees the MultiUNet-segmented white matter (brain-z-scored, zero outside the mask, pooled to
# `cnn_resolution_mm`); the SVM sees the radiomics of the same mask. Both use the same outer folds, so every
# subject is predicted once by each, and McNemar's exact test compares them subject by subject.

# %%
svm = cv[("multiunet", "SVM")]
e9_svm_acc = float(np.mean(svm["oof_pred"] == M.y))
e9_cnn_acc = float(np.mean(cnn["oof_pred"] == M.y))
mc = C.mcnemar(svm["oof_pred"] == M.y, cnn["oof_pred"] == M.y)
folds = pd.DataFrame({"fold": range(1, cv_folds + 1), "SVM": svm["fold_accuracy"], "CNN": cnn["fold_accuracy"]})
fig, ax = plt.subplots(figsize=figsize("narrow", 0.8))
for r in folds.itertuples():
    ax.plot([0, 1], [r.SVM, r.CNN], "-o", color="grey", alpha=0.7)
ax.plot([0, 1], [folds.SVM.mean(), folds.CNN.mean()], "-o", color="k", lw=2, label="mean over folds")
ax.set(
    xticks=[0, 1],
    xticklabels=["radiomics SVM", "CNN"],
    xlim=(-0.3, 1.3),
    ylabel="fold accuracy (fraction)",
    title=f"SVM {100 * e9_svm_acc:.1f} % vs CNN {100 * e9_cnn_acc:.1f} %; McNemar p = {mc['p']:.2f}",
)
ax.legend(fontsize=8)
lsa.save_figure(fig, "e9_cnn_vs_radiomics")
plt.show()
display(
    Markdown(
        f"Out of {len(M.y)} subjects, {mc['a_only']} are classified correctly by the SVM only and {mc['b_only']} by "
        f"the CNN only (exact McNemar p = {mc['p']:.3f}): in this run the SVM is "
        + ("at least as accurate as" if e9_svm_acc >= e9_cnn_acc else "less accurate than")
        + " the CNN, and the difference is "
        + ("" if mc["p"] < 0.05 else "not ")
        + "significant at 5 %."
    )
)
folds.round(3)

# %%
wall_s = time.perf_counter() - t_start
stages = dict(segmenter_and_measurements=t_measure, model_fits=t_fits)
print("wall seconds by stage:", {k: round(v, 1) for k, v in stages.items()}, f"total {wall_s:.1f}")
lsa.write_metrics(
    {
        "n_subjects": n_subjects,
        "resolution_mm": resolution_mm,
        "d_eval": d_eval,
        "cv_folds": cv_folds,
        "e7_masks": list(driver.MASKS),
        "e7_mean_acc": [e7_mean[m] for m in driver.MASKS],
        "e7_acc": {m: piv[m].tolist() for m in driver.MASKS},
        "e7_delta_multiunet": e7_delta["multiunet"],
        "e7_delta_intensity": e7_delta["intensity"],
        "e7_dice_multiunet": dice_vs_oracle["multiunet"],
        "e7_dice_intensity": dice_vs_oracle["intensity"],
        "e8_wm_acc": float(e8_mean["WM (oracle)"]),
        "e8_gm_acc": float(e8_mean["GM"]),
        "e8_wm_minus_gm": e8_wm_minus_gm,
        "e8_groups": list(driver.GROUPS),
        "e8_group_acc": e8_group_acc,
        "e9_svm_acc": e9_svm_acc,
        "e9_cnn_acc": e9_cnn_acc,
        "e9_svm_fold_acc": svm["fold_accuracy"],
        "e9_cnn_fold_acc": cnn["fold_accuracy"],
        "e9_mcnemar_p": mc["p"],
        "e9_svm_only": mc["a_only"],
        "e9_cnn_only": mc["b_only"],
        "e9_n": int(len(M.y)),
        "cnn_epochs": cnn_epochs,
        "cnn_resolution_mm": cnn_resolution_mm,
        "stage_s": stages,
        "wall_s": wall_s,
    }
)
