"""White-matter radiomics with Pyradiomics 3.0.1 and the shipped parameter file.

The image is z-scored inside the brain mask and multiplied by 100 *before* Pyradiomics (whose own
``normalize`` would use the whole field of view). This module extracts the features of one image and mask;
:func:`lsa.mri.measure.measure_cohort` applies it to every subject of a simulated cohort (rendered once,
cached per subject, in parallel over subjects).

"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import yaml

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


def make_extractor(params: dict):
    """A Pyradiomics feature extractor for ``params`` (built once, reused for every image), quiet logging.

    Pyradiomics' ``diagnostics_*`` entries are switched off (``additionalInfo: false``):
    :func:`extract_features` drops them anyway, and computing them (two image hashes and mask statistics per
    call) took about a quarter of each extraction. No feature value depends on this setting.
    """
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    params = dict(params, setting={**params.get("setting", {}), "additionalInfo": False})
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
    ext = extractor if extractor is not None else make_extractor(params)
    si = sitk.GetImageFromArray(np.ascontiguousarray(image.transpose(2, 1, 0)).astype(np.float32))
    sm = sitk.GetImageFromArray(np.ascontiguousarray(m.transpose(2, 1, 0)))
    for s in (si, sm):
        s.SetSpacing((float(spacing_mm),) * 3)
    res = ext.execute(si, sm)
    out = {k: float(v) for k, v in res.items() if not k.startswith("diagnostics_")}
    out["n_voxels"] = float(m.sum())
    return out


def seconds_per_subject(config, n: int = 3, shape: bool = True) -> float:
    """Median wall seconds of one Pyradiomics extraction (oracle mask) over ``n`` fresh subjects."""
    from lsa.mri.simulate import render_subject

    params = load_params(shape=shape)
    ext = make_extractor(params)
    times = []
    for i in range(n):
        r = render_subject(config, 900_000 + i)
        img = brain_zscore(r.image(0.0), r.brain)
        t0 = time.perf_counter()
        extract_features(img, r.gt_wm, config.resolution_mm, params, ext)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
