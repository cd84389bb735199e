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
# # PAM certificates: inside the radius the truncated and full structures agree
#
# ```{admonition} Claim box
# :class: note
# **What the paper claims** (GSA II, arXiv 2605.02111, abstract only): the error between the full interface
# transport and its dominant-window truncation is bounded, with fitted-tail errors added to certify empirical
# spectra against the Gibbs–Cartan tail model; source-mode incidence differs from fully physical channel
# incidence; given row groups and active supports the Physical Alignment Matrix (PAM) splits orthogonally into
# core + overlap + noise; active-column gaps, pairwise overlap margins and noise bounds give a static
# certificate radius inside which full and truncated transport have identical supports, incidence graph, SRS
# sets, hub columns and masks; the SC/SA/ST labels need extra row-energy and profile-correlation margins.
#
# **What we reconstructed** (spec `gsa-pam-certificates.md`; the paper body was not readable): every formula
# here — factors, windows, the transport T^w, B and Phi, the T1/T2 bounds, the T4 radius, the T5 label
# margins, and the margin protocol P0–P12 — is *our* reconstruction ([D]/[R] in the spec). Claims 1, 2, 4, 5, 7
# check statements of the abstract *as we formalised them*; claims 6, 11, 12, 14 are ours.
#
# **What this chapter shows**: a small ResNet trained on scikit-learn digits (mode S = folded static weights,
# mode J = mean channel Jacobians on held-out digits) and a small GPT-2 trained on a synthetic bracket
# grammar (mode J), plus random block-sparse PAMs. At `smoke` the models are tiny and trained for seconds;
# the guarantees do not depend on training quality. Figures: F3 transport, F4 source-mode PAM with masks,
# F5 physical incidence, F7 certificate plot, F8 labels.
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

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import lsa
from lsa.gsa import checks
from lsa.gsa.config import GSAConfig
from lsa.gsa.factors import jacobian_factors, static_factors
from lsa.gsa.protocol import run_protocol
from lsa.gsa.zoo import probe, trained

sns.set_theme(palette="colorblind")
cfg = GSAConfig(k_max=k_max, seed=seed)

resnet, _ = trained("resnet", seed, widths=resnet_widths, blocks=resnet_blocks, epochs=resnet_epochs, batch=64)
gpt, _ = trained(
    "gpt", seed, n_layer=gpt_layers, n_embd=gpt_dim, n_head=4, n_inner=4 * gpt_dim, ctx=32, steps=gpt_steps, batch=16
)
chains = {
    "ResNet S": static_factors(resnet),
    "ResNet J": jacobian_factors(resnet, probe("resnet", n_probe, seed)),
    "GPT J": jacobian_factors(gpt, probe("gpt", n_probe, seed)),
}
reports = {name: run_protocol(fs, cfg, n_label_draws=label_draws) for name, fs in chains.items()}
table = pd.DataFrame(
    [
        {
            "chain": n,
            "interface": f"{r['src']}→{r['dst']}",
            "k": r["k"],
            "k'": r["k2"],
            "kappa": r["kappa"],
            "theta_max": r["theta_max"],
            "rho": r["B"]["rho"],
            "delta_emp": r["B"]["delta_F_emp"],
            "delta_GC": r["B"]["delta_F_GC"],
            "actual": r["B"]["actual_F"],
            "rho_struct": min(r["B"]["rho_act"], r["B"]["rho_pair"] if r["B"]["rho_pair"] is not None else np.inf),
            "W": r["W"],
            "G": r["G"],
            "N": r["B"]["N"],
            "CERT_emp": r["B"]["CERT_emp"],
            "CERT_GC": r["B"]["CERT_GC"],
            "VERIFY": r["B"]["VERIFY"],
        }
        for n, rep in reports.items()
        for r in rep["interfaces"]
    ]
)
table

# %% [markdown]
# ## F3 — interface transport
# Heatmaps of |T^w| (cosines between layer l's dominant output directions and layer l+1's dominant input
# directions) for the first interfaces of each chain, and the captured fraction kappa along depth.

# %%
fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
for ax, name in zip(axes[:3], chains):
    ia = reports[name]["_analysis"][0]
    sns.heatmap(np.abs(ia.mats["T"]), ax=ax, cmap="viridis", vmin=0, vmax=1, cbar_kws={"label": "|cos|"})
    ax.set(
        title=f"{name}: |T^w| at {ia.record['src']}→{ia.record['dst']}",
        xlabel="source mode j (layer l)",
        ylabel="receiver mode i (layer l+1)",
    )
