"""lsa.mri.shape against a stock Pyradiomics 3.0.1 extractor (the independent truth) and its C routine."""

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import cShape, featureextractor

from lsa.mri.shape import mesh_coefficients, shape_features


def _stock(mask_xyz, spacing):
    ext = featureextractor.RadiomicsFeatureExtractor(
        {"featureClass": {"shape": None}, "setting": {"label": 1, "additionalInfo": False}}
    )
    m = sitk.GetImageFromArray(np.ascontiguousarray(mask_xyz.transpose(2, 1, 0)).astype(np.uint8))
    i = sitk.GetImageFromArray(np.ascontiguousarray(mask_xyz.transpose(2, 1, 0)).astype(np.float32))
    for s in (m, i):
        s.SetSpacing((float(spacing),) * 3)
    return {k: float(v) for k, v in ext.execute(i, m).items() if not k.startswith("diagnostics_")}


def _blob(seed, shape=(18, 16, 14)):
    rng = np.random.default_rng(seed)
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.normal(size=shape), 1.5)
    m = f > np.quantile(f, 0.6)
    m[0], m[-1], m[:, 0], m[:, -1], m[:, :, 0], m[:, :, -1] = 0, 0, 0, 0, 0, 0
    return m.astype(np.uint8)


@pytest.mark.parametrize("seed,spacing", [(0, 1.0), (1, 0.9375), (2, 2.0), (3, 3.3)])
def test_every_shape_feature_equals_stock_pyradiomics(seed, spacing):
    m = _blob(seed)
    ours, stock = shape_features(m, spacing), _stock(m, spacing)
    assert list(ours) == list(stock) and len(ours) == 14
    for k in stock:
        assert ours[k] == pytest.approx(stock[k], rel=1e-10, abs=1e-9), k


def test_translation_does_not_change_features_and_still_matches_stock():
    # Pyradiomics' mesh volume depends on where a cube sits (its mesh is not closed at ambiguous faces); the
    # slope term of lsa.mri.shape.cube_tables accounts for it. A translated copy must still match.
    m = _blob(7)
    big = np.zeros((30, 27, 25), np.uint8)
    big[9:27, 8:24, 5:19] = m
    ours, stock = shape_features(big, 1.5), _stock(big, 1.5)
    for k in stock:
        assert ours[k] == pytest.approx(stock[k], rel=1e-10, abs=1e-9), k


def test_mesh_coefficients_equal_pyradiomics_c_routine():
    m = np.pad(_blob(4).astype(bool), 1)
    sp = np.array([1.0, 2.0, 0.7])
    area, vol, diam = mesh_coefficients(m, sp)
    a, v, d = cShape.calculate_coefficients(np.ascontiguousarray(m), sp)
    assert area == pytest.approx(a, rel=1e-12) and vol == pytest.approx(v, rel=1e-12)
    np.testing.assert_allclose(diam, d, rtol=1e-12)


def test_bad_input_is_refused():
    m = np.zeros((5, 5, 5), bool)
    with pytest.raises(ValueError, match="empty"):
        mesh_coefficients(m, (1, 1, 1))
    m[0, 2, 2] = True
    with pytest.raises(ValueError, match="faces"):
        mesh_coefficients(m, (1, 1, 1))
    with pytest.raises(ValueError, match="spacing"):
        mesh_coefficients(np.pad(np.ones((2, 2, 2), bool), 1), (1, 0, 1))
    with pytest.raises(ValueError, match="label"):
        shape_features(np.zeros((4, 4, 4)), 1.0)
    with pytest.raises(ValueError, match="spacing_mm"):
        shape_features(np.pad(np.ones((2, 2, 2), np.uint8), 1), -2.0)
    with pytest.raises(ValueError, match="spacing_mm"):
        shape_features(np.pad(np.ones((2, 2, 2), np.uint8), 1), "2")
    with pytest.raises(ValueError, match="3D"):
        shape_features(np.ones((4, 4), np.uint8), 1.0)
