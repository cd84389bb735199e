"""Driver of the chapter ``asd_segmentation``: a simulated segmentation cohort, written and re-read as a
BIDS-like folder, a tri-planar MultiUNet trained on it, and Dice on held-out subjects.

:func:`segmentation_cohort` and :func:`train_segmenter` are also what the chapter ``asd_pipeline`` calls, with
the same settings, so both chapters use one trained MultiUNet (the weights are cached, keyed by the training
data and the code).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class SegmentationCohort:
    """Rendered subjects, their BIDS records, the folder written and the subjects loaded back from it."""

    subjects: list
    records: list
    root: Path
    loaded: list
    n_train: int

    @property
    def train(self) -> list:
        return self.loaded[: self.n_train]

    @property
    def test(self) -> list:
        return self.loaded[self.n_train :]


def segmentation_cohort(config, delta: float, n_train: int, n_test: int, folder=None) -> SegmentationCohort:
    """Render ``n_train + n_test`` subjects of the segmentation cohort (indices from ``SEG_OFFSET``) at effect
    strength ``delta``, write them as a BIDS-like folder under ``folder`` (a fresh temporary folder when None)
    and load them back with the validating loader.
    """
    from lsa.mri import bids
    from lsa.mri.simulate import SEG_OFFSET, render_subject

    if n_train < 1 or n_test < 1:
        raise ValueError(f"need n_train >= 1 and n_test >= 1, got {n_train} and {n_test}")
    folder = Path(tempfile.mkdtemp(prefix="asd_bids_")) if folder is None else Path(folder)
    subjects = [render_subject(config, SEG_OFFSET + j) for j in range(n_train + n_test)]
    records = [
        dict(
            participant_id=s.subject_id,
            diagnosis=s.diagnosis,
            t1w=s.image(delta),
            affine=s.affine,
            age=s.age,
            site=f"S{s.site}",
            wm_mask=s.gt_wm,
            brain_mask=s.brain.astype(np.uint8),
        )
        for s in subjects
    ]
    root = bids.write_bids(folder / "cohort", records)
    loaded = bids.load_bids(root, min_per_class=1)
    return SegmentationCohort(subjects=subjects, records=records, root=root, loaded=loaded, n_train=n_train)


def training_data(cohort: SegmentationCohort) -> tuple[list, list, list]:
    """The MultiUNet's training data: images, WM masks and brain masks of the cohort's loaded training subjects
    (the data key the cached weights, so every caller must pass exactly these)."""
    tr = cohort.train
    return [s.t1w for s in tr], [s.wm_mask for s in tr], [s.brain_mask.astype(bool) for s in tr]


def train_segmenter(cohort: SegmentationCohort, unet_config, device=None, progress: bool = True, n_jobs: int = 1):
    """The MultiUNet trained on the cohort's loaded training subjects (cached by ``train_multiunet``; ``n_jobs``
    worker processes train the planes side by side on a CPU, with the same weights)."""
    from lsa.mri.segment import train_multiunet

    return train_multiunet(*training_data(cohort), unet_config, device=device, progress=progress, n_jobs=n_jobs)


def dice_table(segmenter, cohort: SegmentationCohort, seed: int = 0) -> tuple[pd.DataFrame, list]:
    """Dice with ground truth of the fused MultiUNet, each plane's UNet and the intensity baseline, per test subject.

    Returns the table (one row per held-out subject) and, per subject, the fused, axial and baseline masks.
    """
    from lsa.mri.intensity import intensity_wm
    from lsa.mri.segment import PLANES, dice

    rows, preds = [], []
    for s in cohort.test:
        b = s.brain_mask.astype(bool)
        probas = segmenter.plane_proba(s.t1w, b)
        fused = segmenter.fuse(probas, b)
        base = intensity_wm(s.t1w, b, seed=seed)
        preds.append(dict(fused=fused, axial=((probas["axial"] >= 0.5) & b), base=base))
        row = {"subject": s.participant_id, "MultiUNet (fused)": dice(fused, s.wm_mask)}
        for p in PLANES:
            row[f"{p} UNet"] = dice((probas[p] >= 0.5) & b, s.wm_mask)
        row["intensity baseline (GMM)"] = dice(base, s.wm_mask)
        rows.append(row)
    return pd.DataFrame(rows).set_index("subject"), preds
