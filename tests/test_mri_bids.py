"""Tests of the BIDS-like writer / validating loader (lsa.mri.bids): round trip and each malformed input."""

import gzip
import shutil

import nibabel as nib
import numpy as np
import pytest

from lsa.mri import simulate as S
from lsa.mri.bids import BidsError, load_bids, read_participants, write_bids

RES = 6


def _records(n=8):
    cfg = S.SimConfig(resolution_mm=RES, n_subjects=n)
    recs = []
    for i in range(n):
        r = S.render_subject(cfg, i)
        recs.append(
            dict(
                participant_id=r.subject_id,
                diagnosis=r.diagnosis,
                t1w=r.image(0.0),
                affine=r.affine,
                age=r.age,
                sex="M" if i % 3 else "F",
                site=f"S{r.site}",
                wm_mask=r.gt_wm,
                brain_mask=r.brain.astype(np.uint8),
            )
        )
    return recs


@pytest.fixture(scope="module")
def records():
    return _records()


@pytest.fixture
def root(tmp_path, records):
    return write_bids(tmp_path / "bids", records)


def test_round_trip_is_exact(root, records):
    subs = load_bids(root, min_per_class=1)
    assert [s.participant_id for s in subs] == [r["participant_id"] for r in records]
    for s, r in zip(subs, records):
        assert s.diagnosis == r["diagnosis"] and s.sex == r["sex"] and s.site == r["site"]
        assert s.age == pytest.approx(r["age"], abs=1e-3)
        assert s.wm_mask.dtype == np.uint8
        np.testing.assert_array_equal(s.wm_mask, r["wm_mask"])  # ground-truth masks survive exactly
        np.testing.assert_array_equal(s.brain_mask, r["brain_mask"])
        np.testing.assert_allclose(s.affine, r["affine"])
        np.testing.assert_array_equal(s.t1w, np.rint(r["t1w"]))  # int16 storage rounds the image


def test_abide_coding_on_disk(root):
    lines = (root / "participants.tsv").read_text().splitlines()
    assert lines[0].split("\t")[:2] == ["participant_id", "diagnosis"]
    codes = {ln.split("\t")[1] for ln in lines[1:]}
    assert codes == {"1", "2"}  # ABIDE DX_GROUP: 1 = autism, 2 = control
    assert [r["diagnosis"] for r in read_participants(root)][:2] == ["TD", "ASD"]


def test_abide_column_names_and_text_codes(tmp_path, records):
    root = write_bids(tmp_path / "b", records[:4], abide_coding=False)
    txt = (root / "participants.tsv").read_text().replace("participant_id", "SUB_ID").replace("diagnosis", "DX_GROUP")
    txt = txt.replace("\tASD\t", "\tasd\t")
    (root / "participants.tsv").write_text(txt)
    subs = load_bids(root, min_per_class=1)
    assert [s.diagnosis for s in subs] == ["TD", "ASD", "TD", "ASD"]


def test_rejects_missing_participants(root):
    (root / "participants.tsv").unlink()
    with pytest.raises(BidsError, match="missing file .*participants.tsv"):
        load_bids(root, min_per_class=1)


def test_rejects_missing_t1w(root):
    (root / "sub-0000003" / "anat" / "sub-0000003_T1w.nii.gz").unlink()
    with pytest.raises(BidsError, match="missing T1w file .*sub-0000003"):
        load_bids(root, min_per_class=1)
    with pytest.warns(UserWarning, match="sub-0000003"):
        subs = load_bids(root, min_per_class=1, on_missing="skip")
    assert len(subs) == 7


def test_rejects_mismatched_subjects(root):
    shutil.copytree(root / "sub-0000001", root / "sub-0009999")
    with pytest.raises(BidsError, match="mismatched subjects.*sub-0009999"):
        load_bids(root, min_per_class=1)


def test_rejects_bad_shape(root):
    p = root / "sub-0000002" / "anat" / "sub-0000002_T1w.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.int16), np.eye(4)), p)
    with pytest.raises(BidsError, match="bad shape .*sub-0000002"):
        load_bids(root, min_per_class=1)
    nib.save(nib.Nifti1Image(np.zeros((5, 5), np.int16), np.eye(4)), p)
    with pytest.raises(BidsError, match="bad shape .*3D"):
        load_bids(root, min_per_class=1)


def test_rejects_mask_shape_mismatch(root):
    p = next((root / "derivatives").rglob("sub-0000004_label-WM_mask.nii.gz"))
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3), np.uint8), np.eye(4)), p)
    with pytest.raises(BidsError, match="bad shape .*label-WM_mask"):
        load_bids(root, min_per_class=1)


def test_rejects_expected_shape(root):
    with pytest.raises(BidsError, match="bad shape"):
        load_bids(root, expected_shape=(99, 117, 95), min_per_class=1)


def test_rejects_unknown_diagnosis_code(root):
    tsv = root / "participants.tsv"
    lines = tsv.read_text().splitlines()
    parts = lines[3].split("\t")
    parts[1] = "3"
    lines[3] = "\t".join(parts)
    tsv.write_text("\n".join(lines) + "\n")
    with pytest.raises(BidsError, match="unknown diagnosis code '3'"):
        load_bids(root, min_per_class=1)


def test_rejects_corrupt_nifti(root):
    p = root / "sub-0000005" / "anat" / "sub-0000005_T1w.nii.gz"
    raw = gzip.decompress(p.read_bytes())
    p.write_bytes(gzip.compress(raw[: len(raw) // 2]))  # truncated image data
    with pytest.raises(BidsError, match="corrupt NIfTI .*sub-0000005"):
        load_bids(root, min_per_class=1)
    p.write_bytes(b"not a nifti file at all")
    with pytest.raises(BidsError, match="corrupt NIfTI"):
        load_bids(root, min_per_class=1)


def test_rejects_too_few_per_class(root):
    with pytest.raises(BidsError, match="only 4 .* at least 10"):
        load_bids(root)


def test_every_malformation_is_rejected(root, tmp_path):
    from lsa.mri.malformed import MALFORMED_CASES, loader_rejections, make_malformed

    subject = sorted(p.name for p in root.glob("sub-*"))[0]
    rows = loader_rejections(root, tmp_path / "work", subject)
    assert [r["case"] for r in rows] == list(MALFORMED_CASES)
    assert all(r["rejected"] for r in rows), rows
    with pytest.raises(ValueError, match="unknown malformation"):
        make_malformed(root, "upside down", subject)
