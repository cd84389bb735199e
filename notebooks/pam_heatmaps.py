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
# # Block-energy heatmaps of the PAM across CNN, language-model, ViT and diffusion backbones
#
# ```{admonition} Claim box
# :class: note
# **What the paper claims** (GSA II {cite}`liu2026gsa2`, abstract only): the empirical section shows the
# matrices and *block-energy heatmaps* that measure the certificate quantities for CNNs, language models and
# vision/diffusion backbones; the figures are finite-dimensional measurements, and membership in the
# Physical GSA certificate domain needs the numerical margin protocol. The paper's models, checkpoints,
# layers and numbers are unknown to us.
#
# **What we reconstructed** ([the reconstruction of GSA II](gsa-pam)): block-energy heatmaps
# $H_{g,j} = a_{g,j}^2 / c_j^2$ of the source-mode PAM with its active supports ([PAM](gsa-pam-def)), the
# core/overlap/noise energy fractions along depth, the tables T1 (protocol counts per model) and T2 (trained
# against the random twin), and the certificate-domain decision P12 of the [margin protocol](gsa-protocol)
# for every model, with the check that fails first. The suite is ours ([model suite](gsa-suite)): a small
# ResNet and a small ViT trained on scikit-learn digits, the real pretrained MiniLM-L6 encoder, a small GPT-2
# trained on a synthetic bracket grammar and a small DDPM U-Net trained on digits (probed at fixed
# timesteps), each beside its random-initialisation twin. At the `paper` profile the same code builds the
# standard-size configurations, with weights loaded from local checkpoints or, without them, trained here
# with the small suite's budget; the "trained" model is never the twin. That trained models look more
# structured than their twins is our expectation, reported and not asserted.
#
# **What this run shows**: the figures and tables below, at the scale set by the parameters.
# ```

# %% tags=["profiles"]
PROFILES = {
    "smoke": {
        "resnet_widths": [8, 16],
        "resnet_blocks": 1,
        "resnet_epochs": 1,
        "vit_dim": 32,
        "vit_depth": 2,
        "vit_epochs": 1,
        "gpt_layers": 2,
        "gpt_dim": 32,
        "gpt_steps": 30,
        "unet_widths": [16, 32],
        "unet_steps": 30,
        "n_probe": 4,
        "minilm_modes": ["S"],
        "minilm_layers": 1,
        "k_max": 8,
        "timesteps": [100],
        "n_pairs": 2,
    },
    "default": {},
    "paper": {"scale": "paper", "n_probe": 16, "n_pairs": 3, "minilm_pairs": 3, "k_max": 64},
}

# %% tags=["parameters"]
profile: str = "default"  # {smoke, default, paper} set by `lsa run --profile`
seed: int = 0  # [0, inf) seed of data split, initialisation, probes and sketches
scale: str = "small"  # {small, paper} small: the small suite, cached; paper: standard configs (trained or checkpoints)
checkpoint_dir: str = ""  # folder with <kind>.pt state_dicts for the paper scale (empty: train them here)
models: list[str] = ["resnet", "vit", "gpt", "unet", "minilm"]  # {resnet, vit, gpt, unet, minilm} backbones to analyse
resnet_widths: list[int] = [16, 32]  # [1, inf) ResNet-mini stage widths (channels)
resnet_blocks: int = 2  # [1, inf) BasicBlocks per stage
resnet_epochs: int = 4  # [1, inf) Adam epochs on digits
vit_dim: int = 64  # [1, inf) TinyViT width
vit_depth: int = 4  # [1, inf) TinyViT blocks (2 factors each)
vit_epochs: int = 4  # [1, inf) Adam epochs on digits
gpt_layers: int = 2  # [1, inf) TinyGPT layers
gpt_dim: int = 64  # [1, inf) TinyGPT width
gpt_steps: int = 300  # [1, inf) TinyGPT training steps (batch 16, context 32)
unet_widths: list[int] = [32, 64]  # [1, inf) TinyUNet widths at 16x16 and 8x8
unet_steps: int = 400  # [1, inf) DDPM training steps (batch 64, 200 noise levels)
timesteps: list[int] = [20, 100, 180]  # [0, inf) diffusion probe timesteps (0.1, 0.5, 0.9 of the 200 noise levels)
n_probe: int = 16  # [1, inf) probe inputs per model (images, token windows, or sentences)
minilm_modes: list[str] = ["S", "J"]  # {S, J} MiniLM factor modes (J is the costly one: 384 JVPs per factor)
minilm_pairs: int = 2  # [0, inf) MiniLM mode-J interfaces analysed (spread over depth)
minilm_layers: int = 6  # [1, inf) MiniLM layers whose static (mode S) factors are analysed, from the bottom
n_pairs: int = 0  # [0, inf) interfaces per chain of the small models, spread over depth (0 means all)
k_max: int = 16  # [1, inf) cap on the dominant window

