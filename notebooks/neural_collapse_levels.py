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
# # Neural Collapse and the Level-2/3 hierarchy
#
# ```{admonition} Claim box
# :class: note
# **What the paper claims** ({cite}`xiao2026flag`, abstract): weight decay (subspace alignment at an exponential
# rate) and the commutator obstruction of nonlinear activations (no exact basis alignment) together explain
# the *"Level-2/3 hierarchy" in Neural Collapse* from first principles.
#
# **What we reconstructed** ([our reading](fv-nc) of the hierarchy; the paper's definitions could
# not be read): NC1–NC4 exactly as {cite}`papyan2020collapse` define them; Level 2 (NC) = soft overlap of
# the classifier row space with the centred class-mean subspace ($k = C-1$); Level 3 (NC) = mean cosine of
# each classifier row with its class mean (and NC3); for every consecutive weight pair the Level-2/3 scores
# and the weight-only commutator. Prediction: with weight decay the classifier/class-mean subspaces align
# (Level 2) while consecutive nonlinear layers keep a non-trivial commutator. C17 and C18 are *findings* on
# our toy problem, with tolerances from our reconstruction's toy run.
#
# **What this chapter shows**: bias-free float64 MLPs 32→64→64→64→4 (He init) trained with cross-entropy by
# full-batch gradient descent with coupled weight decay on a seeded 4-class Gaussian mixture (means
# ~ N(0, I₃₂), noise 0.8, 100 per class); at `default` also on scikit-learn's bundled 8×8 digits, and a small
# ResNet with and without BatchNorm on digits. The `paper` profile reads CIFAR-10 from a local folder
# (`cifar_root`, default `~/data/cifar10` holding `cifar-10-batches-py/`; override with
# `-p cifar_root=/your/path`; nothing is downloaded).
# To fit the CPU budget the `smoke` and `default` profiles train 3,000 steps at η = 0.2, where our
# reconstruction's toy run used 20,000 steps at η = 0.05: the weight-decay budget ηλ·steps is then
# **0.6×** that run's (η·steps 600 against 1,000; the cell below prints it for the profile that ran). The
# `paper` profile uses the toy run's 20,000 steps at η = 0.05. Every MLP grid (activations × λ) trains as one
# batched float64 computation.
# ```

# %% tags=["profiles"]
PROFILES = {
    "smoke": {
        "activations": ["relu"],
        "lambdas": [0.0, 0.005],
        "steps": 3000,
        "log_every": 500,
        "digits": False,
        "resnet_steps": 30,
        "resnet_samples": 200,
        "resnet_lambdas": [0.0, 0.005],
    },
    "default": {},
    "paper": {
        "steps": 20000,
        "lr": 0.05,
        "lambdas": [0.0, 0.001, 0.005],
        "cifar_root": "~/data/cifar10",
        "digits_steps": 20000,
        "resnet_steps": 20000,
        "resnet_samples": 50000,
        "resnet_widths": [64, 128, 256],
        "resnet_blocks": 2,
        "resnet_batch": 128,
        "resnet_lr": 0.1,
        "resnet_momentum": 0.9,
        "resnet_lambdas": [0.0, 0.0001, 0.0005, 0.001],
    },
}

