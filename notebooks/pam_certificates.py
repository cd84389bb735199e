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
# # PAM certificates: the radius within which truncated and full structures agree
#
# ```{admonition} Claim box
# :class: note
# **What the paper claims** (GSA II {cite}`liu2026gsa2`, abstract only): the error between the full interface
# transport and its dominant-window truncation is bounded, with fitted-tail errors added to certify empirical
# spectra against the Gibbs–Cartan tail model; source-mode incidence differs from fully physical channel
# incidence; given row groups and active supports the Physical Alignment Matrix (PAM) splits orthogonally into
# core + overlap + noise; active-column gaps, pairwise overlap margins and noise bounds give a static
# certificate radius inside which full and truncated transport have identical supports, incidence graph, SRS
# sets, hub columns and masks; the SC/SA/ST labels need extra row-energy and profile-correlation margins.
#
# **What we reconstructed** ([the reconstruction of GSA II](gsa-pam); the paper body was not readable): every
# formula here — [factors](gsa-factors), [windows](gsa-windows), the [transport](gsa-transport) $T^w$, the
# [incidences](gsa-incidence) $B$ and $\Phi$, the bounds [T1](gsa-t1) and [T2](gsa-t2), the radius
# [T4](gsa-t4), the label margins [T5](gsa-t5) and the [margin protocol](gsa-protocol) P0–P12 — is *our*
# reconstruction. Checks C2, C4, C5, C7 test statements of the abstract *as we formalised them*; C6, C11, C12,
# C14 are ours; C1 and C3-id hold by construction (identities, listed apart from the evidence); C3 measures
# how often the fitted-tail certificate contains a known true tail ([tail coverage](gsa-tail-coverage)).
#
# **What this chapter shows**: a small ResNet trained on scikit-learn digits (mode S = folded static weights,
# mode J = mean channel Jacobians on held-out digits) and a small GPT-2 trained on a synthetic bracket
# grammar (mode J), random block-sparse PAMs, and a [planted interface](gsa-planted) whose core / overlap /
# noise energies are known, swept in noise to show where certificates start and stop to hold. At `smoke` the
# models are tiny and trained for seconds; the guarantees do not depend on training quality. Figures: F3
# transport, F4 source-mode PAM with masks, F5 physical incidence, F7 certificate plot, F8 labels, the
# planted sweep and the tail coverage.
# ```

# %% tags=["profiles"]
PROFILES = {
    "smoke": {
        "resnet_widths": [8, 16],
        "resnet_blocks": 1,
        "resnet_epochs": 1,
        "gpt_layers": 2,
        "gpt_dim": 32,
        "gpt_steps": 30,
        "n_probe": 8,
        "n_random": 4,
        "n_draws": 25,
        "label_draws": 8,
        "k_max": 8,
        "n_trained_cases": 2,
        "tail_draws": 10,
        "planted_levels": 7,
        "planted_draws": 3,
        "planted_perturb": 10,
    },
    "default": {},
    "paper": {
        "resnet_widths": [16, 32, 64],
        "resnet_blocks": 2,
        "resnet_epochs": 15,
        "gpt_layers": 4,
        "gpt_dim": 128,
        "gpt_steps": 2000,
        "n_probe": 128,
        "n_random": 50,
        "n_draws": 200,
        "k_max": 16,
        "tail_draws": 100,
        "planted_levels": 25,
        "planted_draws": 20,
        "planted_perturb": 50,
    },
}