for name, rep in reports.items():
    axes[3].plot([r["kappa"] for r in rep["interfaces"]], marker="o", label=name)
axes[3].set(
    xlabel="interface index along depth",
    ylabel="captured fraction kappa",
    ylim=(0, 1.05),
    title="Dominant energy captured by the next window",
)
axes[3].legend()
fig.tight_layout()
lsa.save_figure(fig, "F3_transport")

# %% [markdown]
# ## F4, F5 — source-mode PAM with masks, physical incidence
# Rows sorted by row group; core entries (single supporting group), overlap entries and noise entries are
# shown separately. The physical incidence Phi^tr is basis-free (channel x channel), grouped in blocks of 8.

# %%
ia = reports["ResNet J"]["_analysis"][0]
B, st = ia.mats["B"]["tr"], ia.mats["B"]["struct"]
order = np.argsort(st.groups, kind="stable")
fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
for ax, key in zip(axes[:3], ("core", "overlap", "noise")):
    sns.heatmap(
        np.where(st.masks[key], np.abs(B), np.nan)[order], ax=ax, cmap="mako", cbar_kws={"label": "|B^tr| (a.u.)"}
    )
    ax.set(title=f"{key} part of B^tr", xlabel="source mode j", ylabel="output channel (sorted by group)")
Phi = ia.mats["Phi"]["tr"]
sns.heatmap(np.abs(Phi), ax=axes[3], cmap="rocket", cbar_kws={"label": "|Phi^tr| (a.u.)"})
axes[3].set(title="physical incidence |Phi^tr|", xlabel="input channel of l", ylabel="output channel of l+1")
fig.suptitle(
    f"ResNet J, {ia.record['src']}→{ia.record['dst']}: f_core={ia.record['B']['f_core']:.2f}, "
    f"f_ovl={ia.record['B']['f_ovl']:.2f}, f_noise={ia.record['B']['f_noise']:.2f}"
)
fig.tight_layout()
lsa.save_figure(fig, "F4_F5_pam")

# %% [markdown]
# ## F7 — certificate plot
# Per interface: the empirical bound delta^emp, the Gibbs–Cartan-certified bound delta^GC, the actual
# ||B^full − B^tr||_F, and the radius rho (0 when the noise bound N fails; the open triangles show the
# radius from the active gaps and overlap margins alone). CERT holds when delta < rho.

# %%
fig, ax = plt.subplots(figsize=(11, 3.8))
x = np.arange(len(table))
tiny = 1e-6
ax.semilogy(x, table["delta_emp"] + tiny, "o", label="delta^emp (T1)")
ax.semilogy(x, table["delta_GC"] + tiny, "s", mfc="none", label="delta^GC (T2)")
ax.semilogy(x, table["actual"] + tiny, "x", label="actual ||B^full − B^tr||_F")
ax.semilogy(x, table["rho"] + tiny, "v", label="radius rho (+1e-6; 0 when N fails)")
ax.semilogy(x, table["rho_struct"] + tiny, "^", mfc="none", label="gap/overlap radius, noise term left out")
for i, ok in enumerate(table["CERT_emp"]):
    ax.axvspan(i - 0.4, i + 0.4, color="tab:green" if ok else "tab:grey", alpha=0.12, lw=0)
ax.set_xticks(x, [f"{c}\n{i}" for c, i in zip(table["chain"], table["interface"])], rotation=90, fontsize=6)
ax.set(
    ylabel="Frobenius norm (a.u., log)",
    title=f"Actual truncation error never exceeds its bound; certified interfaces: {int(table['CERT_emp'].sum())}"
    f"/{len(table)} (green)",
)
ax.legend(fontsize=7, ncol=2)
lsa.save_figure(fig, "F7_certificates")

# %% [markdown]
# ## F8 — SC/SA/ST labels and their flip rates
# On square residual interfaces (same channels in and out). Labels use our rules (spec 2.10).

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
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
if len(labels_table):
    labels_table.set_index("interface")[["SC", "SA", "ST", "null"]].plot.bar(stacked=True, ax=axes[0])
    flips = labels_table[[c for c in labels_table if c.startswith("flip@")]]
    flips.index = labels_table["interface"]
    flips.plot(marker="o", ax=axes[1])
