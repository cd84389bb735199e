"""The intensity baseline of white-matter segmentation: a Gaussian mixture on the voxel intensities of the brain.

Its own module so that the radiomics features masked by it do not depend on the UNet trainer's code.
"""

from __future__ import annotations

import numpy as np


def intensity_wm(image: np.ndarray, brain: np.ndarray, seed: int = 0) -> np.ndarray:
    """Intensity baseline: 3-class Gaussian mixture inside the brain; WM = brightest class (uint8 mask)."""
    from sklearn.mixture import GaussianMixture

    brain = np.asarray(brain, bool)
    vals = image[brain].astype(np.float64)[:, None]
    gmm = GaussianMixture(3, random_state=seed, means_init=np.percentile(vals, [10, 50, 90])[:, None])
    lab = gmm.fit(vals).predict(vals)
    out = np.zeros(image.shape, np.uint8)
    out[brain] = lab == int(np.argmax(gmm.means_[:, 0]))
    return out
