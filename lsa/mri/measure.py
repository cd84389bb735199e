"""Everything the Part IV analyses measure on one simulated subject, from a single render.

A chapter asks for a :class:`MeasurementPlan` (effect sizes, masks, site variant, shape features, CNN
inputs) and :func:`measure_cohort` renders each subject **once** and derives every requested quantity from
that render: radiomics at each effect size, the subject as scanned at the other site, features inside other
masks (intensity baseline, grey matter, MultiUNet), shape features of the oracle mask, and CNN inputs. Three
facts make this cheap without changing any number:

- a control subject's image does not depend on the effect size, so its features are extracted once;
- the oracle mask does not depend on the effect size, so its shape features (mask only, by
  :func:`lsa.mri.shape.shape_features`) are computed once;
- a subject scanned at another site shares anatomy, biology and noise draws
  (:func:`lsa.mri.simulate.render_subject_sites`), so the site analysis re-uses the site-0 features and adds
  one extraction at site 1.

Results are cached one file per subject, keyed by the cohort settings, the plan, the Pyradiomics
parameters and the code of the modules that compute them; the part measured with MultiUNet masks has its own
cache, keyed also by the MultiUNet's weights. The MultiUNet itself may still be training in the same worker
pool while the rest is measured (:func:`measure_cohort`).
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from joblib import delayed

EXTRA_MASKS = ("intensity", "gm", "multiunet")


@dataclass(frozen=True)
class MeasurementPlan:
    """What to measure on every subject.

    Parameters
    ----------
    d_values : tuple of float
        Effect sizes at which oracle-mask radiomics (no shape) are extracted.
    delta_per_d : float
        Calibration: effect strength per unit d.
    site_variant : bool
        Also extract oracle-mask radiomics at d = 0 with the subject scanned at site 1.
    shape : bool
        Shape features of the oracle WM mask (once per subject).
    d_extra : float or None
        Effect size of the extra masks and CNN inputs.
    extra_masks : tuple of str
        Any of ``"intensity"`` (GMM baseline), ``"gm"`` (grey matter, probability ≥ 0.5),
        ``"multiunet"`` (needs a segmenter passed to :func:`measure_cohort`).
    cnn_target_mm : tuple of int
        CNN input voxel sizes (oracle WM mask at ``d_extra``); empty for none.
    cnn_masks : tuple of str
        Masks for CNN inputs besides the oracle: any of ``extra_masks``.
    """

    d_values: tuple = (0.0,)
    delta_per_d: float = 0.0
    site_variant: bool = False
    shape: bool = False
    d_extra: float | None = None
    extra_masks: tuple = ()
    cnn_target_mm: tuple = ()
    cnn_masks: tuple = ()

    def __post_init__(self):
        errs = []
        if not self.d_values:
            errs.append("d_values must list at least one effect size")
        if any(m not in EXTRA_MASKS for m in self.extra_masks):
            errs.append(f"extra_masks must be drawn from {EXTRA_MASKS}, got {self.extra_masks}")
        if any(m not in self.extra_masks for m in self.cnn_masks):
            errs.append(f"cnn_masks {self.cnn_masks} must also be listed in extra_masks {self.extra_masks}")
        if (self.extra_masks or self.cnn_target_mm) and self.d_extra is None:
            errs.append("d_extra is needed for extra masks and CNN inputs")
        if errs:
            raise ValueError("; ".join(errs))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CohortMeasurements:
    """Per-cohort tables: ``features[(mask, d)]`` DataFrames (subjects × features), labels and covariates.

    Keys of ``features``: ``("oracle", d)`` for each planned d, ``("oracle_site1", 0.0)``,
    ``("shape", None)`` (oracle-mask shape features), ``(mask, d_extra)`` for each extra mask.
    ``cnn[(mask, target_mm)]`` are arrays (subjects, X, Y, Z); ``dice[mask]`` the Dice of each extra mask
    with the oracle mask; ``seconds[stage]`` the summed wall seconds of each stage over subjects.
    """

    y: np.ndarray
    age: np.ndarray
    summary: dict
    n_voxels: dict
    features: dict
    cnn: dict = field(default_factory=dict)
    dice: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


@functools.lru_cache(maxsize=1)
def _extractor() -> tuple[dict, object]:
    """``(params, extractor)`` of every feature class but shape, built once per process.

    Building a Pyradiomics extractor costs about 0.04 s, a tenth of a subject's extractions; a worker process
    measures many subjects and reuses it. Extractors keep no state between images (``execute`` works on a copy
    of its settings), so reuse changes no number.
    """
    from lsa.mri.radiomics import load_params, make_extractor

    params = load_params(shape=False)
    return params, make_extractor(params)


def _tick(seconds: dict, stage: str, t0: float) -> float:
    t = time.perf_counter()
    seconds[stage] = seconds.get(stage, 0.0) + t - t0
    return t


def measure_subject(config, index: int, plan: MeasurementPlan, segmenter=None) -> dict:
    """Render subject ``index`` once and derive every quantity of ``plan`` (see the module docstring)."""
    row, pending = _measure_fixed(config, index, plan)
    if pending is not None:
        if segmenter is None:
            raise ValueError("the plan asks for MultiUNet masks but no segmenter was passed")
        _merge(row, _measure_segmented(config, plan, segmenter, pending))
    return row


def _measure_fixed(config, index: int, plan: MeasurementPlan) -> tuple[dict, dict | None]:
    """Everything of ``plan`` that needs no segmenter, from one render; and, when the plan asks for MultiUNet
    masks, what :func:`_measure_segmented` needs of the render (``None`` otherwise)."""
    from lsa.mri.cnn import wm_input
    from lsa.mri.intensity import intensity_wm
    from lsa.mri.radiomics import brain_zscore, extract_features
    from lsa.mri.segment import dice
    from lsa.mri.shape import shape_features
    from lsa.mri.simulate import render_subject_sites, wm_summary

    if config.n_sites != 1:
        raise ValueError("measure_subject needs a single-site cohort (site variants are planned explicitly)")
    sec: dict = {}
    t = time.perf_counter()
    renders = render_subject_sites(config, index, sites=(0, 1) if plan.site_variant else (0,))
    r = renders[0]
    t = _tick(sec, "render", t)
    params, ext = _extractor()
    res = config.resolution_mm
    oracle = r.gt_wm
    out = dict(label=r.label, age=r.age, features={}, summary={}, n_voxels={}, cnn={}, dice={})
    out["n_voxels"]["oracle"] = float(oracle.sum())
    cached_td = None
    for d in plan.d_values:
        delta = float(d) * plan.delta_per_d
        if r.label == 0 and cached_td is not None:  # a control's image does not depend on d
            out["features"][("oracle", float(d))], out["summary"][float(d)] = cached_td
            continue
        img = r.image(delta)
        feats = extract_features(brain_zscore(img, r.brain), oracle, res, params, ext)
        feats.pop("n_voxels")
        out["features"][("oracle", float(d))], out["summary"][float(d)] = feats, wm_summary(img, r)
        if r.label == 0:
            cached_td = (feats, out["summary"][float(d)])
    t = _tick(sec, "radiomics", t)
    if plan.site_variant:
        r1 = renders[1]
        feats = extract_features(brain_zscore(r1.image(0.0), r1.brain), oracle, res, params, ext)
        feats.pop("n_voxels")
        out["features"][("oracle_site1", 0.0)] = feats
        t = _tick(sec, "radiomics", t)
    if plan.shape:
        out["features"][("shape", None)] = shape_features(oracle, res)
        t = _tick(sec, "shape", t)
    pending = None
    if plan.d_extra is not None:
        img = r.image(float(plan.d_extra) * plan.delta_per_d)
        z = brain_zscore(img, r.brain)
        masks = {"oracle": oracle}
        for m in plan.extra_masks:
            if m == "multiunet":  # needs the segmenter: measured by _measure_segmented
                pending = _segmenter_input(r, plan)
                continue
            if m == "intensity":
                masks[m] = intensity_wm(img, r.brain)
            else:
                masks[m] = ((r.gm_prob >= 0.5) & r.brain).astype(np.uint8)
            t = _tick(sec, f"mask_{m}", t)
            feats = extract_features(z, masks[m], res, params, ext)
            out["n_voxels"][m] = feats.pop("n_voxels")
            out["features"][(m, float(plan.d_extra))] = feats
            if m != "gm":
                out["dice"][m] = dice(masks[m], oracle)
            t = _tick(sec, "radiomics", t)
        for mm in plan.cnn_target_mm:
            for m in ("oracle",) + tuple(plan.cnn_masks):
                if m in masks:
                    out["cnn"][(m, int(mm))] = wm_input(img, r.brain, masks[m], res, int(mm))
        t = _tick(sec, "cnn_inputs", t)
    out["seconds"] = sec
    return out, pending


def _segmenter_input(render, plan: MeasurementPlan) -> dict:
    """What the MultiUNet part of a subject's measurements needs of its render."""
    return dict(image=render.image(float(plan.d_extra) * plan.delta_per_d), brain=render.brain, oracle=render.gt_wm)


