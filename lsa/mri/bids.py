"""BIDS-like folders of T1w images: a writer (for simulated cohorts) and a validating loader.

Layout::

    <root>/participants.tsv
    <root>/sub-<label>/anat/sub-<label>_T1w.nii.gz             (ses-<s>/anat/ also accepted)
    <root>/derivatives/<any>/sub-<label>/anat/sub-<label>[_space-<sp>]_label-WM_mask.nii.gz      (optional)
    <root>/derivatives/<any>/sub-<label>/anat/sub-<label>[_space-<sp>]_desc-brain_mask.nii.gz    (optional)

``participants.tsv`` needs ``participant_id`` and ``diagnosis`` (``ASD``/``TD`` in any case, or the ABIDE
``DX_GROUP`` coding 1 = autism, 2 = control); optional ``age``, ``sex`` (``M``/``F`` or ABIDE 1/2) and
``site``. ABIDE column names (``SUB_ID``, ``DX_GROUP``, ``AGE_AT_SCAN``, ``SEX``, ``SITE_ID``) are accepted.

The loader checks everything -- the table, every file, every shape -- before returning, and raises
:class:`BidsError` naming the file and what was expected.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ABIDE_COLUMNS = {
    "SUB_ID": "participant_id",
    "DX_GROUP": "diagnosis",
    "AGE_AT_SCAN": "age",
    "SEX": "sex",
    "SITE_ID": "site",
}
DIAGNOSIS_CODES = {"asd": "ASD", "td": "TD", "1": "ASD", "2": "TD"}
SEX_CODES = {"m": "M", "f": "F", "1": "M", "2": "F"}


class BidsError(ValueError):
    """A BIDS-like folder is malformed (missing file, mismatched subjects, bad shape, unknown code...)."""


@dataclass
class BidsSubject:
    """One validated subject: participant info, file paths and the loaded arrays (x, y, z)."""

    participant_id: str
    diagnosis: str  # "ASD" | "TD"
    age: float | None
    sex: str | None
    site: str | None
    t1w_path: Path
    t1w: np.ndarray = field(repr=False)
    affine: np.ndarray = field(repr=False)
    wm_mask: np.ndarray | None = field(default=None, repr=False)
    brain_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def label(self) -> int:
        return 1 if self.diagnosis == "ASD" else 0


def write_bids(root, subjects, derivative: str = "sim", abide_coding: bool = True) -> Path:
    """Write subjects to a BIDS-like folder: int16 T1w, uint8 WM and brain masks, ``participants.tsv``.

    Parameters
    ----------
    root : path
    subjects : iterable of dict
        Keys ``participant_id, diagnosis ("ASD"/"TD"), t1w (3D array), affine``; optional ``age, sex,
        site, wm_mask, brain_mask``.
    abide_coding : bool
        Write ``diagnosis`` as ABIDE ``DX_GROUP`` codes (1 = ASD, 2 = TD) and ``sex`` as 1/2.

    """
    import nibabel as nib

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in subjects:
        pid = s["participant_id"]
        if not re.fullmatch(r"sub-[A-Za-z0-9]+", pid):
            raise BidsError(f"participant_id must look like 'sub-<alphanumeric>', got {pid!r}")
        anat = root / pid / "anat"
        anat.mkdir(parents=True, exist_ok=True)
        aff = np.asarray(s["affine"], float)
        t1 = np.rint(np.clip(s["t1w"], -32768, 32767)).astype(np.int16)
        nib.save(nib.Nifti1Image(t1, aff), anat / f"{pid}_T1w.nii.gz")
        der = root / "derivatives" / derivative / pid / "anat"
        for key, suffix in (("wm_mask", "label-WM_mask"), ("brain_mask", "desc-brain_mask")):
            if s.get(key) is not None:
                der.mkdir(parents=True, exist_ok=True)
                img = nib.Nifti1Image(np.asarray(s[key]).astype(np.uint8), aff)
                img.set_data_dtype(np.uint8)
                nib.save(img, der / f"{pid}_{suffix}.nii.gz")
        dx = s["diagnosis"]
        if dx not in ("ASD", "TD"):
            raise BidsError(f"{pid}: diagnosis must be 'ASD' or 'TD', got {dx!r}")
        sex = s.get("sex")
        rows.append(
            dict(
                participant_id=pid,
                diagnosis=("1" if dx == "ASD" else "2") if abide_coding else dx,
                age="n/a" if s.get("age") is None else f"{float(s['age']):.3f}",
                sex="n/a" if sex is None else ({"M": "1", "F": "2"}[sex] if abide_coding else sex),
                site="n/a" if s.get("site") is None else str(s["site"]),
            )
        )
    with open(root / "participants.tsv", "w", newline="") as f:
        w = csv.DictWriter(
            f,
            fieldnames=list(rows[0]) if rows else ["participant_id", "diagnosis"],
            delimiter="\t",
            lineterminator="\n",
        )
        w.writeheader()
        w.writerows(rows)
    return root


def read_participants(root) -> list[dict]:
    """Parse and validate ``participants.tsv`` (ABIDE names and codes mapped). Raises :class:`BidsError`."""
    path = Path(root) / "participants.tsv"
    if not path.is_file():
        raise BidsError(f"missing file {path}: expected a tab-separated participants table")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        raise BidsError(f"{path} has no subject rows")
    rows = [{ABIDE_COLUMNS.get(k, k): (v or "").strip() for k, v in r.items() if k is not None} for r in rows]
    for col in ("participant_id", "diagnosis"):
        if col not in rows[0]:
            raise BidsError(f"{path} lacks the required column {col!r} (columns: {sorted(rows[0])})")
    out, seen = [], set()
    for n, r in enumerate(rows, start=2):
        pid = r["participant_id"]
        if not pid.startswith("sub-"):
            pid = f"sub-{pid}"
        if pid in seen:
            raise BidsError(f"{path}:{n}: duplicate participant_id {pid!r}")
        seen.add(pid)
        dx = DIAGNOSIS_CODES.get(r["diagnosis"].lower())
        if dx is None:
            raise BidsError(
                f"{path}:{n}: unknown diagnosis code {r['diagnosis']!r} for {pid}; expected "
                "ASD/TD or ABIDE DX_GROUP 1 (autism) / 2 (control)"
            )
        sex_raw = r.get("sex", "n/a")
        sex = None if sex_raw.lower() in ("", "n/a", "nan") else SEX_CODES.get(sex_raw.lower())
        if sex_raw.lower() not in ("", "n/a", "nan") and sex is None:
            raise BidsError(f"{path}:{n}: unknown sex code {sex_raw!r} for {pid}; expected M/F or 1/2")
        age_raw = r.get("age", "n/a")
        try:
            age = None if age_raw.lower() in ("", "n/a", "nan") else float(age_raw)
        except ValueError:
            raise BidsError(f"{path}:{n}: age {age_raw!r} of {pid} is not a number") from None
        site = r.get("site") or None
        out.append(
            dict(participant_id=pid, diagnosis=dx, age=age, sex=sex, site=None if site in (None, "n/a") else site)
        )
    return out


def _find_t1w(root: Path, pid: str) -> Path | None:
    for pattern in (
        f"{pid}/anat/{pid}_T1w.nii.gz",
        f"{pid}/anat/{pid}_T1w.nii",
        f"{pid}/ses-*/anat/{pid}_ses-*_T1w.nii.gz",
        f"{pid}/ses-*/anat/{pid}_ses-*_T1w.nii",
    ):
        hits = sorted(root.glob(pattern))
        if hits:
            return hits[0]
    return None


def _find_derivative(root: Path, pid: str, suffix: str) -> Path | None:
    hits = sorted((root / "derivatives").glob(f"*/{pid}/**/{pid}*_{suffix}.nii*"))
    return hits[0] if hits else None


def _load_nifti(path: Path, what: str):
    import nibabel as nib

    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as e:  # nibabel raises several types for truncated / non-NIfTI files
        raise BidsError(f"corrupt NIfTI {path} ({what}): {type(e).__name__}: {e}") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise BidsError(f"bad shape {data.shape} of {path} ({what}): expected a 3D volume")
    if not np.all(np.isfinite(data)):
        raise BidsError(f"{path} ({what}) contains non-finite values")
    return data, np.asarray(img.affine, float)


def load_bids(
    root, expected_shape: tuple | None = None, min_per_class: int = 10, on_missing: str = "error"
) -> list[BidsSubject]:
    """Load and validate a BIDS-like folder. Nothing is returned unless every check passes.

    Parameters
    ----------
    root : path
    expected_shape : tuple, optional
        Required 3D shape of every image (e.g. the template grid); by default all subjects must share
        the first subject's shape.
    min_per_class : int
        Fewest subjects per diagnosis (10 by default).
    on_missing : {"error", "skip"}
        A listed subject without a T1w file raises (default) or is skipped with a warning.

    Raises
    ------
    BidsError
        Missing ``participants.tsv`` or T1w file, subject folders not in the table, unknown diagnosis
        or sex codes, non-3D or mismatched shapes, corrupt NIfTI, too few subjects per class.

    """
    import warnings

    root = Path(root)
    if on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing must be 'error' or 'skip', got {on_missing!r}")
    if not root.is_dir():
        raise BidsError(f"BIDS root {root} is not a folder")
    table = read_participants(root)
    listed = {r["participant_id"] for r in table}
    on_disk = {p.name for p in root.glob("sub-*") if p.is_dir()}
    extra = sorted(on_disk - listed)
    if extra:
        raise BidsError(f"mismatched subjects: folders {extra} in {root} are not listed in participants.tsv")
    subjects, missing = [], []
    shape = tuple(expected_shape) if expected_shape is not None else None
    for r in table:
        pid = r["participant_id"]
        t1p = _find_t1w(root, pid)
        if t1p is None:
            missing.append(pid)
            continue
        t1, aff = _load_nifti(t1p, "T1w")
        if shape is None:
            shape = t1.shape
        if t1.shape != shape:
            raise BidsError(f"bad shape {t1.shape} of {t1p}: expected {shape} like the other subjects")
        masks = {}
        for key, suffix in (("wm_mask", "label-WM_mask"), ("brain_mask", "desc-brain_mask")):
            mp = _find_derivative(root, pid, suffix)
            if mp is None:
                masks[key] = None
                continue
            m, _ = _load_nifti(mp, suffix)
            if m.shape != t1.shape:
                raise BidsError(f"bad shape {m.shape} of {mp}: expected the T1w shape {t1.shape}")
            if not np.isin(np.unique(m), (0, 1)).all():
                raise BidsError(f"{mp} is not a binary mask (values {np.unique(m)[:5]}...)")
            masks[key] = m.astype(np.uint8)
        subjects.append(
            BidsSubject(
                participant_id=pid,
                diagnosis=r["diagnosis"],
                age=r["age"],
                sex=r["sex"],
                site=r["site"],
                t1w_path=t1p,
                t1w=np.asarray(t1, np.float32),
                affine=aff,
                **masks,
            )
        )
    if missing:
        msg = f"missing T1w file for {missing} (expected <root>/<sub>/anat/<sub>_T1w.nii.gz)"
        if on_missing == "error":
            raise BidsError(msg)
        warnings.warn(msg + "; skipped", stacklevel=2)
    for dx in ("ASD", "TD"):
        n = sum(s.diagnosis == dx for s in subjects)
        if n < min_per_class:
            raise BidsError(f"only {n} {dx} subjects with images in {root}; expected at least {min_per_class}")
    return subjects
