"""lsa.cache: atomic writes, keys that cover the producing code, and the domain packages' independence of the runner.

Code edits are made on a temporary copy of the package (``lsa.digests.PACKAGE_ROOT`` monkeypatched), never on
the real tree.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import lsa.digests
from lsa import cache
from lsa.paths import PACKAGE_ROOT

# the seven hand-written caches this module replaced, by kind: (producing module)
PRODUCERS = {  # every module of the library that writes cache entries, by the kind of entry
    "gsa": "lsa.gsa.zoo",
    "gpt": "lsa.models.gpt",
    "mri/calibration": "lsa.mri.simulate",
    "mri/measurements": "lsa.mri.measure",
    "mri/unet": "lsa.mri.segment",
}
DOMAIN_PACKAGES = ("alignment", "gsa", "prune", "mri", "models", "data")


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("LSA_CACHE_DIR", str(root))
    return root


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the lsa package that the code digests read instead of the real one."""
    copy = tmp_path / "src" / "lsa"
    shutil.copytree(PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(lsa.digests, "PACKAGE_ROOT", copy)
    return copy


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n# an edit\n")


def test_root_follows_the_environment(cache_root, tmp_path, monkeypatch):
    assert cache.root() == cache_root
    assert cache.folder("mri/unet").is_dir()
    monkeypatch.delenv("LSA_CACHE_DIR")
    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path / "runs"))
    assert cache.root() == tmp_path / "runs" / "cache"


def test_key_covers_the_config():
    a = cache.key("lsa.mri.segment", {"epochs": 1})
    assert a == cache.key("lsa.mri.segment", {"epochs": 1})
    assert a != cache.key("lsa.mri.segment", {"epochs": 2})
    assert a != cache.key("lsa.mri.simulate", {"epochs": 1})
    with pytest.raises(TypeError, match="cannot digest"):
        cache.key("lsa.mri.segment", {"model": object()})


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "w.pt"

    def fails(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        cache.atomic_write(target, fails)
    assert list(tmp_path.iterdir()) == []
    cache.atomic_write(target, lambda tmp: torch.save({"w": torch.ones(2)}, tmp))
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"]
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.ones(2))


def _produce(path: str, log: str) -> None:
    """Produce the entry at ``path`` the way the library does, noting in ``log`` whether it computed or read."""
    import time

    path = Path(path)
    with cache.producing(path):
        Path(log + ".inside").touch()
        if path.is_file():
            what = "read " + path.read_text()
        else:
            time.sleep(1.0)  # a long computation: the other process must wait for it, not start its own
            cache.atomic_write(path, lambda tmp: tmp.write_text(str(os.getpid())))
            what = "computed"
    with open(log, "a") as f:
        f.write(f"{os.getpid()} {what}\n")


def test_a_second_producer_waits_for_the_entry_instead_of_computing_it(tmp_path):
    import multiprocessing

    path, log = tmp_path / "entry.pt", tmp_path / "log.txt"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_produce, args=(str(path), str(log))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    lines = sorted(line.split(" ", 1)[1] for line in log.read_text().splitlines())
    assert lines == ["computed", f"read {path.read_text()}"]  # one computed it, the other read its entry
    # a producer that dies while holding the lock does not block the next one (the lock dies with it)
    path.unlink()
    killed = ctx.Process(target=_produce, args=(str(path), str(log)))
    Path(str(log) + ".inside").unlink()
    killed.start()
    deadline = time.time() + 60
    while not Path(str(log) + ".inside").exists() and time.time() < deadline:
        time.sleep(0.05)
    killed.kill()  # inside the lock, before writing
    killed.join()
    _produce(str(path), str(log))
    assert log.read_text().splitlines()[-1] == f"{os.getpid()} computed"


def test_producers_list_every_module_that_writes_cache_entries():
    root = Path(cache.__file__).parent
    writers = {
        "lsa." + ".".join(p.relative_to(root).with_suffix("").parts)
        for p in root.rglob("*.py")
        if p.name != "cache.py" and re.search(r"cache\.(entry|folder|memory)\(", p.read_text())
    }
    assert writers == set(PRODUCERS.values())


