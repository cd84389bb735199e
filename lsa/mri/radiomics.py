"""White-matter radiomics with Pyradiomics 3.0.1 and the shipped parameter file.

The image is z-scored inside the brain mask and multiplied by 100 *before* Pyradiomics (whose own
``normalize`` would use the whole field of view). Features of simulated subjects are cached one file
per (cohort, subject, effect size, mask mode, parameter file) in :mod:`lsa.cache` (the key also covers this
module's code) and extracted in parallel over subjects with joblib.

"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from lsa import cache
from lsa.digests import stable_hash

PARAMS_RELPATH = "asd/wm_radiomics.yaml"
MASK_MODES = ("oracle", "intensity")


def load_params(shape: bool = True, path: str | Path | None = None) -> dict:
    """The Pyradiomics parameter dict: the shipped file (checksum-verified) or ``path``.

    ``shape=False`` removes the shape class (shape depends only on the mask and costs ~95 % of the time).
    """
    if path is None:
        from lsa.data.checksums import verify

        path = verify(PARAMS_RELPATH)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Pyradiomics parameter file {path} does not exist")
    params = yaml.safe_load(path.read_text())
    if not isinstance(params, dict) or "featureClass" not in params:
        raise ValueError(f"{path}: expected a Pyradiomics parameter file with a 'featureClass' section")
    if not shape:
        params["featureClass"] = {k: v for k, v in params["featureClass"].items() if k != "shape"}
    return params


def _extractor(params: dict):
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    return featureextractor.RadiomicsFeatureExtractor(params)


def brain_zscore(image: np.ndarray, brain: np.ndarray, scale: float = 100.0) -> np.ndarray:
    """Z-score ``image`` inside the boolean ``brain`` mask, times ``scale``; zero outside (float32)."""
    brain = np.asarray(brain, bool)
    if image.shape != brain.shape:
        raise ValueError(f"image shape {image.shape} != brain mask shape {brain.shape}")
    if brain.sum() < 2:
        raise ValueError("brain mask has fewer than 2 voxels")
    vals = image[brain].astype(np.float64)
    z = (image - vals.mean()) / (vals.std() + 1e-12) * scale
    return np.where(brain, z, 0.0).astype(np.float32)


def extract_features(
    image: np.ndarray, mask: np.ndarray, spacing_mm: float, params: dict, extractor=None
) -> dict[str, float]:
    """Pyradiomics features of ``image`` inside the binary ``mask`` (both x, y, z numpy arrays).

    Returns ``{feature name: value}`` without the ``diagnostics_`` entries, plus ``n_voxels``.
    """
    import SimpleITK as sitk

    if image.shape != mask.shape or image.ndim != 3:
        raise ValueError(f"image {image.shape} and mask {mask.shape} must be equal 3D shapes")
    m = (np.asarray(mask) > 0).astype(np.uint8)
    if m.sum() < 10:
        raise ValueError(f"mask has only {int(m.sum())} voxels; expected a white-matter mask")
    ext = extractor if extractor is not None else _extractor(params)
    si = sitk.GetImageFromArray(np.ascontiguousarray(image.transpose(2, 1, 0)).astype(np.float32))
    sm = sitk.GetImageFromArray(np.ascontiguousarray(m.transpose(2, 1, 0)))
    for s in (si, sm):
        s.SetSpacing((float(spacing_mm),) * 3)
    res = ext.execute(si, sm)
    out = {k: float(v) for k, v in res.items() if not k.startswith("diagnostics_")}
    out["n_voxels"] = float(m.sum())
    return out


def subject_mask(render, image: np.ndarray, mask_mode: str) -> np.ndarray:
    """The WM mask radiomics uses: ``oracle`` (ground truth) or ``intensity`` (GMM baseline)."""
    if mask_mode == "oracle":
        return render.gt_wm
    if mask_mode == "intensity":
        from lsa.mri.intensity import intensity_wm

        return intensity_wm(image, render.brain)
    raise ValueError(f"mask_mode must be one of {MASK_MODES}, got {mask_mode!r}")


def _subject_job(
    config, index: int, deltas: dict, mask_mode: str, params: dict, cache_folder: Path, keys: dict
) -> dict:
    """Render one subject once and extract features at every requested effect size (cached)."""
    from lsa.mri.simulate import render_subject, wm_summary

    rows, todo = {}, {}
    for d, key in keys.items():
        f = cache_folder / f"{key}.json"
        if f.is_file():
            rows[d] = json.loads(f.read_text())
        else:
            todo[d] = f
    if todo:
        r = render_subject(config, index)
        ext = _extractor(params)
        for d, f in todo.items():
            img = r.image(deltas[d])
            mask = subject_mask(r, img, mask_mode)
            t0 = time.perf_counter()
            feats = extract_features(brain_zscore(img, r.brain), mask, config.resolution_mm, params, ext)
            row = dict(
                features=feats,
                summary=wm_summary(img, r),
                seconds=time.perf_counter() - t0,
                site=r.site,
                age=r.age,
                label=r.label,
            )
            cache.write_json(f, row)
            rows[d] = row
    return rows


def cohort_features(
    config,
    d_values,
    calibration,
    mask_mode: str = "oracle",
    shape: bool = False,
    params_path=None,
    n_jobs: int = 1,
    progress: bool = True,
) -> dict:
    """Radiomics features of every subject of a simulated cohort at each effect size ``d``.

    Parameters
    ----------
    config : SimConfig
    d_values : list of float
        Effect sizes (Cohen's d of the calibrated summary); ``delta = calibration.delta(d)``.
    calibration : Calibration
    mask_mode : {"oracle", "intensity"}
    shape : bool
        Include the 14 shape features (slow: computed per subject and effect size here).
    n_jobs : int
        joblib workers over subjects.

    Returns
    -------
    dict
        ``{d: {"X": DataFrame (subjects x features), "y", "site", "age", "summary", "seconds"}}``.

    """
    from joblib import Parallel, delayed

    if mask_mode not in MASK_MODES:
        raise ValueError(f"mask_mode must be one of {MASK_MODES}, got {mask_mode!r}")
    params = load_params(shape=shape, path=params_path)
    d_values = [float(d) for d in d_values]
    deltas = {d: calibration.delta(d) for d in d_values}
    cfg = {k: v for k, v in config.to_dict().items() if k != "n_subjects"}  # subjects don't depend on N
    folder = cache.entry("mri/features", __name__, dict(cfg=cfg, mask=mask_mode, params=params))
    folder.mkdir(parents=True, exist_ok=True)
    per_subject, jobs, where = [None] * config.n_subjects, [], []
    for i in range(config.n_subjects):
        keys = {d: f"s{i:07d}_{stable_hash(dict(i=i, delta=round(deltas[d], 12)), 12)}" for d in d_values}
        files = {d: folder / f"{k}.json" for d, k in keys.items()}
        if all(f.is_file() for f in files.values()):  # cached: read here, no worker needed
            per_subject[i] = {d: json.loads(f.read_text()) for d, f in files.items()}
        else:
            jobs.append(delayed(_subject_job)(config, i, deltas, mask_mode, params, folder, keys))
            where.append(i)
    if jobs:
        it = Parallel(n_jobs=min(n_jobs, len(jobs)), return_as="generator")(jobs)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, total=len(jobs), desc=f"radiomics ({len(jobs)} subjects x {len(d_values)} d)")
        for i, rows in zip(where, it):
            per_subject[i] = rows
    out = {}
    for d in d_values:
        rows = [ps[d] for ps in per_subject]
        X = pd.DataFrame([r["features"] for r in rows]).drop(columns=["n_voxels"])
        out[d] = dict(
            X=X,
            y=np.array([r["label"] for r in rows]),
            site=np.array([r["site"] for r in rows]),
            age=np.array([r["age"] for r in rows]),
            summary=np.array([r["summary"] for r in rows]),
            seconds=np.array([r["seconds"] for r in rows]),
            n_voxels=np.array([r["features"]["n_voxels"] for r in rows]),
        )
    return out


def seconds_per_subject(config, n: int = 3, shape: bool = True) -> float:
    """Median wall seconds of one Pyradiomics extraction (oracle mask) over ``n`` fresh subjects."""
    from lsa.mri.simulate import render_subject

    params = load_params(shape=shape)
    ext = _extractor(params)
    times = []
    for i in range(n):
        r = render_subject(config, 900_000 + i)
        img = brain_zscore(r.image(0.0), r.brain)
        t0 = time.perf_counter()
        extract_features(img, r.gt_wm, config.resolution_mm, params, ext)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