def _measure_segmented(config, plan: MeasurementPlan, segmenter, pending: dict) -> dict:
    """The MultiUNet part of a subject's measurements (features, voxel count, Dice with the oracle mask and CNN
    inputs), from what :func:`_measure_fixed` kept of the subject's render."""
    from lsa.mri.cnn import wm_input
    from lsa.mri.radiomics import brain_zscore, extract_features
    from lsa.mri.segment import dice

    sec: dict = {}
    t = time.perf_counter()
    img, brain, res = pending["image"], pending["brain"], config.resolution_mm
    mask = segmenter.predict(img, brain)
    t = _tick(sec, "mask_multiunet", t)
    params, ext = _extractor()
    feats = extract_features(brain_zscore(img, brain), mask, res, params, ext)
    out = dict(features={}, n_voxels={"multiunet": feats.pop("n_voxels")}, dice={}, cnn={})
    out["features"][("multiunet", float(plan.d_extra))] = feats
    out["dice"]["multiunet"] = dice(mask, pending["oracle"])
    t = _tick(sec, "radiomics", t)
    if "multiunet" in plan.cnn_masks:
        for mm in plan.cnn_target_mm:
            out["cnn"][("multiunet", int(mm))] = wm_input(img, brain, mask, res, int(mm))
        t = _tick(sec, "cnn_inputs", t)
    out["seconds"] = sec
    return out