# %% tags=["parameters"]
profile: str = "default"  # {smoke, default, paper} set by `lsa run --profile`
seed: int = 0  # [0, inf) seed of data, initialisation and minibatches
n_classes: int = 4  # [2, inf) mixture classes C
dim: int = 32  # [1, inf) mixture input dimension
n_per_class: int = 100  # [1, inf) mixture samples per class
noise: float = 0.8  # [0, inf) mixture within-class standard deviation
hidden: list[int] = [64, 64, 64]  # [1, inf) MLP hidden widths
activations: list[str] = ["relu", "identity"]  # {identity, relu, leaky_relu, tanh, gelu} MLP activations
lambdas: list[float] = [0.0, 0.001, 0.005]  # [0, inf) weight-decay grid λ (coupled)
steps: int = 3000  # [1, inf) full-batch gradient steps per MLP run
lr: float = 0.2  # (0, inf) learning rate of the MLP runs
log_every: int = 250  # [1, inf) steps between logged points
digits: bool = True  # also train an MLP 64→128→128→128→10 on the bundled digits
digits_steps: int = 1500  # [1, inf) full-batch steps of the digits MLP runs
resnet_steps: int = 200  # [0, inf) SGD steps of the ResNet runs (0 skips them)
resnet_samples: int = 400  # [1, inf) training images for the ResNet runs
resnet_widths: list[int] = [8, 16]  # [1, inf) ResNet stage widths
resnet_blocks: int = 1  # [1, inf) basic blocks per stage
resnet_batch: int = 0  # [0, inf) ResNet minibatch size, 0 means full batch
resnet_lr: float = 0.05  # (0, inf) ResNet learning rate
resnet_momentum: float = 0.0  # [0, 1) ResNet heavy-ball momentum
resnet_lambdas: list[float] = [0.0, 0.001, 0.005, 0.02]  # [0, inf) ResNet weight-decay grid (with and without BN)
cifar_root: str = ""  # local folder holding cifar-10-batches-py (paper profile); empty uses the bundled digits
device: str = "auto"  # {auto, cpu, cuda} where torch computes (auto: CUDA when visible)
cpu_threads: int = 1  # [1, inf) torch / BLAS CPU threads (one is fastest on a shared 2-core machine)

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from threadpoolctl import threadpool_limits

import lsa
from lsa.alignment.nc_training import ClassifierConfig
from lsa.alignment.training import TrainConfig
from lsa.data.cifar import load_cifar10
from lsa.data.digits import load_digits_tensors
from lsa.data.mixtures import gaussian_mixture
from lsa.experiments.neural_collapse_levels import mlp_nc_grid, residual_sweep
from lsa.plotting import figsize, use_book_style

torch.set_num_threads(cpu_threads)
threadpool_limits(cpu_threads)
use_book_style()
X, y = gaussian_mixture(n_classes, dim, n_per_class, noise, seed=seed)
widths = (dim, *hidden, n_classes)
print(f"mixture {tuple(X.shape)}, MLP {widths}, device {lsa.device(device)}")
print(f"decay budget η·steps = {lr * steps:g}: {lr * steps / (0.05 * 20000):.2f}× the reference toy run (0.05 × 20000)")

# %% [markdown]
# ## MLP on the Gaussian mixture: NC metrics and Level scores against training time

# %%
runs = [(a, lam) for a in activations for lam in lambdas]
mlp_base = TrainConfig(
    widths=widths, steps=steps, lr=lr, loss="ce", log_every=log_every, seed=seed, init_gain=2.0, device=device
)
logs = mlp_nc_grid(X, y, mlp_base, activations, lambdas)
n_pairs = len(widths) - 2
final = pd.DataFrame([{"activation": a, "lam": lam, **logs[(a, lam)].iloc[-1].to_dict()} for a, lam in runs])
final[
    [
        "activation",
        "lam",
        "loss",
        "nc1",
        "nc2_equinorm",
        "nc2_equiangular",
        "nc3",
        "nc4",
        "level2_nc",
        "level3_nc",
        *[f"comm_{i}" for i in range(n_pairs)],
    ]
].round(4)

# %%
fig, ax = plt.subplots(2, 3, figsize=figsize("wide", 0.33, rows=2))
panels = [
    ("nc1", "NC1 (within/between variability)", True),
    ("nc3", "NC3 (classifier ≠ means)", True),
    ("nc4", "NC4 (mismatch with nearest mean)", False),
    ("level2_nc", "Level 2 (NC): s̄(row W, span M̃)", False),
    ("level3_nc", "Level 3 (NC): mean cos(w_c, μ̃_c)", False),
    ("comm_0", "commutator c of pair (W1, W2)", True),
]
for a_, (col, lab, logy) in zip(ax.ravel(), panels):
    for (act, lam), log in logs.items():
        a_.plot(log["step"], log[col], label=f"{act}, λ={lam}")
    if logy:
        a_.set_yscale("log")
    a_.set(xlabel="gradient step", ylabel=lab)
