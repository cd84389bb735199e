"""Simulated T1w cohort built from nilearn's bundled MNI152 template (offline).

Every subject is a deterministic function of ``(config.seed, subject index)``: a smooth random warp of
the template and its tissue maps, biological and scanner variability (bias field, gain, Rician noise),
optional sites and age, and -- for ASD subjects -- a white-matter hypo-intensity of strength ``delta``.
The image is *linear* in ``delta`` before the Rician noise, so one render of the nuisance draws serves
every effect size (:meth:`SubjectRender.image`), which makes the accuracy-versus-``d`` curve paired.

``d`` is Cohen's d of a univariate summary (WM-weighted mean intensity over mean GM intensity) between
groups, calibrated on pilot control subjects (:func:`calibrate`).

"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
from scipy import ndimage

from lsa import cache

# Focal-effect ROI centres (MNI mm): genu, splenium, L/R anterior corona radiata, L/R SLF.
ROI_CENTERS_MM = ((0, 25, 8), (0, -38, 14), (-20, 25, 20), (20, 25, 20), (-35, -20, 30), (35, -20, 30))
PILOT_OFFSET = 1_000_000  # subject indices of calibration pilots (disjoint from any cohort)
SEG_OFFSET = 500_000  # subject indices of the segmentation cohort


@dataclass(frozen=True)
class SimConfig:
    """Parameters of a simulated cohort. Defaults at 2 mm."""

    n_subjects: int = 190  # balanced: odd indices are ASD
    resolution_mm: int = 2  # 2 (default), 4 (tests, smoke), any integer works
    effect_extent: str = "diffuse"  # "diffuse" (all WM) or "focal" (six ROIs)
    roi_sigma_mm: float = 8.0
    warp_rms_mm: float = 3.0  # RMS length of the displacement vector
    warp_smooth_mm: float = 12.0
    scale_jitter: float = 0.03  # global scale drawn in [1 - j, 1 + j]
    bias_sd: float = 0.07
    bias_smooth_mm: float = 30.0
    noise_frac: float = 0.03  # Rician sigma as a fraction of the mean WM intensity
    bio_sd: float = 0.03
    bio_smooth_mm: float = 8.0
    contrast_jitter: float = 0.05  # WM intensity factor drawn in [1 - j, 1 + j]
    age_range: tuple = (6.0, 18.0)
    beta_age: float = 0.02
    n_sites: int = 1
    site_dx_agreement: float = 0.5  # with 2 sites: P(site == diagnosis); 0.5 = no confound
    site_noise_factor: float = 1.3  # site 1's noise multiplier
    site_bias_factor: float = 2.0  # site 1's bias-field exponent multiplier
    n_pilot: int = 30  # calibration pilots
    pilot_delta: float = 0.05
    seed: int = 0

    def __post_init__(self):
        errs = []
        if self.effect_extent not in ("diffuse", "focal"):
            errs.append(f"effect_extent must be 'diffuse' or 'focal', got {self.effect_extent!r}")
        if not (isinstance(self.resolution_mm, int) and 1 <= self.resolution_mm <= 8):
            errs.append(f"resolution_mm must be an integer in 1..8, got {self.resolution_mm!r}")
        if self.n_subjects < 2:
            errs.append(f"n_subjects must be >= 2, got {self.n_subjects}")
        if self.n_sites < 1:
            errs.append(f"n_sites must be >= 1, got {self.n_sites}")
        if not 0.0 <= self.site_dx_agreement <= 1.0:
            errs.append(f"site_dx_agreement must lie in [0, 1], got {self.site_dx_agreement}")
        if self.n_pilot < 3:
            errs.append(f"n_pilot must be >= 3, got {self.n_pilot}")
        if errs:
            raise ValueError("; ".join(errs))

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=8)
def load_template(resolution_mm: int) -> dict:
    """MNI152 T1 (x1000), WM/GM probability and brain mask at ``resolution_mm``, from nilearn's package data.

    Returns a dict of float32 arrays ``t1, wm, gm, brain`` and the 4x4 ``affine``. No network is used.
    """
    from nilearn import datasets

    t1 = datasets.load_mni152_template(resolution=resolution_mm)
    wm = datasets.load_mni152_wm_template(resolution=resolution_mm)
    gm = datasets.load_mni152_gm_template(resolution=resolution_mm)
    brain = datasets.load_mni152_brain_mask(resolution=resolution_mm)
    out = {
        k: np.asarray(img.get_fdata(), dtype=np.float32) for k, img in dict(t1=t1, wm=wm, gm=gm, brain=brain).items()
    }
    out["t1"] = out["t1"] * 1000.0
    out["affine"] = np.asarray(t1.affine, dtype=np.float64)
    for v in out.values():
        v.setflags(write=False)
    return out


def effect_weight(config: SimConfig) -> np.ndarray:
    """Template-space effect weight ``w = P_wm * g``: ``g = 1`` (diffuse) or ROI Gaussians."""
    tpl = load_template(config.resolution_mm)
    if config.effect_extent == "diffuse":
        return tpl["wm"].copy()
    ijk = np.indices(tpl["wm"].shape, dtype=np.float64).reshape(3, -1)
    xyz = tpl["affine"][:3, :3] @ ijk + tpl["affine"][:3, 3:4]
    g = np.zeros(ijk.shape[1])
    for c in ROI_CENTERS_MM:
        r2 = ((xyz - np.asarray(c, float)[:, None]) ** 2).sum(0)
        g = np.maximum(g, np.exp(-r2 / (2 * config.roi_sigma_mm**2)))
    return (tpl["wm"] * g.reshape(tpl["wm"].shape)).astype(np.float32)


def smooth_field(rng: np.random.Generator, shape, res_mm: float, smooth_mm: float) -> np.ndarray:
    """Unit-SD smooth random field: white noise on a coarse grid, Gaussian-smoothed, cubic-upsampled."""
    step = max(smooth_mm / 2.0, res_mm)  # coarse spacing in mm
    cshape = tuple(int(np.ceil(s * res_mm / step)) + 4 for s in shape)
    coarse = ndimage.gaussian_filter(rng.standard_normal(cshape), sigma=smooth_mm / step, mode="wrap")
    grids = [np.arange(s) * res_mm / step + 2.0 for s in shape]
    f = ndimage.map_coordinates(coarse, np.meshgrid(*grids, indexing="ij", sparse=False), order=1, mode="nearest")
    return ((f - f.mean()) / (f.std() + 1e-12)).astype(np.float32)


@dataclass
class SubjectRender:
    """One rendered subject. ``image(delta)`` is the T1w image for effect strength ``delta``.

    Attributes hold the nuisance-only image ``base``, the effect component ``effect`` (zero for TD
    subjects), the Rician noise draws, the warped maps, the ground-truth WM mask and participant info.
    """

    index: int
    label: int  # 1 = ASD, 0 = TD
    site: int
    age: float
    base: np.ndarray
    effect: np.ndarray
    noise1: np.ndarray
    noise2: np.ndarray
    sigma: float
    brain: np.ndarray  # bool
    wm_prob: np.ndarray
    gm_prob: np.ndarray
    weight: np.ndarray  # warped effect weight w~
    affine: np.ndarray = field(repr=False, default=None)

    @property
    def subject_id(self) -> str:
        return f"sub-{self.index:07d}"

    @property
    def diagnosis(self) -> str:
        return "ASD" if self.label == 1 else "TD"

    @property
    def gt_wm(self) -> np.ndarray:
        """Ground-truth WM mask (uint8): warped WM probability >= 0.5 inside the brain."""
        return ((self.wm_prob >= 0.5) & self.brain).astype(np.uint8)

    def image(self, delta: float = 0.0, force_effect: bool = False) -> np.ndarray:
        """T1w image (float32, zero outside the brain) with WM effect strength ``delta`` (ASD only).

        ``force_effect`` applies the effect whatever the label (used by the calibration pilots).
        """
        pre = self.base if (delta == 0 or (self.label == 0 and not force_effect)) else self.base - delta * self.effect
        img = np.sqrt((pre + self.sigma * self.noise1) ** 2 + (self.sigma * self.noise2) ** 2)
        return np.where(self.brain, img, 0.0).astype(np.float32)


def subject_label(index: int) -> int:
    """Diagnosis of subject ``index`` in a balanced cohort: odd indices are ASD (1), even are TD (0)."""
    return int(index % 2)


def _participant_meta(config, label: int, r_meta: np.random.Generator) -> tuple[float, int]:
    """Age and site of one participant, drawn from its metadata stream (one definition for images and table)."""
    age = float(r_meta.uniform(*config.age_range))
    if config.n_sites == 1:
        site = 0
    elif config.n_sites == 2:
        site = label if r_meta.random() < config.site_dx_agreement else 1 - label
    else:
        site = int(r_meta.integers(config.n_sites))
    return age, site


def render_subject(config: SimConfig, index: int, label: int | None = None, site: int | None = None) -> SubjectRender:
    """Render subject ``index`` of the cohort ``config`` deterministically.

    Seeds: ``SeedSequence([config.seed, index])`` spawns separate streams for anatomy, biology, site /
    age, scanner and noise, so changing e.g. the site model leaves the anatomy of a subject unchanged.
    ``site`` overrides the drawn site (the subject as scanned at that site); ``label`` overrides the
    diagnosis (calibration pilots).
    """
    return render_subject_sites(config, index, label=label, sites=None if site is None else (site,))[0]


def render_subject_sites(config: SimConfig, index: int, label: int | None = None, sites=None) -> list[SubjectRender]:
    """Subject ``index`` as scanned at each of ``sites`` (default: its drawn site), sharing one anatomy.

    Only the scanner (bias-field exponent and noise level, by site) differs between the returned renders;
    anatomy, biology, gain, the bias-field draw and the noise draws are shared, so the render at site ``s``
    equals :func:`render_subject` of any cohort in which this subject was drawn at site ``s`` (a tested
    identity). Rendering several sites this way costs little more than one render.
    """
    tpl = load_template(config.resolution_mm)
    res = float(config.resolution_mm)
    shape = tpl["t1"].shape
    label = subject_label(index) if label is None else int(label)
    r_anat, r_bio, r_meta, r_scan, r_noise = (
        np.random.default_rng(s) for s in np.random.SeedSequence([config.seed, index]).spawn(5)
    )
    age, drawn_site = _participant_meta(config, label, r_meta)
    sites = (drawn_site,) if sites is None else tuple(int(x) for x in sites)
    if any(not 0 <= x < max(2, config.n_sites) for x in sites):
        raise ValueError(f"sites must lie in 0..{max(2, config.n_sites) - 1}, got {sites}")
    # anatomy: smooth displacement field (mm) + global scale about the volume centre
    per_axis = config.warp_rms_mm / np.sqrt(3.0)
    disp = [smooth_field(r_anat, shape, res, config.warp_smooth_mm) * per_axis / res for _ in range(3)]
    scale = 1.0 + r_anat.uniform(-config.scale_jitter, config.scale_jitter)
    centre = (np.asarray(shape) - 1) / 2.0
    grid = np.indices(shape, dtype=np.float32)
    coords = [centre[a] + (grid[a] - centre[a]) / scale + disp[a] for a in range(3)]
    w = effect_weight(config)

    def warp(vol):
        return ndimage.map_coordinates(vol, coords, order=1, mode="constant", cval=0.0).astype(np.float32)

    t1, wm, gm, brain_p = warp(tpl["t1"]), warp(tpl["wm"]), warp(tpl["gm"]), warp(tpl["brain"])
    weight, eff_t = warp(w), warp(tpl["t1"] * w)
    brain = brain_p >= 0.5
    # biology: smooth WM field, WM contrast jitter, age term (all multiplicative on WM)
    z_age = (age - np.mean(config.age_range)) / ((config.age_range[1] - config.age_range[0]) / np.sqrt(12))
    wm_gain = 1.0 + r_bio.uniform(-config.contrast_jitter, config.contrast_jitter) + config.beta_age * z_age
    f_bio = smooth_field(r_bio, shape, res, config.bio_smooth_mm) * config.bio_sd
    m_bio = (1.0 + wm * (wm_gain * np.exp(f_bio) - 1.0)).astype(np.float32)
    # scanner: gain, bias field (site 1 stronger), noise level (site 1 noisier)
    gain = r_scan.uniform(0.85, 1.15)
    bias_field = smooth_field(r_scan, shape, res, config.bias_smooth_mm)
    wm_level = float(tpl["t1"][tpl["wm"] >= 0.5].mean())
    n1 = r_noise.standard_normal(shape, dtype=np.float32)
    n2 = r_noise.standard_normal(shape, dtype=np.float32)
    anat = t1 * m_bio
    eff_anat = eff_t * m_bio
    out = []
    for site in sites:
        bias_mult = config.site_bias_factor if site == 1 else 1.0
        noise_mult = config.site_noise_factor if site == 1 else 1.0
        bias = np.exp(bias_field * config.bias_sd * bias_mult)
        scan = (gain * bias).astype(np.float32)
        sigma = config.noise_frac * noise_mult * wm_level * gain
        base = anat * scan
        effect = (eff_anat * scan) if label == 1 else np.zeros_like(base)
        out.append(
            SubjectRender(
                index=index,
                label=label,
                site=int(site),
                age=age,
                base=base,
                effect=effect,
                noise1=n1,
                noise2=n2,
                sigma=float(sigma),
                brain=brain,
                wm_prob=wm,
                gm_prob=gm,
                weight=weight,
                affine=tpl["affine"],
            )
        )
    return out


def wm_summary(image: np.ndarray, render: SubjectRender) -> float:
    """Univariate summary ``S_int``: effect-weighted mean intensity over mean GM intensity."""
    w = render.weight * render.brain
    gm = (render.gm_prob >= 0.5) & render.brain
    return float((w * image).sum() / w.sum() / image[gm].mean())


def cohens_d(a, b) -> float:
    """Cohen's d of ``a`` minus ``b`` with the pooled SD (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sp = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return float((a.mean() - b.mean()) / sp)


