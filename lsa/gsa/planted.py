"""A planted-structure interface: two factors whose source-mode PAM has known core, overlap and noise
energies, for watching where the static certificate starts and stops to hold as the noise grows.

Construction (one interface, factor l then factor l+1):

* factor l (``d x d``) has ``k`` dominant singular values spread evenly over [1, 0.8] and a tail of
  ``d - k`` values of size ``tail`` (random singular vectors), so its dominant window is the top ``k``;
* the planted PAM ``C`` (``m x k``, ``m = G * b`` output channels in ``G`` row groups of ``b`` rows) has unit
  columns: "core" columns carry all their energy on ``b/2`` rows of one group, "overlap" columns split it
  evenly over ``b/2`` rows in each of two groups (disjoint rows, so the columns are orthogonal), and every
  other entry receives Gaussian noise of standard deviation ``noise``;
* factor l+1 (``m x d``) is ``[C diag(1/s_w) | E] U_l^T`` with a tail coupling ``E`` of singular values
  ``tail``, so that the full source-mode incidence ``A_{l+1} U_w Sigma_w`` is exactly ``C`` and its window
  truncation differs from it by the tail.

The *theory* column of :func:`planted_sweep` evaluates the T4 radius on the expected block energies of
``C`` (planted energy plus ``noise^2`` per noise entry), and the noise level at which the expected noise
energy reaches the noise bound ``nu ||P||_F``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsa.gsa.certificate import margins, perturbation_test
from lsa.gsa.config import GSAConfig
from lsa.gsa.factors import Factor
from lsa.gsa.pam import pam_structure
from lsa.gsa.protocol import run_protocol
from lsa.linalg import random_orthogonal


@dataclass(frozen=True)
class PlantedDesign:
    """Sizes of the planted interface.

    Parameters
    ----------
    n_groups : int
        Row groups G of the PAM (at least 2).
    group_size : int
        Rows per group b (even, at least 2); the PAM has ``m = G b`` rows.
    n_core, n_overlap : int
        Core columns (one group each, cycling over the groups) and overlap columns (two adjacent groups
        each); ``k = n_core + n_overlap`` dominant modes. At most ``G`` of each, so that planted rows never
        collide.
    d : int
        Dimension of the interface (and of factor l's input), ``d > k``.
    tail : float
        Size of the tail singular values of both factors (sets the truncation error).
    """

    n_groups: int = 4
    group_size: int = 8
    n_core: int = 4
    n_overlap: int = 2
    d: int = 16
    tail: float = 0.01

    def __post_init__(self):
        ok = (
            self.n_groups >= 2
            and self.group_size >= 2
            and self.group_size % 2 == 0
            and 0 <= self.n_core <= self.n_groups
            and 0 <= self.n_overlap <= self.n_groups
            and self.n_core + self.n_overlap >= 1
            and self.d > self.n_core + self.n_overlap
            and self.tail >= 0
        )
        if not ok:
            raise ValueError(
                f"invalid planted design {self}: need G >= 2, even b >= 2, 0 <= n_core, n_overlap <= G, d > k"
            )

    @property
    def k(self) -> int:
        """Number of dominant modes (PAM columns)."""
        return self.n_core + self.n_overlap

    @property
    def m(self) -> int:
        """Number of PAM rows (output channels of factor l+1)."""
        return self.n_groups * self.group_size

    def layout(self) -> tuple[np.ndarray, np.ndarray]:
        """``(groups, share)``: the row group of every row, and the planted energy share (m x k) of each
        planted entry's column (0 on noise entries)."""
        G, b, h = self.n_groups, self.group_size, self.group_size // 2
        groups = np.repeat(np.arange(G), b)
        share = np.zeros((self.m, self.k))
        for j in range(self.n_core):  # rows 0..h-1 of group j
            share[j * b : j * b + h, j] = 1.0 / h
        for i in range(self.n_overlap):  # rows h..b-1 of groups 2i and 2i+1 (mod G)
            j = self.n_core + i
            for g in ((2 * i) % G, (2 * i + 1) % G):
                share[g * b + h : g * b + b, j] = 1.0 / (2 * h)
        return groups, share


def planted_pam(design: PlantedDesign, noise: float, rng: np.random.Generator) -> np.ndarray:
    """The planted PAM ``C`` (m x k): unit-energy planted blocks with random signs and directions, plus
    Gaussian noise of standard deviation ``noise`` on every other entry."""
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    groups, share = design.layout()
    C = np.zeros_like(share)
    for j in range(design.k):
        for g in np.unique(groups[share[:, j] > 0]):
            rows = (share[:, j] > 0) & (groups == g)
            v = rng.standard_normal(int(rows.sum()))
            C[rows, j] = v / np.linalg.norm(v) * np.sqrt(share[rows, j].sum())  # the block's planted energy
    C[share == 0] = noise * rng.standard_normal(int((share == 0).sum()))
    return C


def planted_chain(design: PlantedDesign, noise: float, rng: np.random.Generator) -> tuple[list[Factor], np.ndarray]:
    """The two factors of the planted interface and the planted PAM ``C`` (= their full source incidence)."""
    k, d, m = design.k, design.d, design.m
    s_w = np.linspace(1.0, 0.8, k)
    s_l = np.concatenate([s_w, np.full(d - k, design.tail)])
    U_l = random_orthogonal(d, rng)
    A_l = (U_l * s_l) @ random_orthogonal(d, rng).T
    C = planted_pam(design, noise, rng)
    Q = random_orthogonal(m, rng)[:, : d - k]
    E = (Q * np.full(d - k, design.tail)) @ random_orthogonal(d - k, rng).T
    A_next = np.hstack([C / s_w, E]) @ U_l.T
    factors = [
        Factor("planted l", A_l, "in", "interface", "S"),
        Factor("planted l+1", A_next, "interface", "out", "S"),
    ]
    return factors, C


def planted_config(design: PlantedDesign, cfg: GSAConfig = GSAConfig()) -> GSAConfig:
    """The protocol settings of the planted interface: architecture row groups of the planted size and a
    window cap at the planted ``k``."""
    return cfg.with_(row_groups="blocks", block_size=design.group_size, k_max=design.k)


def expected_pam(design: PlantedDesign, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A PAM whose block energies are the *expected* ones of :func:`planted_pam` at this noise (one entry
    per block carries the block's energy), and its row groups: the input of the theory radius."""
    groups, share = design.layout()
    E = share + np.where(share == 0, noise**2, 0.0)
    G = design.n_groups
    P = np.zeros((G, design.k))
    for g in range(G):
        P[g] = np.sqrt(E[groups == g].sum(axis=0))
    return P, np.arange(G)


def critical_noise(design: PlantedDesign, cfg: GSAConfig = GSAConfig()) -> float:
    """The noise level at which the expected noise energy reaches the noise bound: eta^2 = nu^2 ||P||_F^2 on
    the expected energies (beyond it, the theory gives no certificate)."""
    groups, share = design.layout()
    energy0 = share.sum()
    n_noise_entries = int((share == 0).sum())
    st = pam_structure(*expected_pam(design, 0.0), cfg)
    n_out = sum(int(np.sum(~np.isin(groups, np.flatnonzero(st.support[:, j])))) for j in range(design.k))
    den = n_out - cfg.nu**2 * n_noise_entries
    return float(np.sqrt(cfg.nu**2 * energy0 / den)) if den > 0 else float("inf")


def support_noise(design: PlantedDesign, cfg: GSAConfig = GSAConfig()) -> float:
    """The noise level at which the expected energy of an inactive group of a core column reaches
    ``tau^2`` times the column's expected energy: beyond it the planted supports themselves change (noise
    groups turn active), so the PAM no longer shows the planted structure."""
    groups, share = design.layout()
    j = 0 if design.n_core else design.k - 1
    planted_groups = np.unique(groups[share[:, j] > 0])
    others = [g for g in range(design.n_groups) if g not in planted_groups]
    if not others:
        return float("inf")
    n_g = int(np.sum(groups == others[0]))
    n_noise = int(np.sum(share[:, j] == 0))
    den = n_g - cfg.tau**2 * n_noise
    return float(np.sqrt(cfg.tau**2 * share[:, j].sum() / den)) if den > 0 else float("inf")


def planted_sweep(
    noise_levels,
    n_draws: int = 8,
    n_perturb: int = 25,
    design: PlantedDesign = PlantedDesign(),
    cfg: GSAConfig = GSAConfig(),
    seed: int = 0,
) -> dict:
    """Run the margin protocol on ``n_draws`` planted interfaces per noise level.

    For each draw: the radius rho of the source-mode PAM, the truncation bounds delta^emp, CERT_emp, VERIFY,
    the noise bound N, the measured core / overlap / noise fractions, and the soundness rate (share of
    ``n_perturb`` random perturbations per scale s in {0.25, 0.5, 0.9, 0.999} of norm s rho that leave every
    structure unchanged; None when rho = 0). Per level: the theory radius on the expected energies.

    Returns
    -------
    dict with ``rows`` (one per draw), ``theory`` (one per level: ``noise``, ``rho_theory``),
    ``critical_noise`` and ``support_noise``.
    """
    levels = [float(x) for x in noise_levels]
    if not levels or min(levels) < 0:
        raise ValueError(f"noise_levels must be a non-empty list of values >= 0, got {noise_levels}")
    pcfg = planted_config(design, cfg)
    rng = np.random.default_rng(seed)
    rows, theory = [], []
    for lvl in levels:
        P_exp, g_exp = expected_pam(design, lvl)
        theory.append({"noise": lvl, "rho_theory": margins(pam_structure(P_exp, g_exp, pcfg), pcfg)["rho"]})
        for i in range(n_draws):
            factors, _ = planted_chain(design, lvl, rng)
            rep = run_protocol(factors, pcfg, labels=False)
            ia = rep["_analysis"][0]
            rec, B = ia.record["B"], ia.mats["B"]
            sound = None
            if rec["rho"] > 0:
                sound = min(
                    perturbation_test(
                        B["tr"], B["groups"], rec["rho"], n_draws=n_perturb, cfg=pcfg, seed=seed + 7919 * i
                    ).values()
                )
            rows.append(
                {
                    "noise": lvl,
                    "draw": i,
                    "k": ia.record["k"],
                    "k2": ia.record["k2"],
                    "rho": rec["rho"],
                    "rho_act": rec["rho_act"],
                    "rho_pair": rec["rho_pair"],
                    "rho_noise": rec["rho_noise"],
                    "delta_emp": rec["delta_F_emp"],
                    "actual": rec["actual_F"],
                    "N": rec["N"],
                    "CERT_emp": rec["CERT_emp"],
                    "VERIFY": rec["VERIFY"],
                    "f_core": rec["f_core"],
                    "f_ovl": rec["f_ovl"],
                    "f_noise": rec["f_noise"],
                    "soundness": sound,
                }
            )
    return {
        "rows": rows,
        "theory": theory,
        "critical_noise": critical_noise(design, pcfg),
        "support_noise": support_noise(design, pcfg),
    }
