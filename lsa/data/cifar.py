"""CIFAR-10 from a local folder in the standard python-pickle format (nothing is downloaded).

Expected layout: ``<root>/cifar-10-batches-py/data_batch_1 … data_batch_5`` and ``test_batch`` (or ``root``
pointing at ``cifar-10-batches-py`` itself), each a pickle of a dict with ``b"data"`` (``uint8``,
``N × 3072``, channel-major 3×32×32) and ``b"labels"`` (list of ints in 0..9).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def cifar_folder(root) -> Path:
    """Resolve ``root`` to the ``cifar-10-batches-py`` folder, or raise naming what is missing."""
    root = Path(root).expanduser()
    for cand in (root / "cifar-10-batches-py", root):
        if all((cand / f).is_file() for f in TRAIN_FILES + TEST_FILES):
            return cand
    missing = [
        f
        for f in TRAIN_FILES + TEST_FILES
        if not (root / "cifar-10-batches-py" / f).is_file() and not (root / f).is_file()
    ]
    raise FileNotFoundError(
        f"CIFAR-10 not found under {root}: expected cifar-10-batches-py/"
        f"{{data_batch_1..5, test_batch}}; missing {missing}"
    )


def read_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """Read one pickled CIFAR-10 batch; returns ``(uint8 images N×3×32×32, int64 labels)``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise ValueError(f"{path} is not a CIFAR-10 python-pickle batch: {err}") from err
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise ValueError(
            f"{path}: expected a dict with b'data' and b'labels', got {type(d).__name__} "
            f"with keys {list(d)[:5] if isinstance(d, dict) else '—'}"
        )
    data, labels = np.asarray(d[b"data"]), np.asarray(d[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(
            f"{path}: b'data' must be uint8 N×3072 with N labels, got {data.dtype} {data.shape} "
            f"and {len(labels)} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must lie in 0..9, got range [{labels.min()}, {labels.max()}]")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(
    root, train: bool = True, limit: int | None = None, normalise: bool = True, dtype: torch.dtype = torch.float32
):
    """CIFAR-10 images and labels as tensors.

    Parameters
    ----------
    root : path-like
        Folder containing ``cifar-10-batches-py`` (or that folder itself).
    train : bool
        The five training batches (50,000 images) or the test batch (10,000).
    limit : int, optional
        Keep the first ``limit`` images.
    normalise : bool
        Scale to [0, 1] and standardise per channel with the usual CIFAR-10 statistics.

    Returns
    -------
    X : Tensor, shape (N, 3, 32, 32)
    y : LongTensor, shape (N,)
    """
    folder = cifar_folder(root)
    parts = [read_batch(folder / f) for f in (TRAIN_FILES if train else TEST_FILES)]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    if limit is not None:
        X, y = X[:limit], y[:limit]
    X = torch.as_tensor(X).to(dtype) / 255.0
    if normalise:
        X = (X - torch.tensor(MEAN, dtype=dtype)[:, None, None]) / torch.tensor(STD, dtype=dtype)[:, None, None]
    return X, torch.as_tensor(y)