def _merge(row: dict, part: dict) -> None:
    """Add the entries of a :func:`_measure_segmented` part to a subject's row (seconds are summed)."""
    for k in ("features", "n_voxels", "dice", "cnn"):
        row[k].update(part[k])
    for stage, v in part["seconds"].items():
        row["seconds"][stage] = row["seconds"].get(stage, 0.0) + v


def _cache_folder(config, plan: MeasurementPlan, segmenter_digest: str | None):
    from lsa import cache
    from lsa.mri.radiomics import load_params

    cfg = {k: v for k, v in config.to_dict().items() if k != "n_subjects"}  # a subject doesn't depend on N
    what = dict(cfg=cfg, plan=plan.to_dict(), params=load_params(shape=True), segmenter=segmenter_digest)
    return cache.folder(f"mri/measurements/{cache.key('lsa.mri.measure', what)}")


def _store(path, obj) -> None:
    if path is not None:
        import joblib

        from lsa.cache import atomic_write

        atomic_write(path, lambda tmp: joblib.dump(obj, tmp))


def _fixed_job(config, index, plan, path):
    import torch

    torch.set_num_threads(1)
    row, pending = _measure_fixed(config, index, plan)
    _store(path, row)
    return row, pending


def _segmented_job(config, index, plan, segmenter, pending, path):
    import torch

    torch.set_num_threads(1)
    if pending is None:  # the segmenter-free part came from the cache: render the subject again
        from lsa.mri.simulate import render_subject_sites

        pending = _segmenter_input(render_subject_sites(config, index, sites=(0,))[0], plan)
    part = _measure_segmented(config, plan, segmenter, pending)
    _store(path, part)
    return part


def _entry(folder, index: int):
    return None if folder is None else folder / f"s{index:07d}.joblib"


def _cached(folder, n: int) -> tuple[list, list]:
    """Entries of ``folder`` for subjects ``0..n-1`` (``None`` where missing) and the missing indices."""
    import joblib

    rows, missing = [None] * n, []
    for i in range(n):
        path = _entry(folder, i)
        if path is not None and path.is_file():
            rows[i] = joblib.load(path)
        else:
            missing.append(i)
    return rows, missing


def _run(jobs: list, n_jobs: int, desc: str | None) -> list:
    if not jobs:
        return []
    from joblib import Parallel

    it = Parallel(n_jobs=min(n_jobs, len(jobs)), return_as="generator")(jobs)
    if desc is not None:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(jobs), desc=desc)
    return list(it)


