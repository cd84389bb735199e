"""Malformed copies of a BIDS-like folder, for showing (and testing) that the loader rejects each one."""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from lsa.mri.bids import BidsError, load_bids

MALFORMED_CASES = (
    "missing participants.tsv",
    "missing T1w file",
    "mismatched subjects",
    "bad shape",
    "unknown diagnosis code",
    "corrupt NIfTI",
)


def make_malformed(root: Path, case: str, subject: str) -> None:
    """Break the folder ``root`` in place in one way (one of :data:`MALFORMED_CASES`), through ``subject``."""
    root = Path(root)
    t1 = root / subject / "anat" / f"{subject}_T1w.nii.gz"
    if case == "missing participants.tsv":
        (root / "participants.tsv").unlink()
    elif case == "missing T1w file":
        t1.unlink()
    elif case == "mismatched subjects":
        shutil.copytree(root / subject, root / "sub-9999999")
    elif case == "bad shape":
        nib.save(nib.Nifti1Image(np.zeros((7, 7, 7), np.int16), np.eye(4)), t1)
    elif case == "unknown diagnosis code":
        lines = (root / "participants.tsv").read_text().splitlines()
        cols = lines[1].split("\t")
        cols[1] = "3"
        lines[1] = "\t".join(cols)
        (root / "participants.tsv").write_text("\n".join(lines) + "\n")
    elif case == "corrupt NIfTI":
        raw = gzip.decompress(t1.read_bytes())
        t1.write_bytes(gzip.compress(raw[: len(raw) // 3]))
    else:
        raise ValueError(f"unknown malformation {case!r}; expected one of {MALFORMED_CASES}")


def loader_rejections(root: Path, workdir: Path, subject: str, cases=MALFORMED_CASES) -> list[dict]:
    """Copy ``root`` once per case, break the copy, and record whether :func:`load_bids` rejects it.

    Returns one dict per case: ``case``, ``rejected`` (bool) and the loader's ``message`` (paths shortened).
    """
    out = []
    for case in cases:
        r = Path(workdir) / case.replace(" ", "_").replace(".", "_")
        shutil.copytree(root, r)
        make_malformed(r, case, subject)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                load_bids(r, min_per_class=1)
            out.append(dict(case=case, rejected=False, message="(accepted!)"))
        except BidsError as exc:
            out.append(dict(case=case, rejected=True, message=str(exc).replace(str(workdir), "<tmp>")[:110]))
    return out
