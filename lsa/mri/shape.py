"""Pyradiomics' 3D shape features of a mask, with the same values in a fraction of the time.

Pyradiomics 3.0.1 computes its shape class from a marching-cubes mesh of the mask: surface area, mesh volume
and four maximum diameters (3D, and within one slice, column or row). Its C routine finds each diameter by
comparing **every pair** of mesh vertices, which is quadratic in the number of vertices: for a white-matter
mask, whose surface is large and convoluted, that search is most of the shape extraction
(``benchmarks/bench_shape.py`` times both side by side). This module returns the same numbers without it:

- **surface area and mesh volume** are sums over the mesh's triangles, and each triangle belongs to one 2x2x2
  cube of voxels, so each is a sum over cubes of what that cube's corner configuration (one of 256) adds. We
  measure those 256 contributions once per voxel size with Pyradiomics' own routine (so the same triangle
  table, :func:`cube_tables`) and count the configurations of the mask. Pyradiomics' volume is a sum of signed
  tetrahedra towards the array's origin and its mesh is not closed at ambiguous cube faces, so a cube's volume
  term depends on where the cube sits; that dependence is exactly linear, and the tables hold its slope.
- **the diameters** are the largest distances between mesh vertices. A vertex sits halfway along every edge of
  the voxel grid whose two ends differ (inside / outside). The largest distance in a point set is reached
  between two vertices of its convex hull, so we compare only hull vertices (per slice, column or row for the
  2D diameters), with squared distances summed in Pyradiomics' order.

Only the quadratic search is replaced; the features are still Pyradiomics' (its shape class computes them from
these coefficients). A test compares every feature with a stock Pyradiomics extractor.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

SHAPE_PREFIX = "original_shape_"


def _max_sq_distance(points: np.ndarray, block: int = 2048) -> float:
    """Largest squared distance between two rows of ``points`` (n, 3), summed as (dz² + dy²) + dx²."""
    best = 0.0
    for s in range(0, len(points), block):
        d = points[s : s + block, None, :] - points[None, :, :]
        d *= d
        best = max(best, float((d[..., 0] + d[..., 1] + d[..., 2]).max()))
    return best


def _hull_index(points: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``points`` (n, 2 or 3) on its convex hull; all rows when there are few or the
    hull is degenerate (flat or collinear: the search then stays exact on all points)."""
    from scipy.spatial import ConvexHull, QhullError

    if len(points) <= 64:
        return np.arange(len(points))
    try:
        return ConvexHull(points).vertices
    except QhullError:
        return np.arange(len(points))


def _diameter(points: np.ndarray, fixed_axis: int | None) -> float:
    """Largest distance between ``points`` (n, 3); with ``fixed_axis``, only between points that share that
    coordinate (Pyradiomics' slice / column / row diameters)."""
    if fixed_axis is None:
        return float(np.sqrt(_max_sq_distance(points[_hull_index(points)])))
    free = [a for a in range(3) if a != fixed_axis]
    best = 0.0
    order = np.argsort(points[:, fixed_axis], kind="stable")
    pts = points[order]
    _, starts = np.unique(pts[:, fixed_axis], return_index=True)
    for group in np.split(pts, starts[1:]):
        if len(group) > 1:
            best = max(best, _max_sq_distance(group[_hull_index(group[:, free])]))
    return float(np.sqrt(best))


def mesh_vertices(mask: np.ndarray, spacing) -> np.ndarray:
    """Pyradiomics' mesh vertices of ``mask``: the midpoint of every grid edge whose two voxels differ, in mm.

    Coordinates are computed as Pyradiomics does, ``(index + offset) * spacing`` with offsets 0 or 0.5.
    """
    m = np.asarray(mask, bool)
    spacing = np.asarray(spacing, float)
    out = []
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        idx = np.argwhere(m[tuple(lo)] != m[tuple(hi)]).astype(float)
        idx[:, axis] += 0.5
        out.append(idx * spacing)
    return np.concatenate(out)