def measure_cohort(
    config,
    plan: MeasurementPlan,
    segmenter=None,
    n_jobs: int = 1,
    cache: bool = True,
    progress: bool = True,
) -> CohortMeasurements:
    """:func:`measure_subject` for every subject of ``config``, in parallel over subjects, cached per subject.

    Parameters
    ----------
    config : SimConfig
        A single-site cohort.
    plan : MeasurementPlan
    segmenter : MultiUNet or MultiUNetTraining, optional
        Needed when ``plan.extra_masks`` holds ``"multiunet"``. A :class:`~lsa.mri.segment.MultiUNetTraining`
        (weights not trained yet) has its three plane trainings run first in the same worker pool, while the
        other workers measure everything that does not need the MultiUNet's masks; the MultiUNet masks are
        measured once it is trained. The trained MultiUNet is then the training's ``result``.
    n_jobs : int
        joblib worker processes (each with one torch thread).

    Notes
    -----
    Two caches, one file per subject: what needs no segmenter, keyed by the cohort settings, the plan, the
    Pyradiomics parameters and the code; and the MultiUNet part, keyed by these and by the MultiUNet's weights
    (:meth:`~lsa.mri.segment.MultiUNet.digest`). A new MultiUNet therefore re-measures only its own masks.
    """
    from lsa.mri.segment import MultiUNetTraining

    needs_seg = "multiunet" in plan.extra_masks
    if needs_seg and segmenter is None:
        raise ValueError("the plan asks for MultiUNet masks but no segmenter was passed")
    training = segmenter if isinstance(segmenter, MultiUNetTraining) else None
    n = config.n_subjects
    folder = _cache_folder(config, plan, None) if cache else None
    rows, missing = _cached(folder, n)
    pending = [None] * n
    jobs = [] if training is None else list(training.jobs)
    jobs += [delayed(_fixed_job)(config, i, plan, _entry(folder, i)) for i in missing]
    what = f"measure ({len(missing)} subjects, one render each)"
    if training is not None:
        what = f"MultiUNet planes, then {what}"
    done = _run(jobs, n_jobs, what if progress else None)
    if training is not None:
        segmenter = training.finish(done[: len(training.jobs)])
        done = done[len(training.jobs) :]
    for i, (row, pend) in zip(missing, done):
        rows[i], pending[i] = row, pend
    if needs_seg:
        folder_s = _cache_folder(config, plan, segmenter.digest()) if cache else None
        parts, missing_s = _cached(folder_s, n)
        jobs = [delayed(_segmented_job)(config, i, plan, segmenter, pending[i], _entry(folder_s, i)) for i in missing_s]
        desc = f"MultiUNet masks ({len(missing_s)} subjects)" if progress else None
        for i, part in zip(missing_s, _run(jobs, n_jobs, desc)):
            parts[i] = part
        for row, part in zip(rows, parts):
            _merge(row, part)
    keys = list(rows[0]["features"])
    features = {k: pd.DataFrame([r["features"][k] for r in rows]) for k in keys}
    masks = list(rows[0]["n_voxels"])
    cnn = {k: np.stack([r["cnn"][k] for r in rows]).astype(np.float32) for k in rows[0]["cnn"]}
    stages = sorted({s for r in rows for s in r["seconds"]})
    return CohortMeasurements(
        y=np.array([r["label"] for r in rows]),
        age=np.array([r["age"] for r in rows]),
        summary={d: np.array([r["summary"][d] for r in rows]) for d in rows[0]["summary"]},
        n_voxels={m: np.array([r["n_voxels"][m] for r in rows]) for m in masks},
        features=features,
        cnn=cnn,
        dice={m: np.array([r["dice"][m] for r in rows]) for m in rows[0]["dice"]},
        seconds={s: float(sum(r["seconds"].get(s, 0.0) for r in rows)) for s in stages},
    )


def site_cohort_features(meas: CohortMeasurements, sites) -> pd.DataFrame:
    """Oracle radiomics at d = 0 of the cohort in which subject ``i`` was scanned at ``sites[i]`` (0 or 1)."""
    sites = np.asarray(sites)
    f0, f1 = meas.features[("oracle", 0.0)], meas.features[("oracle_site1", 0.0)]
    if len(sites) != len(f0) or not set(np.unique(sites)) <= {0, 1}:
        raise ValueError(f"sites must be {len(f0)} values in {{0, 1}}, got {len(sites)} values {np.unique(sites)}")
    return f0.where(pd.Series(sites == 0, index=f0.index), f1)