ax[0, 0].legend(fontsize=8)
end = {run: log.iloc[-1] for run, log in logs.items()}
fig.suptitle(
    f"End of training at λ = {max(lambdas):g}: "
    + "; ".join(
        f"{a}: Level 2 (NC) {end[(a, max(lambdas))]['level2_nc']:.3f}, "
        f"min pair commutator {min(end[(a, max(lambdas))][f'comm_{i}'] for i in range(len(widths) - 2)):.1e}"
        for a in activations
    )
)
lsa.save_figure(fig, "nc_mixture")
plt.show()

# %% [markdown]
# ## Consecutive-layer Level-2/3 scores per layer (end of training)

# %%
rows = []
for (act, lam), log in logs.items():
    last = log.iloc[-1]
    for i in range(n_pairs):
        rows += [
            {"run": f"{act}, λ={lam}", "pair": f"(W{i + 1}, W{i + 2})", "score": s, "value": last[f"{c}_{i}"]}
            for c, s in (("level2", "Level 2"), ("level3", "Level 3"), ("comm", "commutator"))
        ]
lay = pd.DataFrame(rows)
g = sns.catplot(data=lay, x="pair", y="value", hue="run", col="score", kind="bar", height=3.5, sharey=False)
g.set_axis_labels("adjacent pair", "score")
l2_rise = lay[lay.score == "Level 2"].groupby("run").value.mean()
g.fig.suptitle("Mean consecutive-layer Level 2: " + ", ".join(f"{r} {v:.2f}" for r, v in l2_rise.items()), y=1.05)
lsa.save_figure(g.fig, "nc_layers")
plt.show()

# %% [markdown]
# ## Digits (MLP) and a small ResNet with and without BatchNorm
#
# Real data: scikit-learn's bundled 8×8 digits (or CIFAR-10 from `cifar_root` at the `paper` profile). The
# ResNet's adjacent pairs are (conv1, conv2) inside each basic block and (last conv2, fc); BatchNorm and the
# residual additions put it outside the exact theory ([pairs of residual blocks](fv-resnet)) — a scope check,
# not a test. The BN-free
# variant (zero-initialised residual branches, no normalisation) can train poorly with plain SGD at these
# short budgets, so its NC numbers are read together with its training accuracy (printed under the table).

# %%
extra = []
if digits:
    Xd, yd = load_digits_tensors()
    digits_base = replace(mlp_base, widths=(64, 128, 128, 128, 10), activation="relu", steps=digits_steps, lr=lr / 2)
    for (_, lam), log in mlp_nc_grid(Xd, yd, digits_base, ["relu"], [0.0, max(lambdas)]).items():
        extra.append({"model": "MLP digits", "lam": lam, **log.iloc[-1].to_dict()})