# %%
import matplotlib.pyplot as plt
import numpy as np
import transformers
from IPython.display import Markdown

import lsa
from lsa.experiments import pam_heatmaps as driver
from lsa.gsa.config import GSAConfig
from lsa.plotting import figsize, use_book_style

use_book_style()
transformers.logging.set_verbosity_error()  # token windows are unpadded: the attention-mask advice does not apply
cfg = driver.HeatmapsConfig(
    models=tuple(models),
    scale=scale,
    checkpoint_dir=checkpoint_dir,
    small={
        "resnet": dict(widths=resnet_widths, blocks=resnet_blocks, epochs=resnet_epochs),
        "vit": dict(dim=vit_dim, depth=vit_depth, heads=4, mlp=2 * vit_dim, epochs=vit_epochs),
        "gpt": dict(
            n_layer=gpt_layers, n_embd=gpt_dim, n_head=4, n_inner=4 * gpt_dim, ctx=32, steps=gpt_steps, batch=16
        ),
        "unet": dict(widths=unet_widths, steps=unet_steps),
    },
    timesteps=tuple(timesteps),
    n_probe=n_probe,
    minilm_modes=tuple(minilm_modes),
    minilm_pairs=minilm_pairs,
    minilm_layers=minilm_layers,
    n_pairs=n_pairs,
    gsa=GSAConfig(k_max=k_max, seed=seed),
    seed=seed,
)
res = driver.run(cfg)