# %% tags=["parameters"]
profile: str = "default"  # {smoke, default, paper} set by `lsa run --profile`
seed: int = 0  # [0, inf) seed of data split, initialisation, probes, sketches and perturbations
resnet_widths: list[int] = [16, 32]  # [1, inf) ResNet-mini stage widths (channels)
resnet_blocks: int = 2  # [1, inf) BasicBlocks per stage
resnet_epochs: int = 4  # [1, inf) Adam epochs on digits (16x16)
gpt_layers: int = 2  # [1, inf) TinyGPT layers (2 factors each: attention and MLP sub-blocks)
gpt_dim: int = 64  # [1, inf) TinyGPT width d
gpt_steps: int = 300  # [1, inf) TinyGPT training steps (batch 16, context 32)
n_probe: int = 32  # [1, inf) probe inputs for mode-J factors
n_random: int = 20  # [1, inf) random block-sparse PAMs for the soundness / tightness tests
n_draws: int = 200  # [1, inf) random perturbations per scale in the soundness test
n_trained_cases: int = 8  # [0, inf) trained-model PAMs (with rho > 0) added to the soundness test
label_draws: int = 32  # [1, inf) random perturbations per factor in the label flip-rate test (P11)
k_max: int = 16  # [1, inf) cap on the dominant window
tail_draws: int = 40  # [1, inf) random factors per exponent (3 exponents) in the tail-coverage test
planted_levels: int = 13  # [2, inf) noise levels of the planted interface, evenly from 0 to 0.12
planted_draws: int = 8  # [1, inf) planted interfaces per noise level
planted_perturb: int = 25  # [1, inf) random perturbations per scale in the planted soundness test

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import transformers
from IPython.display import Markdown

import lsa
from lsa.experiments import pam_certificates as driver
from lsa.gsa.config import GSAConfig
from lsa.gsa.planted import PlantedDesign, planted_sweep
from lsa.gsa.tail_coverage import tail_coverage
from lsa.plotting import figsize, use_book_style

use_book_style()
transformers.logging.set_verbosity_error()  # token windows are unpadded: the attention-mask advice does not apply
cfg = GSAConfig(k_max=k_max, seed=seed)
run_cfg = driver.CertificatesConfig(
    resnet=dict(widths=resnet_widths, blocks=resnet_blocks, epochs=resnet_epochs, batch=64),
    gpt=dict(n_layer=gpt_layers, n_embd=gpt_dim, n_head=4, n_inner=4 * gpt_dim, ctx=32, steps=gpt_steps, batch=16),
    n_probe=n_probe,
    label_draws=label_draws,
    gsa=cfg,
    seed=seed,
)
chains, reports = driver.build(run_cfg)
table = driver.interface_table(reports)

# %% [markdown]
# ## F3 — interface transport
# Heatmaps of |T^w| (cosines between layer l's dominant output directions and layer l+1's dominant input
# directions) for the first interfaces of each chain, and the captured fraction kappa along depth.

# %%
fig, axes = plt.subplots(2, 2, figsize=figsize("wide", 0.34, rows=2))
axes = axes.ravel()
for ax, name in zip(axes[:3], chains):
    ia = reports[name]["_analysis"][0]
    sns.heatmap(np.abs(ia.mats["T"]), ax=ax, cmap="viridis", vmin=0, vmax=1, cbar_kws={"label": r"$|\cos|$"})
    ax.set(
        title=f"{name}: $|T^w|$ at {ia.record['src']}→{ia.record['dst']}",
        xlabel="source mode j (layer l)",
        ylabel="receiver mode i (layer l+1)",
    )
for name, rep in reports.items():
    axes[3].plot([r["kappa"] for r in rep["interfaces"]], marker="o", label=name)
axes[3].set(
    xlabel="interface index along depth",
    ylabel=r"captured fraction $\kappa$",
    ylim=(0, 1.05),
    title="Dominant energy captured by the next window",
)
axes[3].legend()
lsa.save_figure(fig, "F3_transport")

# %% [markdown]
# ## F4, F5 — source-mode PAM with masks, physical incidence
# Rows sorted by row group; core entries (single supporting group), overlap entries and noise entries are
# shown separately. The physical incidence Phi^tr is basis-free (channel x channel), grouped in blocks of 8.