@dataclass(frozen=True)
class Calibration:
    """Effect calibration: ``delta(d) = d * delta_per_d``."""

    delta_per_d: float
    sd_controls: float
    sensitivity: float
    n_pilot: int

    def delta(self, d: float) -> float:
        return float(d) * self.delta_per_d


def calibrate(config: SimConfig) -> Calibration:
    """Calibrate the effect strength on ``config.n_pilot`` pilot controls (indices disjoint from cohorts).

    Each pilot is rendered once; its summary is taken at ``delta = 0`` and ``delta = pilot_delta`` with
    the same nuisance draws. Sensitivity = mean paired drop / pilot_delta; ``delta_per_d`` =
    SD of the controls' summary / sensitivity.
    """
    s0, s1 = [], []
    for j in range(config.n_pilot):
        r = render_subject(config, PILOT_OFFSET + j, label=1)  # label 1 so the effect component exists
        s0.append(wm_summary(r.image(0.0), r))
        s1.append(wm_summary(r.image(config.pilot_delta), r))
    s0, s1 = np.asarray(s0), np.asarray(s1)
    sens = float(np.mean(s0 - s1) / config.pilot_delta)
    sd = float(s0.std(ddof=1))
    if sens <= 0:
        raise RuntimeError(f"calibration failed: non-positive sensitivity {sens}")
    return Calibration(delta_per_d=sd / sens, sd_controls=sd, sensitivity=sens, n_pilot=config.n_pilot)


