"""All conventions of our GSA reconstruction (its table of choices) in one config object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

ROW_GROUP_RULES = ("argmax", "blocks", "spectral")


@dataclass(frozen=True)
class GSAConfig:
    """Defaults of the margin protocol P0–P12 and of every convention of our reconstruction.

    Parameters
    ----------
    q_win : float
        Energy level of the dominant window (k = r_q, default r_0.9).
    q_lo, q_hi : float
        Gap-snapping interval [r_q_lo, r_q_hi] of the window.
    k_max : int
        Cap on the window size (16 small scale, 64 at scale).
    g_min : float
        Minimum relative gap at the window edge (check W).
    g_deg : float
        Relative gap below which adjacent modes are merged into a degenerate cluster.
    eps_max : float
        Maximum fitted-tail error eps* for the Gibbs–Cartan fit check G.
    tau : float
        Active-support threshold, a_{g,j} >= tau c_j.
    tau2 : float
        Edge threshold of the pairwise incidence graph (cosine of block profiles).
    nu : float
        Noise bound, ||P ⊙ M_noise||_F <= nu ||P||_F.
    h_hub : int
        Support size from which a column is a hub (only with >= 3 groups).
    row_groups : {"argmax", "blocks", "spectral"}
        Row-group rule: dominant-mode assignment, contiguous architecture blocks, or (optional) spectral
        clustering of the rows of P ⊙ P into as many clusters as columns.
    block_size : int
        Size of architecture row groups (rule "blocks").
    theta_s, theta_q, theta_kappa : float
        SC/SA/ST label thresholds (self share, own-group share, depth-profile cosine).
    oversample, n_iter : int
        Randomized-SVD oversampling and power iterations.
    dense_max : int
        Factors whose smaller dimension is at most this are handled densely.
    seed : int
        Seed of random sketches and perturbation tests.
    """

    q_win: float = 0.9
    q_lo: float = 0.85
    q_hi: float = 0.95
    k_max: int = 16
    g_min: float = 0.02
    g_deg: float = 1e-3
    eps_max: float = 0.05
    tau: float = 0.3
    tau2: float = 0.5
    nu: float = 0.25
    h_hub: int = 3
    row_groups: str = "argmax"
    block_size: int = 8
    theta_s: float = 0.5
    theta_q: float = 0.5
    theta_kappa: float = 0.8
    oversample: int = 10
    n_iter: int = 2
    dense_max: int = 2048
    seed: int = 0
    q_grid: tuple = field(default=(0.5, 0.8, 0.9, 0.95, 0.99))

    def __post_init__(self):
        checks = {
            "q_win": 0 < self.q_win <= 1,
            "q_lo": 0 < self.q_lo <= self.q_win,
            "q_hi": self.q_win <= self.q_hi <= 1,
            "k_max": self.k_max >= 1,
            "g_min": self.g_min >= 0,
            "g_deg": self.g_deg >= 0,
            "eps_max": self.eps_max > 0,
            "tau": 0 < self.tau < 1,
            "tau2": 0 < self.tau2 < 1,
            "nu": 0 < self.nu < 1,
            "h_hub": self.h_hub >= 2,
            "block_size": self.block_size >= 1,
            "theta_s": 0 < self.theta_s < 1,
            "theta_q": 0 < self.theta_q < 1,
            "theta_kappa": -1 < self.theta_kappa < 1,
            "oversample": self.oversample >= 0,
            "n_iter": self.n_iter >= 0,
            "dense_max": self.dense_max >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"GSAConfig: invalid value(s) for {bad}: " + ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
            )
        if self.row_groups not in ROW_GROUP_RULES:
            raise ValueError(f"GSAConfig.row_groups must be one of {ROW_GROUP_RULES}, got {self.row_groups!r}")

    def to_dict(self) -> dict:
        """Plain dict (for JSON reports and cache keys)."""
        d = asdict(self)
        d["q_grid"] = list(self.q_grid)
        return d

    def with_(self, **changes) -> GSAConfig:
        """A copy with ``changes`` applied; unknown names raise a ``ValueError`` naming them."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"GSAConfig has no option(s) {unknown}; known options: {sorted(names)}")
        return replace(self, **changes)