def main_chain(kind):
    """The chain shown in the main figures: the Jacobian chain (the middle timestep for the U-Net), else S."""
    chains = [c for (k, t, c) in res.heats if k == kind and t == "trained"]
    js = [c for c in chains if c.startswith("J")]
    return js[len(js) // 2] if js else chains[0]


shown = [(k, main_chain(k)) for k in cfg.models]


def heat_grid(keys, init, title, name):
    """Block-energy heatmaps, three per row, with the active supports as white dots."""
    ncols = min(3, len(keys))
    nrows = int(np.ceil(len(keys) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize("wide", 0.3, nrows), squeeze=False)
    for ax, (kind, chain) in zip(axes.flat, keys):
        H, S, where = res.heats[(kind, init, chain)]
        im = ax.imshow(H, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        gi, ji = np.nonzero(S)
        ax.plot(ji, gi, "w.", ms=4)
        ax.grid(False)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set(title=f"{kind} {chain}: {where}", xlabel="source mode $j$", ylabel="row group $g$")
    for ax in axes.flat[len(keys) :]:
        ax.axis("off")
    fig.colorbar(im, ax=axes, label="$H_{gj} = a_{gj}^2 / c_j^2$", shrink=0.8)
    fig.suptitle(title)
    lsa.save_figure(fig, name)
    plt.show()


# %% [markdown]
# ## F6 — block-energy heatmaps
#
# One interface per model: the middle interface of its Jacobian chain (the middle diffusion timestep for
# the U-Net; the static chain where no Jacobian chain was run). Each column is one dominant source mode; its
# colours say how its energy spreads over the groups of output channels, and the white dots mark the active
# supports ($a_{g,j} \ge \tau c_j$).

# %%
heat_grid(
    shown, "trained", "Trained models: block energy of each dominant mode over output-channel groups", "F6_trained"
)

# %%
heat_grid(shown, "random", "Random-initialisation twins of the same interfaces", "F6_random")

# %% [markdown]
# The other chains of every model (static factors, other timesteps), trained and twin, are in the collapsed
# cell below.

# %% tags=["hide-output"]
rest = [(k, c) for (k, t, c) in res.heats if t == "trained" and (k, c) not in shown]
if rest:
    heat_grid(rest, "trained", "Other chains, trained", "F6_other_trained")
    heat_grid(rest, "random", "Other chains, random twins", "F6_other_random")

# %% [markdown]
# ## Core, overlap and noise energy along depth
#
# Stacked energy fractions of the source-mode PAM at every analysed interface of the chains above (trained);
# the black marks show the twin's core (bar) and core + overlap (cross) fractions at the same interface.

# %%
frac = res.fractions
ncols = min(3, len(shown))
nrows = int(np.ceil(len(shown) / ncols))
fig, axes = plt.subplots(nrows, ncols, figsize=figsize("wide", 0.3, nrows), sharey=True, squeeze=False)
for ax, (kind, chain) in zip(axes.flat, shown):
    sel = (frac.kind == kind) & (frac.chain == chain)
    d, r = frac[sel & (frac.init == "trained")], frac[sel & (frac.init == "random")]
    bottom = np.zeros(len(d))
    for part, name in (("f_core", "core"), ("f_ovl", "overlap"), ("f_noise", "noise")):
        ax.bar(d.depth, d[part], bottom=bottom, width=0.7, label=name, alpha=0.85)
        bottom = bottom + d[part].to_numpy()
    ax.plot(r.depth, r.f_core, "k_", ms=18, mew=2, label="twin: core")
    ax.plot(r.depth, r.f_core + r.f_ovl, "kx", ms=7, label="twin: core + overlap")
    ax.set_xticks(d.depth.to_numpy())
    ax.set(title=f"{kind} {chain}", xlabel="interface index along depth", ylim=(0, 1), xlim=(-0.6, d.depth.max() + 0.6))
for ax in axes.flat[len(shown) :]:
    ax.axis("off")
for ax in axes[:, 0]:
    ax.set_ylabel("energy fraction of $B^{tr}$")
axes[0, 0].legend(fontsize=7, loc="lower left")
fig.suptitle("Core / overlap / noise energy of the source-mode PAM along depth (trained, twin in black)")
lsa.save_figure(fig, "F6_fractions")
plt.show()

# %% [markdown]
# ## Certificate domain (P12) and the check that fails first
#
# A model is *inside the Physical GSA certificate domain at these settings* when every analysed interface
# passes the window-gap check W, the fit check G, the noise bound N, the radius test against the certified
# truncation bound, and, on square residual interfaces, the label certificate ([P12](gsa-protocol)). The
# table gives the decision per model and the check that fails first most often.

# %%
dom = res.domain.set_index(["kind", "init"])
n_in = int(dom.loc[(slice(None), "trained"), "inside"].sum())
Markdown(
    f"**{n_in} of {len(cfg.models)} trained models are inside the certificate domain at these settings.** "
    + " ".join(
        f"{k}: {'inside' if dom.loc[(k, 'trained'), 'inside'] else 'outside, first failing check most often '}"
        f"{'' if dom.loc[(k, 'trained'), 'inside'] else dom.loc[(k, 'trained'), 'first_fail']}."
        for k in cfg.models
    )
)

# %%
dom.fillna(0)

# %% [markdown]
# ## T1, T2 — protocol counts per model, trained against the twin (reported, not asserted)

# %%
T2 = res.T2
T2.pivot(index="kind", columns="init").round(3)

# %% tags=["hide-output"]
res.T1.round(3)

# %%
T1 = res.T1
lsa.write_metrics(
    {
        "n_chains": len(T1),
        "n_interfaces": int(T1.interfaces.sum()),
        "cert_without_verify": int(T1.bugs.sum()),
        "heat_column_sum_dev": driver.heat_column_sum_dev(res),
        "fraction_sum_dev": float(np.max(np.abs(frac[["f_core", "f_ovl", "f_noise"]].sum(axis=1) - 1)))
        if len(frac)
        else 0.0,
        "cert_emp_trained": int(T1[T1.init == "trained"].CERT_emp.sum()),
        "cert_emp_random": int(T1[T1.init == "random"].CERT_emp.sum()),
        "share_models_alpha_larger": res.share_trained_better("alphahat", "larger"),
        "share_models_r90_smaller": res.share_trained_better("r90_over_d", "smaller"),
        "share_models_fcore_larger": res.share_trained_better("f_core", "larger"),
        **{f"p12_inside_{k}": bool(dom.loc[(k, "trained"), "inside"]) for k in cfg.models},
        **{f"p12_first_fail_{k}": dom.loc[(k, "trained"), "first_fail"] for k in cfg.models},
        **{f"p12_inside_{k}_random": bool(dom.loc[(k, "random"), "inside"]) for k in cfg.models},
        "models": list(cfg.models),
        "scale": scale,
    }
)