def _corner_array(config: int) -> np.ndarray:
    """The 2x2x2 mask whose corner (dz, dy, dx) is set when bit ``4 dz + 2 dy + dx`` of ``config`` is."""
    return np.array([(config >> b) & 1 for b in range(8)], bool).reshape(2, 2, 2)


@functools.lru_cache(maxsize=8)
def cube_tables(spacing: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What one cube of each of the 256 corner configurations adds to Pyradiomics' surface area and volume.

    Returns ``area[k]``, ``volume[k]`` (the cube at the origin) and ``slope[k]`` (3 values) such that a cube of
    configuration ``k`` whose first corner sits at ``t`` (mm) adds ``volume[k] + t @ slope[k]`` to the mesh
    volume. Pyradiomics' volume is a sum of signed tetrahedra between each triangle and the array's origin, and
    its mesh is not closed everywhere (ambiguous cube faces), so the volume does depend on where each cube sits;
    that dependence is exactly linear in ``t``. Every entry is measured with Pyradiomics' own routine: on the cube
    alone, and on the cube placed one step along each axis behind a copy of its first face (a cube made of two
    equal faces, whose own contribution sits at the origin).
    """
    from radiomics import cShape

    sp = np.asarray(spacing, float)

    def coeffs(arr):
        a, v, _ = cShape.calculate_coefficients(np.ascontiguousarray(arr), sp)
        return a, v

    area, volume, slope = np.zeros(256), np.zeros(256), np.zeros((256, 3))
    for k in range(256):
        area[k], volume[k] = coeffs(_corner_array(k))
    for k in range(256):
        cube = _corner_array(k)
        for axis in range(3):
            first = np.take(cube, [0, 0], axis=axis)  # a cube of two copies of this cube's first face
            twin = int(np.dot(first.ravel(), 1 << np.arange(8)))
            _, v = coeffs(np.concatenate([first, np.take(cube, [1], axis=axis)], axis=axis))
            slope[k, axis] = (v - volume[twin] - volume[k]) / sp[axis]
    return area, volume, slope


def mesh_coefficients(mask: np.ndarray, spacing) -> tuple[float, float, np.ndarray]:
    """Surface area (mm²), mesh volume (mm³) and diameters (mm) of ``mask``'s marching-cubes mesh.

    The same quantities, in the same order, as Pyradiomics' ``cShape.calculate_coefficients(mask, spacing)``:
    diameters are the largest vertex distance within a slice (same first coordinate), a column (same second), a
    row (same third) and in 3D. Area and volume are sums of per-cube contributions (:func:`cube_tables`).

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
        Must be empty on all six faces of the array (Pyradiomics pads the mask by one voxel before meshing).
    spacing : sequence of 3 float
        Voxel size along the array's axes, mm.
    """
    m = np.ascontiguousarray(mask, dtype=bool)
    spacing = np.asarray(spacing, float)
    if m.ndim != 3 or min(m.shape) < 3:
        raise ValueError(f"mask must be a 3D array at least 3 voxels on each side, got shape {m.shape}")
    if spacing.shape != (3,) or not np.all(spacing > 0):
        raise ValueError(f"spacing must be 3 positive voxel sizes, got {spacing.tolist()}")
    border = [m[0], m[-1], m[:, 0], m[:, -1], m[:, :, 0], m[:, :, -1]]
    if any(face.any() for face in border):
        raise ValueError("mask must be empty on the faces of the array (pad it by one voxel, as Pyradiomics does)")
    if not m.any():
        raise ValueError("mask is empty")
    area_t, volume_t, slope_t = cube_tables(tuple(spacing.tolist()))
    nz, ny, nx = m.shape
    config = np.zeros((nz - 1, ny - 1, nx - 1), np.uint8)
    for b in range(8):
        dz, dy, dx = (b >> 2) & 1, (b >> 1) & 1, b & 1
        config |= m[dz : nz - 1 + dz, dy : ny - 1 + dy, dx : nx - 1 + dx].astype(np.uint8) << b
    counts = np.bincount(config.ravel(), minlength=256)
    area = float(counts @ area_t)
    volume = float(counts @ volume_t)
    busy = np.argwhere(config > 0)  # cubes entirely outside hold no triangle (entirely inside: neither)
    busy = busy[config[tuple(busy.T)] < 255]
    volume += float(np.sum((busy * spacing) * slope_t[config[tuple(busy.T)]]))
    pts = mesh_vertices(m, spacing)
    diameters = np.array([_diameter(pts, 0), _diameter(pts, 1), _diameter(pts, 2), _diameter(pts, None)])
    return area, volume, diameters


@functools.lru_cache(maxsize=1)
def _shape_class():
    from radiomics.shape import RadiomicsShape

    class MeshShape(RadiomicsShape):
        """Pyradiomics' shape class with :func:`mesh_coefficients` in place of its all-pairs C routine."""

        def _initSegmentBasedCalculation(self):
            import SimpleITK as sitk

            self.pixelSpacing = np.array(self.inputMask.GetSpacing()[::-1])
            self.maskArray = np.pad(sitk.GetArrayFromImage(self.inputMask) == self.label, 1)
            self.labelledVoxelCoordinates = np.where(self.maskArray)
            self.SurfaceArea, self.Volume, self.diameters = mesh_coefficients(self.maskArray, self.pixelSpacing)
            xyz = np.argwhere(self.maskArray) * self.pixelSpacing  # the second moments of the voxel positions
            xyz -= xyz.mean(axis=0)
            self.eigenValues = np.sort(np.clip(np.linalg.eigvalsh(xyz.T @ xyz / len(xyz)), 0.0, None))

    return MeshShape


def shape_features(mask: np.ndarray, spacing_mm: float, label: int = 1) -> dict[str, float]:
    """Pyradiomics' 3D shape features of ``mask``, named and ordered as its extractor names and orders them.

    Equal to a Pyradiomics 3.0.1 extractor whose only feature class is ``shape`` (tested to 1e-10 relative),
    but the diameters do not compare every pair of mesh vertices (see the module docstring).

    Parameters
    ----------
    mask : ndarray, shape (x, y, z)
        Label image; the voxels equal to ``label`` form the region.
    spacing_mm : float
        Isotropic voxel size, mm (positive).
    label : int, default 1
        The label of the region in ``mask``.

    Returns
    -------
    dict of str to float
        The 14 features, e.g. ``original_shape_MeshVolume`` (mm³) and ``original_shape_Maximum3DDiameter`` (mm).
    """
    import SimpleITK as sitk

    real = isinstance(spacing_mm, numbers.Real) and not isinstance(spacing_mm, bool)
    if not (real and math.isfinite(spacing_mm) and spacing_mm > 0):
        raise ValueError(f"spacing_mm must be a positive voxel size in mm, got {spacing_mm!r}")
    m = np.asarray(mask) == label
    if m.ndim != 3:
        raise ValueError(f"mask must be a 3D array, got shape {m.shape}")
    if m.sum() < 1:
        raise ValueError(f"mask has no voxel with label {label}")
    zyx = np.ascontiguousarray(m.transpose(2, 1, 0))
    box = tuple(slice(i.min(), i.max() + 1) for i in np.nonzero(zyx))  # the extractor's crop: the mask's extent
    crop = zyx[box].astype(np.uint8)
    img = sitk.GetImageFromArray(crop.astype(np.float32))
    msk = sitk.GetImageFromArray(crop)
    for s in (img, msk):
        s.SetSpacing((float(spacing_mm),) * 3)
    values = _shape_class()(img, msk, label=1).execute()
    return {SHAPE_PREFIX + k: float(v) for k, v in values.items()}
