"""CIFAR-10 loader on small files written here in the real python-pickle format."""

import pickle

import numpy as np
import pytest
import torch

from lsa.data.cifar import load_cifar10, read_batch


def write_fake_cifar(root, n=7, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    truth = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump(
                {b"batch_label": name.encode(), b"data": data, b"labels": labels, b"filenames": [b"x.png"] * n}, f
            )
        truth[name] = (data, labels)
    return truth


def test_load_roundtrip(tmp_path):
    truth = write_fake_cifar(tmp_path)
    X, y = load_cifar10(tmp_path, train=True, normalise=False)
    assert X.shape == (35, 3, 32, 32) and y.shape == (35,)
    d0, l0 = truth["data_batch_1"]
    # channel-major layout: first 1024 bytes are the red plane of image 0
    np.testing.assert_allclose(X[0, 0].numpy().ravel(), d0[0, :1024] / 255.0, atol=1e-7)
    np.testing.assert_allclose(X[0, 2].numpy().ravel(), d0[0, 2048:] / 255.0, atol=1e-7)
    assert y[:7].tolist() == l0
    Xt, yt = load_cifar10(tmp_path / "cifar-10-batches-py", train=False, limit=3)
    assert Xt.shape == (3, 3, 32, 32) and yt.tolist() == truth["test_batch"][1][:3]
    assert Xt.dtype == torch.float32


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path)
    write_fake_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="data_batch_3"):
        load_cifar10(tmp_path)
    with open(bad, "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ValueError, match="3072"):
        read_batch(bad)
