"""White-matter radiomics with Pyradiomics 3.0.1 and the shipped parameter file.

The image is z-scored inside the brain mask and multiplied by 100 *before* Pyradiomics (whose own
``normalize`` would use the whole field of view). This module extracts the features of one image and mask;
:func:`lsa.mri.measure.measure_cohort` applies it to every subject of a simulated cohort (rendered once,
cached per subject, in parallel over subjects).

The 14 shape features are Pyradiomics' own, computed by :mod:`lsa.mri.shape`, which gives the same values
without Pyradiomics' all-pairs diameter search (the slow part of its shape class); the other classes go through
Pyradiomics' extractor unchanged.
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

    ``shape=False`` removes the shape class (14 features that depend only on the mask).
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


def _wants_shape(params: dict) -> bool:
    return "shape" in (params.get("featureClass") or {})


def make_extractor(params: dict, pyradiomics_shape: bool = False):
    """A Pyradiomics feature extractor for ``params`` (built once, reused for every image), quiet logging.

    The extractor leaves out the shape class: :func:`extract_features` computes shape with
    :func:`lsa.mri.shape.shape_features` (same values, without the all-pairs diameter search);
    ``pyradiomics_shape=True`` keeps Pyradiomics' own shape class instead (for comparisons). Pyradiomics'
    ``diagnostics_*`` entries are switched off (``additionalInfo: false``): :func:`extract_features` drops them
    anyway, and computing them (two image hashes and mask statistics per call) took about a quarter of each
    extraction. No feature value depends on either choice.
    """
    import radiomics
    from radiomics import featureextractor

    if not isinstance(params, dict) or not isinstance(params.get("featureClass"), dict):
        raise ValueError("params must be a Pyradiomics parameter dict with a 'featureClass' mapping")
    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    others = {k: v for k, v in params["featureClass"].items() if pyradiomics_shape or k != "shape"}
    params = dict(params, setting={**params.get("setting", {}), "additionalInfo": False}, featureClass=others)
    ext = featureextractor.RadiomicsFeatureExtractor(params)
    if not others:  # Pyradiomics reads an empty featureClass as "all classes"
        ext.disableAllFeatures()
    return ext


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

    Returns ``{feature name: value}`` without the ``diagnostics_`` entries, plus ``n_voxels``; names and order
    are a stock extractor's (shape first). When ``params`` enable shape and ``extractor`` does not (one from
    :func:`make_extractor`), the shape features come from :func:`lsa.mri.shape.shape_features`; a stock
    Pyradiomics extractor passed as ``extractor`` computes them itself.
    """
    import SimpleITK as sitk

    if image.shape != mask.shape or image.ndim != 3:
        raise ValueError(f"image {image.shape} and mask {mask.shape} must be equal 3D shapes")
    m = (np.asarray(mask) > 0).astype(np.uint8)
    if m.sum() < 10:
        raise ValueError(f"mask has only {int(m.sum())} voxels; expected a white-matter mask")
    ext = extractor if extractor is not None else make_extractor(params)
    ours = _wants_shape(params) and "shape" not in ext.enabledFeatures
    if ours and params.get("setting", {}).get("resampledPixelSpacing"):
        raise ValueError(
            "resampledPixelSpacing with shape features: lsa.mri.shape measures the mask as given; resample the "
            "image and mask first, or pass a stock Pyradiomics extractor"
        )
    out = {}
    if ours:
        from lsa.mri.shape import shape_features

        out.update(shape_features(m, spacing_mm))
    if ext.enabledFeatures:  # empty when params ask for shape only
        si = sitk.GetImageFromArray(np.ascontiguousarray(image.transpose(2, 1, 0)).astype(np.float32))
        sm = sitk.GetImageFromArray(np.ascontiguousarray(m.transpose(2, 1, 0)))
        for s in (si, sm):
            s.SetSpacing((float(spacing_mm),) * 3)
        res = ext.execute(si, sm)
        out.update({k: float(v) for k, v in res.items() if not k.startswith("diagnostics_")})
    out["n_voxels"] = float(m.sum())
    return out


SHAPE_MODES = ("none", "ours", "pyradiomics")


def seconds_per_subject(config, n: int = 3, shape: str = "ours") -> float:
    """Median wall seconds of one extraction of every feature class (oracle mask) over ``n`` fresh subjects.

    ``shape`` is "none" (no shape class), "ours" (shape by :mod:`lsa.mri.shape`, as the book computes it) or
    "pyradiomics" (a stock extractor, all-pairs diameters).
    """
    from lsa.mri.simulate import render_subject

    if shape not in SHAPE_MODES:
        raise ValueError(f"shape must be one of {SHAPE_MODES}, got {shape!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    params = load_params(shape=shape != "none")
    ext = make_extractor(params, pyradiomics_shape=shape == "pyradiomics")
    times = []
    for i in range(n):
        r = render_subject(config, 900_000 + i)
        img = brain_zscore(r.image(0.0), r.brain)
        t0 = time.perf_counter()
        extract_features(img, r.gt_wm, config.resolution_mm, params, ext)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