def test_editing_the_unet_trainer_changes_only_the_keys_of_what_reaches_it(package_copy):
    before = {kind: cache.key(mod, {"same": "config"}) for kind, mod in PRODUCERS.items()}
    _edit(package_copy / "mri" / "segment.py")
    after = {kind: cache.key(mod, {"same": "config"}) for kind, mod in PRODUCERS.items()}
    # the UNet's own entries, and the subject measurements (measure_subject scores masks with segment.dice)
    assert [k for k in PRODUCERS if before[k] != after[k]] == ["mri/measurements", "mri/unet"]
    # and an edit to a module every producer reaches (the cache itself) changes them all
    _edit(package_copy / "cache.py")
    final = {kind: cache.key(mod, {"same": "config"}) for kind, mod in PRODUCERS.items()}
    assert all(final[k] != after[k] for k in PRODUCERS)


def _tiny_unet_data(seed=0):
    rng = np.random.default_rng(seed)
    images = [rng.normal(size=(8, 8, 8)).astype(np.float32) for _ in range(2)]
    masks = [(im > 0).astype(np.uint8) for im in images]
    brains = [np.ones((8, 8, 8), bool) for _ in images]
    return images, masks, brains


def test_cached_unets_are_reused_until_the_trainer_changes(cache_root, package_copy, monkeypatch):
    from lsa.mri import segment

    images, masks, brains = _tiny_unet_data()
    cfg = segment.UNetConfig(channels=(2, 4), epochs=1, batch_size=4)
    trained = []
    real = segment.train_plane_unet

    def counting(*args, **kwargs):
        trained.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(segment, "train_plane_unet", counting)
    first = segment.train_multiunet(images, masks, brains, cfg, progress=False)
    assert len(trained) == 3 and len(list((cache_root / "mri" / "unet").glob("*.pt"))) == 1
    again = segment.train_multiunet(images, masks, brains, cfg, progress=False)
    assert len(trained) == 3  # loaded, not trained
    for p in segment.PLANES:
        for a, b in zip(first.models[p].state_dict().values(), again.models[p].state_dict().values()):
            assert torch.equal(a, b)
    # other data: a new entry
    other = _tiny_unet_data(seed=1)
    segment.train_multiunet(*other, cfg, progress=False)
    assert len(trained) == 6
    # an edit to the trainer's module: retrained, and the calibration/zoo keys did not move
    zoo_key = cache.key("lsa.gsa.zoo", {"kind": "resnet"})
    _edit(package_copy / "mri" / "segment.py")
    segment.train_multiunet(images, masks, brains, cfg, progress=False)
    assert len(trained) == 9 and len(list((cache_root / "mri" / "unet").glob("*.pt"))) == 3
    assert cache.key("lsa.gsa.zoo", {"kind": "resnet"}) == zoo_key


def test_memory_is_keyed_by_arguments_and_code(cache_root, package_copy):
    calls = []

    def square(x, n_jobs=1):
        calls.append(x)
        return np.arange(x) ** 2

    run = cache.memory("test", "lsa.mri.cnn").cache(square, ignore=["n_jobs"])
    np.testing.assert_array_equal(run(4), np.arange(4) ** 2)
    run(4, n_jobs=2)
    assert calls == [4]
    run(5)
    assert calls == [4, 5]
    _edit(package_copy / "mri" / "classify.py")  # imported by lsa.mri.cnn
    cache.memory("test", "lsa.mri.cnn").cache(square, ignore=["n_jobs"])(4)
    assert calls == [4, 5, 4]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_packages_never_import_the_runner(package):
    files = sorted((PACKAGE_ROOT / package).rglob("*.py"))
    assert files
    offenders = {
        str(f.relative_to(PACKAGE_ROOT)): sorted(
            n for n in _imports(f) if n == "lsa.runner" or n.startswith("lsa.runner.")
        )
        for f in files
    }
    assert {f: names for f, names in offenders.items() if names} == {}