def participants(config: SimConfig, indices=None):
    """Participant table (``participant_id, diagnosis, label, site, age``) without rendering images."""
    import pandas as pd

    rows = []
    for i in range(config.n_subjects) if indices is None else indices:
        label = subject_label(i)
        r_meta = np.random.default_rng(np.random.SeedSequence([config.seed, i]).spawn(5)[2])
        age, site = _participant_meta(config, label, r_meta)
        rows.append(
            dict(
                participant_id=f"sub-{i:07d}",
                diagnosis="ASD" if label else "TD",
                label=label,
                site=int(site),
                age=age,
                index=i,
            )
        )
    return pd.DataFrame(rows)


def _calibration_entry(key: dict, config: SimConfig) -> Calibration:
    """The cached computation of :func:`cached_calibration`: joblib keys it by ``key`` alone."""
    return calibrate(config)


def cached_calibration(config: SimConfig) -> Calibration:
    """:func:`calibrate`, cached with :mod:`lsa.cache` (joblib) keyed by the config and this module's code.

    ``n_subjects`` and the site settings do not enter the key (pilots are single-site controls).
    """
    key = {
        k: v
        for k, v in config.to_dict().items()
        if k not in ("n_subjects", "n_sites", "site_dx_agreement", "site_noise_factor", "site_bias_factor")
    }
    compute = cache.memory("mri/calibration", __name__).cache(_calibration_entry, ignore=["config"])
    return compute(key, config)