# %%
ia = reports["ResNet J"]["_analysis"][0]
B, st = ia.mats["B"]["tr"], ia.mats["B"]["struct"]
order = np.argsort(st.groups, kind="stable")
fig, axes = plt.subplots(2, 2, figsize=figsize("wide", 0.34, rows=2))
axes = axes.ravel()
for ax, key in zip(axes[:3], ("core", "overlap", "noise")):
    sns.heatmap(
        np.where(st.masks[key], np.abs(B), np.nan)[order],
        ax=ax,
        cmap="mako",
        yticklabels=max(1, B.shape[0] // 8),
        cbar_kws={"label": r"$|B^{tr}|$ (a.u.)"},
    )
    ax.grid(False)
    ax.set(title=f"{key} part of $B^{{tr}}$", xlabel="source mode j", ylabel="output channel (sorted by group)")
Phi = ia.mats["Phi"]["tr"]
sns.heatmap(
    np.abs(Phi),
    ax=axes[3],
    cmap="rocket",
    xticklabels=max(1, Phi.shape[1] // 8),
    yticklabels=max(1, Phi.shape[0] // 8),
    cbar_kws={"label": r"$|\Phi^{tr}|$ (a.u.)"},
)
axes[3].grid(False)
axes[3].set(title=r"physical incidence $|\Phi^{tr}|$", xlabel="input channel of l", ylabel="output channel of l+1")
fig.suptitle(
    f"ResNet J, {ia.record['src']}→{ia.record['dst']}: $f_{{core}}$={ia.record['B']['f_core']:.2f}, "
    f"$f_{{ovl}}$={ia.record['B']['f_ovl']:.2f}, $f_{{noise}}$={ia.record['B']['f_noise']:.2f}"
)
lsa.save_figure(fig, "F4_F5_pam")

# %% [markdown]
# ## F7 — certificate plot
# Per interface: the empirical bound delta^emp, the Gibbs–Cartan-certified bound delta^GC, the actual
# ||B^full − B^tr||_F, and the radius rho (0 when the noise bound N fails; the open triangles show the
# radius from the active gaps and overlap margins alone). CERT holds when delta < rho.

# %%
fig, ax = plt.subplots(figsize=figsize("wide", 0.42))
x = np.arange(len(table))
tiny = 1e-6
ax.semilogy(x, table["delta_emp"] + tiny, "o", label=r"$\delta^{emp}$ (T1)")
ax.semilogy(x, table["delta_GC"] + tiny, "s", mfc="none", label=r"$\delta^{GC}$ (T2)")
ax.semilogy(x, table["actual"] + tiny, "x", label=r"actual $\|B^{full} - B^{tr}\|_F$")
ax.semilogy(x, table["rho"] + tiny, "v", label=r"radius $\rho$ (+1e-6; 0 when N fails)")
ax.semilogy(x, table["rho_struct"] + tiny, "^", mfc="none", label="gap/overlap radius, noise term left out")
for i, ok in enumerate(table["CERT_emp"]):
    ax.axvspan(i - 0.4, i + 0.4, color="tab:green" if ok else "tab:grey", alpha=0.12, lw=0)
ax.set_xticks(x, [f"{c}\n{i}" for c, i in zip(table["chain"], table["interface"])], rotation=90, fontsize=6)
ax.set(
    ylabel="Frobenius norm (a.u., log)",
    title=f"Actual/bound ≤ {float(np.nanmax(table['actual'] / table['delta_emp'])):.2f} on every interface; "
    f"certified: {int(table['CERT_emp'].sum())}/{len(table)} (green)",
)
ax.legend(fontsize=7, ncol=2)
lsa.save_figure(fig, "F7_certificates")
plt.show()

# %% tags=["hide-output"]
table.round(4)

# %% [markdown]
# ## F8 — SC/SA/ST labels and their flip rates
# On square residual interfaces (same channels in and out). Labels use our rules ([labels](gsa-labels)).

# %%
rows = []
for name, rep in reports.items():
    for r in rep["interfaces"]:
        if "labels" in r:
            rows.append(
                {
                    "chain": name,
                    "interface": f"{r['src']}→{r['dst']}",
                    **r["labels"]["counts"],
                    "certified": r["labels"]["certified_fraction"],
                    **{f"flip@{f}δ": v for f, v in r["labels"]["flip_rates"].items()},
                }
            )
labels_table = pd.DataFrame(rows)
fig, axes = plt.subplots(1, 2, figsize=figsize("wide", 0.36))
if len(labels_table):
    labels_table.set_index("interface")[["SC", "SA", "ST", "null"]].plot.bar(stacked=True, ax=axes[0])
    flips = labels_table[[c for c in labels_table if c.startswith("flip@")]]
    flips.index = labels_table["interface"]
    flips.plot(marker="o", ax=axes[1])
axes[0].set(ylabel="channels", title="Label counts per residual interface", xlabel="interface")
axes[1].set(
    ylabel="fraction of labels flipped",
    xlabel="interface",
    title=r"Label flips under random perturbations of norm $f\,\delta^{emp}$",
)
for ax in axes:
    ax.tick_params(axis="x", labelrotation=90, labelsize=6)
lsa.save_figure(fig, "F8_labels")
labels_table

# %% [markdown]
# ## Where certificates start to hold: a planted interface
#
# Whether a small trained interface is certified depends on the run (the count is in the F7 title above), so here is
# an interface where the answer is known in advance. Two factors are built so that the source-mode PAM of their
# interface is a planted matrix with 4 row groups of 8 channels: four *core* columns (all energy in one group), two
# *overlap* columns (energy split evenly over two groups) and Gaussian noise of standard deviation σ on every other
# entry, plus small tails (0.01) in both factors that make the truncation error δ small but non-zero (construction:
# [planted interface](gsa-planted)). As σ grows from 0 the noise energy approaches the noise bound ν‖P‖_F; the
# *theory* line is the T4 radius evaluated on the expected block energies, and the dotted line the noise level σ_c
# at which the expected noise reaches the bound. Every draw with ρ > 0 is also probed with random perturbations
# inside its radius (soundness). The sweep stops at σ = 0.12, below the level σ_a at which the noise in a group
# outside a column's support reaches the support threshold: beyond σ_a the supports themselves change, every group
# turns active, the noise mask empties and the certificate speaks about that new, all-overlap structure rather than
# the planted one (σ_a is printed below the figure; we found this regime while testing the construction).

# %%
design = PlantedDesign()
pl = planted_sweep(
    np.linspace(0.0, 0.12, planted_levels), planted_draws, planted_perturb, design=design, cfg=cfg, seed=seed
)
pl_df, pl_th = pd.DataFrame(pl["rows"]), pd.DataFrame(pl["theory"])
pl_lvl = pl_df.groupby("noise").agg(
    rho=("rho", "median"), delta=("delta_emp", "median"), cert=("CERT_emp", "mean"), N=("N", "mean")
)
sigma_c = pl["critical_noise"]
fig, axes = plt.subplots(1, 2, figsize=figsize("wide", 0.38))
axes[0].plot(pl_df.noise, pl_df.rho, ".", color="C0", alpha=0.4, label=r"$\rho$, each draw")
axes[0].plot(pl_lvl.index, pl_lvl.rho, "-", color="C0", label=r"$\rho$, median")
axes[0].plot(pl_th.noise, pl_th.rho_theory, "k--", label=r"$\rho$ on expected energies (theory)")
axes[0].plot(pl_lvl.index, pl_lvl.delta, ":", color="C3", label=r"truncation bound $\delta^{emp}$ (median)")
axes[1].plot(pl_lvl.index, pl_lvl.cert, "o-", label="certified (CERT_emp)")
axes[1].plot(pl_lvl.index, pl_lvl.N, "s--", mfc="none", label="noise bound N holds")
for ax in axes:
    ax.axvline(sigma_c, color="grey", ls=":", lw=1, label=rf"expected noise = bound ($\sigma_c$ = {sigma_c:.3f})")
axes[0].set(xlabel=r"noise level $\sigma$ (entry std.)", ylabel="Frobenius norm (a.u.)", title="Certificate radius")
axes[1].set(
    xlabel=r"noise level $\sigma$ (entry std.)", ylabel="fraction of draws", ylim=(-0.05, 1.05), title="Certified share"
)
axes[0].legend(fontsize=7)
axes[1].legend(fontsize=7)
pl_sound = pl_df.soundness.dropna()
fig.suptitle(
    rf"Planted interface: certified in {100 * pl_lvl.cert.iloc[0]:.0f} % of draws at $\sigma = 0$ and "
    rf"{100 * pl_lvl.cert[pl_lvl.index >= 1.5 * sigma_c].mean():.0f} % beyond $1.5\,\sigma_c$; "
    rf"soundness {100 * (pl_sound.min() if len(pl_sound) else float('nan')):.0f} % inside $\rho$"
)
lsa.save_figure(fig, "planted_certificates")
plt.show()
print(f"σ_c = {sigma_c:.4f} (noise bound reached), σ_a = {pl['support_noise']:.4f} (planted supports change)")

# %% [markdown]
# ## Fitted-tail certification on spectra with a known tail
#
# At scale the protocol knows only the top K singular triplets of a factor and an *upper* 95 % bound on
# ‖A‖_F² (Hutch++), so the empirical tail is an estimate and the certified tail τ_α̂(k) + ε* bounds the true
# tail only as often as that interval covers the truth. Here the truth is known: factors of size 96 whose
# eigenvalues are a Gibbs–Cartan orbit (α ∈ {0.5, 1, 1.5}) with a log-normal jitter of 0.3 (fixed when
# the test was written, so that the spectra are near, not on, the orbit), random singular vectors, and the protocol's
# own partial SVD (K = 24), Frobenius estimate and fit. Each point is one factor: the largest excess of the
# true tail over the certified one over the known ranks (≤ 0 means contained).

# %%
cov = tail_coverage(r=96, alphas=(0.5, 1.0, 1.5), K=24, jitter=0.3, n_draws=tail_draws, cfg=cfg, seed=seed)
cov_df = pd.DataFrame(cov["rows"])
fig, ax = plt.subplots(figsize=figsize("column", 0.45))
sns.stripplot(data=cov_df, x="alpha", y="window_excess", ax=ax, size=3, jitter=0.25)
ax.axhline(0, color="k", lw=0.8)
ax.set(
    xlabel=r"orbit exponent $\alpha$ of the drawn spectrum",
    ylabel=r"$\max_{k \leq K}\,(\tau_{true} - \tau_{cert})$",
    title=f"Certified tail contains the true tail for {100 * cov['window_cover']:.0f} % of {cov['n']} factors "
    f"(Frobenius bound covers {100 * cov['fro_cover']:.0f} %)",
)
lsa.save_figure(fig, "tail_coverage")

# %% [markdown]
# ## Guarantee checks

# %%
chk = driver.guarantee_checks(chains, reports, run_cfg, n_random, n_draws, n_trained_cases)
ratios, dec, sound, rot, frag, jac = (
    chk[k] for k in ("ratios", "decomposition", "soundness", "rotation", "labels", "jacobian")
)

# %% tags=["hide-output"]
pd.Series(
    {
        **{f"bound ratio {k}": v for k, v in ratios.items()},
        **dec,
        **sound,
        **rot,
        **frag,
        **jac,
        "invariance": chk["invariance"],
        "deterministic": chk["deterministic"],
        "CERT count": chk["cert_any"],
        "CERT without VERIFY": chk["bugs"],
    }
)

# %%
worst = max(ratios.values())
n_fail_N = int((~table["N"].astype(bool)).sum())
Markdown(
    f"**Reading of this run.** The largest actual/bound ratio of T1 is {worst:.3g} "
    f"({'the bounds hold on every interface' if worst <= 1 + 1e-10 else 'a bound is VIOLATED: this is a bug'}). "
    f"Inside the radius, {100 * (sound['min_agreement'] or 0):.0f} % of random perturbations "
    f"(worst case over {sound['n_cases']} PAMs) left every structure unchanged; the single-block rescaling "
    f"just beyond (1+τ)/(1−τ)·ρ_act flipped a support in {100 * (sound['flip_rate'] or 0):.0f} % of cases. "
    f"The label example {'keeps' if frag['static_same'] else 'does NOT keep'} every static structure and flips "
    f"{frag['n_label_flips']} label(s); T5 {'detects' if frag['t5_detects'] else 'does NOT detect'} it. "
    f"Of the {len(table)} interfaces of the small trained models, {int(table['CERT_emp'].sum())} are certified "
    f"(CERT_emp) and {n_fail_N} fail the noise bound N. The certified tail contained the true tail for "
    f"{100 * cov['window_cover']:.0f} % of {cov['n']} factors with a known spectrum "
    f"(the Frobenius interval covered {100 * cov['fro_cover']:.0f} %; beyond the known ranks, where the tail "
    f"model extrapolates, {100 * cov['beyond_cover']:.0f} %)."
)

# %%
lsa.write_metrics(
    {
        "bound_ratio_B_F": ratios["B_F"],
        "bound_ratio_B_col": ratios["B_col"],
        "bound_ratio_Phi_2": ratios["Phi_2"],
        "bound_ratio_Phi_F": ratios["Phi_F"],
        "decomp_orth_err": dec["orth"],
        "decomp_energy_err": dec["energy"],
        "gc_dominates": chk["gc_dominates"],
        "sound_cases": sound["n_cases"],
        "sound_min_agreement": sound["min_agreement"],
        "flip_rate": sound["flip_rate"],
        "flip_within_bound": sound["flip_within_bound"],
        "rot_B_rel_change": rot["B_rel_change"],
        "rot_Phi_rel_change": rot["Phi_rel_change"],
        "sign_flip_invariant": rot["sign_flip_invariant"],
        "label_norm_over_rho": frag["norm"] / frag["rho"],
        "label_static_same": frag["static_same"],
        "label_flips": frag["n_label_flips"],
        "label_t5_detects": frag["t5_detects"],
        "jac_sv_rel_err": jac["sv_rel_err"],
        "jac_max_angle": jac["max_angle"],
        "jac_gap_k": jac["gap_k"],
        "jac_operator_err": jac["operator_vs_jacrev"],
        "invariance": chk["invariance"],
        "deterministic": chk["deterministic"],
        "n_interfaces": len(table),
        "cert_emp_count": int(table["CERT_emp"].sum()),
        "cert_gc_count": int(table["CERT_GC"].sum()),
        "verify_count": int(table["VERIFY"].fillna(False).sum()),
        "cert_any_count": chk["cert_any"],
        "cert_without_verify": chk["bugs"],
        "median_alphahat": {n: rep["summary"]["median_alphahat"] for n, rep in reports.items()}.get("ResNet J"),
        "planted_levels": pl_lvl.index.tolist(),
        "planted_cert_share": pl_lvl.cert.tolist(),
        "planted_rho_median": pl_lvl.rho.tolist(),
        "planted_rho_theory": pl_th.rho_theory.tolist(),
        "planted_critical_noise": sigma_c,
        "planted_cert_at_zero": float(pl_lvl.cert.iloc[0]),
        "planted_cert_beyond": float(pl_lvl.cert[pl_lvl.index >= 1.5 * sigma_c].max())
        if (pl_lvl.index >= 1.5 * sigma_c).any()
        else None,
        "planted_n_sound": int(len(pl_sound)),
        "planted_levels_sound": int(pl_df.dropna(subset=["soundness"]).noise.nunique()),
        "planted_sound_min": float(pl_sound.min()) if len(pl_sound) else None,
        "planted_cert_without_verify": int((pl_df.CERT_emp & (pl_df.VERIFY == False)).sum()),  # noqa: E712
        "tail_n": cov["n"],
        "tail_window_cover": cov["window_cover"],
        "tail_fro_cover": cov["fro_cover"],
        "tail_beyond_cover": cov["beyond_cover"],
        "tail_worst_window_excess": cov["worst_window_excess"],
    }
)