res_final, res_pairs = pd.DataFrame(), pd.DataFrame()
if resnet_steps > 0:
    if cifar_root:
        Xi, yi = load_cifar10(cifar_root, train=True, limit=resnet_samples)
        in_ch = 3
    else:
        Xi, yi = load_digits_tensors(image=True, limit=resnet_samples, seed=seed, dtype=torch.float32)
        in_ch = 1
    rc = ClassifierConfig(
        steps=resnet_steps,
        lr=resnet_lr,
        momentum=resnet_momentum,
        batch_size=resnet_batch or None,
        log_every=max(resnet_steps // 4, 1),
        seed=seed,
        device=device,
    )
    res_final, res_pairs = residual_sweep(Xi, yi, rc, resnet_lambdas, in_ch, resnet_widths, resnet_blocks, seed=seed)
    for _, r in res_final.iterrows():
        extra.append({"model": f"ResNet {'BN' if r.batchnorm else 'no-BN'}", **r.drop("batchnorm").to_dict()})
extra = pd.DataFrame(extra)
if len(extra):
    show = ["model", "lam", "loss", "accuracy", "nc1", "nc3", "nc4", "level2_nc", "level3_nc"]
    show += [c for c in extra.columns if c.startswith("comm_")]
    display_table = extra[show].round(4)
    res_acc = extra[extra.model.str.startswith("ResNet")].groupby("model").accuracy.agg(["min", "max"])
    if len(res_acc):
        print(
            "final training accuracy over λ: "
            + "; ".join(f"{m} {r['min']:.2f} to {r['max']:.2f}" for m, r in res_acc.iterrows())
        )
else:
    display_table = pd.DataFrame()
display_table

# %%
if len(extra):
    fig, ax = plt.subplots(1, 2, figsize=figsize("wide", 0.35))
    extra["label"] = extra.model + ", λ=" + extra.lam.astype(str)
    sns.barplot(data=extra, y="label", x="level2_nc", ax=ax[0])
    ax[0].set(xlabel="Level 2 (NC) soft overlap", ylabel="", title="Classifier/class-mean subspace alignment")
    sns.barplot(data=extra, y="label", x="nc1", ax=ax[1])
    ax[1].set(xscale="log", xlabel="NC1", ylabel="", title="Within-class variability collapse")
    by = extra.groupby(["model", "lam"]).level2_nc.first().unstack()
    fig.suptitle(
        "Level 2 (NC), no decay → decay: "
        + "; ".join(f"{m} {r.iloc[0]:.2f} → {r.iloc[-1]:.2f}" for m, r in by.iterrows())
    )
    lsa.save_figure(fig, "nc_real_data")
    plt.show()

# %% [markdown]
# ## Residual networks against weight decay (E4)
#
# The paper's abstract reports experiments on residual networks. Our reading of the theory covers a pair of
# layers joined by an elementwise activation; inside a basic block, conv1 and conv2 share the channel space
# (the [hidden space of a convolution pair](fv-resnet)), but BatchNorm between them changes the symmetry
# (conv1's scale no longer matters) and the residual addition adds a second writer. The same ResNet is trained
# with and without BatchNorm over a λ grid, from the same initialisation, and every block's (conv1, conv2) pair
# is scored: soft overlap $\bar s$ of the effective-rank subspaces (with its chance level), the fraction of
# dimensions shared at τ = 1e-2, and the commutator. E4a and E4b (findings, ours) ask whether the largest λ
# leaves the blocks more subspace-aligned than no decay, without and with BatchNorm. Their power depends on the
# decay budget $\eta\lambda_{\max}\cdot$steps (printed below): weight decay alone shrinks a weight by
# $e^{-\eta\lambda\cdot\text{steps}}$, so a budget well below 1 leaves it little room to act, and a difference
# of s̄ in the third decimal is then no evidence either way.

# %%
print(f"ResNet decay budget η·λ_max·steps = {resnet_lr * max(resnet_lambdas) * resnet_steps:.3g}")
if len(res_final):
    fig, axes = plt.subplots(1, 3, figsize=figsize("wide", 0.32))
    res_final["BatchNorm"] = res_final.batchnorm.map({True: "with BN", False: "no BN"})
    for a_, col, lab in zip(
        axes,
        ("soft_overlap", "d_tau_frac", "commutator"),
        ("mean block-pair soft overlap s̄", "shared dims at τ = 1e-2 / k", "mean block-pair commutator c"),
    ):
        sns.lineplot(data=res_final, x="lam", y=col, hue="BatchNorm", hue_order=["no BN", "with BN"], marker="o", ax=a_)
        a_.set(xlabel="weight decay λ", ylabel=lab)
    for color, name in zip(sns.color_palette("colorblind", 2), ["no BN", "with BN"]):
        grp = res_final[res_final.BatchNorm == name].sort_values("lam")
        axes[0].plot(grp.lam, grp.chance, ls=":", color=color, label=f"chance, {name}")
    axes[0].legend(fontsize=7)
    e4 = res_final.set_index(["batchnorm", "lam"]).soft_overlap
    fig.suptitle(
        "s̄ from λ = 0 to λ = "
        + f"{max(resnet_lambdas):g}: "
        + "; ".join(
            f"{'with' if bn else 'no'} BN {e4[(bn, min(resnet_lambdas))]:.3f} → {e4[(bn, max(resnet_lambdas))]:.3f}"
            for bn in (False, True)
        )
    )
    lsa.save_figure(fig, "resnet_alignment_vs_lambda")
    plt.show()
res_pairs.round(4)

# %%
lam_hi = max(lambdas)


def fin(act, lam, col):
    return float(logs[(act, lam)].iloc[-1][col]) if (act, lam) in logs else float("nan")


act_main = "relu" if "relu" in activations else activations[0]
metrics = {
    "activations": activations,
    "lambdas": lambdas,
    "lam_hi": lam_hi,
    "c17_nc1_decay": [fin(a, lam_hi, "nc1") for a in activations],
    "c17_nc1_nodecay": [fin(a, 0.0, "nc1") for a in activations],
    "c17_nc3_decay": [fin(a, lam_hi, "nc3") for a in activations],
    "c17_nc3_nodecay": [fin(a, 0.0, "nc3") for a in activations],
    "c17_level2_decay": [fin(a, lam_hi, "level2_nc") for a in activations],
    "c17_nc1_ratio_max": max(fin(a, lam_hi, "nc1") / fin(a, 0.0, "nc1") for a in activations),
    "c17_nc3_ratio_max": max(fin(a, lam_hi, "nc3") / fin(a, 0.0, "nc3") for a in activations),
    "c18_level2_relu": fin(act_main, lam_hi, "level2_nc"),
    "c18_comm_relu": [fin(act_main, lam_hi, f"comm_{i}") for i in range(n_pairs)],
    "c18_comm_identity": [fin("identity", lam_hi, f"comm_{i}") for i in range(n_pairs)]
    if "identity" in activations
    else [],
    "c18_level2_layers_relu": [fin(act_main, lam_hi, f"level2_{i}") for i in range(n_pairs)],
    "c18_level3_layers_relu": [fin(act_main, lam_hi, f"level3_{i}") for i in range(n_pairs)],
    "nc4_decay": [fin(a, lam_hi, "nc4") for a in activations],
    "real_data": extra.drop(columns=["label"], errors="ignore").to_dict(orient="list") if len(extra) else {},
    "resnet_lambdas": resnet_lambdas,
    "e4_soft_overlap_nobn": res_final[~res_final.batchnorm].sort_values("lam").soft_overlap.tolist()
    if len(res_final)
    else [],
    "e4_soft_overlap_bn": res_final[res_final.batchnorm].sort_values("lam").soft_overlap.tolist()
    if len(res_final)
    else [],
    "e4_commutator_nobn": res_final[~res_final.batchnorm].sort_values("lam").commutator.tolist()
    if len(res_final)
    else [],
    "e4_commutator_bn": res_final[res_final.batchnorm].sort_values("lam").commutator.tolist() if len(res_final) else [],
    "e4_accuracy_nobn": res_final[~res_final.batchnorm].sort_values("lam").accuracy.tolist() if len(res_final) else [],
    "e4_accuracy_bn": res_final[res_final.batchnorm].sort_values("lam").accuracy.tolist() if len(res_final) else [],
}
lsa.write_metrics(metrics)
{k: v for k, v in metrics.items() if k != "real_data"}