axes[0].set(ylabel="channels", title="Label counts per residual interface", xlabel="interface")
axes[1].set(
    ylabel="fraction of labels flipped", xlabel="interface", title="Random perturbations at f·delta^emp flip labels"
)
for ax in axes:
    ax.tick_params(axis="x", labelrotation=90, labelsize=6)
fig.tight_layout()
lsa.save_figure(fig, "F8_labels")
labels_table

# %% [markdown]
# ## Guarantee checks (spec section 6)

# %%
analyses = [ia for rep in reports.values() for ia in rep["_analysis"]]
ratios = checks.bound_ratios(analyses)
pams = [(ia.mats[t]["tr"], ia.mats[t]["groups"]) for ia in analyses for t in ("B", "Phi")]
pams += [
    (ia.mats[t]["full"], ia.mats[t]["groups"])
    for ia in analyses
    for t in ("B", "Phi")
    if ia.mats[t]["full"] is not None
]
dec = checks.decomposition_errors(pams, cfg)
rng = np.random.default_rng(seed)
cases = [checks.structured_pam(rng) for _ in range(n_random)]
trained_cases = [(ia.mats[t]["tr"], ia.mats[t]["groups"]) for ia in analyses for t in ("B", "Phi")]
cases += [c for c in trained_cases if checks.margins_of(*c, cfg)["rho"] > 0][:n_trained_cases]
sound = checks.soundness_and_tightness(cases, n_draws, cfg=cfg, seed=seed)
rot = checks.degenerate_rotation(seed)
frag = checks.label_fragility(cfg)
jac = checks.jacobian_agreement(chains["ResNet J"][0], k=4, n_ref=4, seed=seed)
inv = all(checks.invariance(P, g, cfg, seed) for P, g in cases[:5])
det = checks.json_digest(run_protocol(chains["ResNet S"], cfg, n_label_draws=label_draws)) == checks.json_digest(
    reports["ResNet S"]
)
n_cert = sum(int(r["B"]["CERT_emp"]) + int(r["Phi"]["CERT_emp"]) for rep in reports.values() for r in rep["interfaces"])
n_bug = sum(rep["summary"]["bugs"] for rep in reports.values())
pd.Series(
    {
        **{f"bound ratio {k}": v for k, v in ratios.items()},
        **dec,
        **sound,
        **rot,
        **frag,
        **jac,
        "invariance": inv,
        "deterministic": det,
        "CERT count": n_cert,
        "CERT without VERIFY": n_bug,
    }
)

# %% [markdown]
# Reading: the T1 ratios are at most 1 (the bounds hold on every interface); in the random-perturbation test
# no structure changed inside the radius, while the constructed single-block rescaling of norm
# ≤ (1+τ)/(1−τ)·rho_act flips a support; the label example keeps every static structure yet flips a label,
# which T5 detects. How many interfaces of the small trained models are *certified* is a finding that depends
# on training: see the table above (random-init or briefly trained factors often fail the noise bound N).

# %%
lsa.write_metrics(
    {
        "bound_ratio_B_F": ratios["B_F"],
        "bound_ratio_B_col": ratios["B_col"],
        "bound_ratio_Phi_2": ratios["Phi_2"],
        "bound_ratio_Phi_F": ratios["Phi_F"],
        "decomp_orth_err": dec["orth"],
        "decomp_energy_err": dec["energy"],
        "gc_dominates": bool(
            all(
                r["B"]["delta_F_GC"] >= r["B"]["delta_F_emp"] * (1 - 1e-12)
                for rep in reports.values()
                for r in rep["interfaces"]
            )
        ),
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
        "invariance": inv,
        "deterministic": det,
        "n_interfaces": len(table),
        "cert_emp_count": int(table["CERT_emp"].sum()),
        "cert_gc_count": int(table["CERT_GC"].sum()),
        "verify_count": int(table["VERIFY"].fillna(False).sum()),
        "cert_any_count": n_cert,
        "cert_without_verify": n_bug,
        "median_alphahat": {n: rep["summary"]["median_alphahat"] for n, rep in reports.items()}.get("ResNet J"),
    }
)
