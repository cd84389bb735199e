"""White-matter segmentation: tri-planar MultiUNet, single-plane UNets, an intensity baseline, Dice.

"MultiUNet" is the paper's name; its architecture is not public. Our reading: three 2D
UNets, trained on axial, coronal and sagittal slices of z-scored volumes; their softmax volumes are
averaged voxel by voxel, thresholded (argmax) and reduced to the largest connected component. The
networks are trained only on a separate segmentation cohort (never on classification subjects).

"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
from joblib import Parallel, delayed
from scipy import ndimage
from torch.nn import functional as F

from lsa import cache as lsa_cache
from lsa.mri.intensity import intensity_wm  # noqa: F401  (the baseline, re-exported beside the UNets)
from lsa.mri.seg_unet import UNet2D

PLANES = {"sagittal": 0, "coronal": 1, "axial": 2}  # slicing axis of an (x, y, z) RAS volume


@dataclass(frozen=True)
class UNetConfig:
    """Training settings of one plane's 2D UNet."""

    channels: tuple = (16, 32, 64, 128)
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient ``2 |A ∩ B| / (|A| + |B|)`` of two binary arrays (1.0 when both are empty)."""
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    if a.shape != b.shape:
        raise ValueError(f"Dice needs equal shapes, got {a.shape} and {b.shape}")
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else float(2.0 * (a & b).sum() / s)


def zscore_in_mask(image: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """Z-score inside the brain mask, zero outside (float32): the networks' input normalisation."""
    v = image[brain]
    return np.where(brain, (image - v.mean()) / (v.std() + 1e-8), 0.0).astype(np.float32)


def pad_to(vol: np.ndarray, k: int) -> tuple[np.ndarray, tuple]:
    """Zero-pad each side of ``vol`` at the end to a multiple of ``k``; return the array and the original shape."""
    pad = [(0, (-s) % k) for s in vol.shape]
    return np.pad(vol, pad), vol.shape


def plane_slices(vols, axis: int) -> np.ndarray:
    """Stack the 2D slices of a list of 3D volumes along ``axis`` into (n, H, W)."""
    return np.concatenate([np.moveaxis(v, axis, 0) for v in vols], axis=0)


def _dice_ce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + soft Dice of the foreground class (DiceCE)."""
    ce = F.cross_entropy(logits, target)
    p = logits.softmax(1)[:, 1]
    t = target.float()
    soft = 1 - (2 * (p * t).sum() + 1e-5) / (p.sum() + t.sum() + 1e-5)
    return ce + soft


def train_plane_unet(images, masks, plane: str, config: UNetConfig, device=None, progress=None) -> UNet2D:
    """Train one 2D UNet on the slices of (z-scored, padded) ``images`` along ``plane``.

    Parameters
    ----------
    images, masks : list of 3D arrays
        Z-scored images and binary WM masks, padded to the UNet's divisor.
    plane : {"axial", "coronal", "sagittal"}

    """
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {list(PLANES)}, got {plane!r}")
    if len(images) != len(masks) or not images:
        raise ValueError(f"need as many masks as images (>0), got {len(images)} and {len(masks)}")
    device = device or torch.device("cpu")
    torch.manual_seed(config.seed)
    model = UNet2D(1, 2, config.channels).to(device)
    for v in images:
        if any(s % model.divisor for s in v.shape):
            raise ValueError(f"volume shape {v.shape} is not padded to a multiple of {model.divisor}")
    ax = PLANES[plane]
    X = torch.from_numpy(plane_slices(images, ax)[:, None]).float()
    Y = torch.from_numpy(plane_slices(masks, ax)).long()
    keep = X.abs().flatten(1).sum(1) > 0  # drop empty (background-only) slices
    X, Y = X[keep], Y[keep]
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    model.train()
    for _ in range(config.epochs):
        perm = torch.randperm(len(X), generator=gen)
        for s in range(0, len(X), config.batch_size):
            idx = perm[s : s + config.batch_size]
            xb, yb = X[idx].to(device), Y[idx].to(device)
            opt.zero_grad()
            loss = _dice_ce_loss(model(xb), yb)
            loss.backward()
            opt.step()
        if progress is not None:
            progress.update(1)
    model.eval()
    return model


@torch.no_grad()
def predict_plane_proba(model: UNet2D, image: np.ndarray, plane: str, batch: int = 32) -> np.ndarray:
    """WM probability volume from one plane's UNet (input z-scored; output has the input's shape).

    Slices that are zero everywhere (outside the brain after :func:`zscore_in_mask`, or padding) are not run
    through the network: their probability is 0, as the fused mask is restricted to the brain anyway. About a
    fifth of the slices of a 4 mm volume are empty.
    """
    ax = PLANES[plane]
    padded, shape = pad_to(image, model.divisor)
    dev = next(model.parameters()).device
    slices = np.moveaxis(padded, ax, 0)
    keep = np.flatnonzero(np.abs(slices).reshape(len(slices), -1).max(axis=1) > 0)
    out = np.zeros(slices.shape, np.float32)
    if len(keep):
        sl = torch.from_numpy(slices[keep][:, None].astype(np.float32))
        out[keep] = torch.cat(
            [model(sl[s : s + batch].to(dev)).softmax(1)[:, 1].cpu() for s in range(0, len(sl), batch)]
        ).numpy()
    prob = np.moveaxis(out, 0, ax)
    return prob[tuple(slice(0, s) for s in shape)]


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the largest 26-connected component of a binary mask (uint8)."""
    lab, n = ndimage.label(mask > 0, structure=np.ones((3, 3, 3)))
    if n <= 1:
        return (mask > 0).astype(np.uint8)
    sizes = ndimage.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1))
    return (lab == 1 + int(np.argmax(sizes))).astype(np.uint8)


class MultiUNet:
    """Tri-planar ensemble: one :class:`UNet2D` per plane, softmax volumes averaged, argmax, largest component."""

    def __init__(self, models: dict):
        unknown = set(models) - set(PLANES)
        if unknown or not models:
            raise ValueError(f"models must be keyed by planes {list(PLANES)}, got {list(models)}")
        self.models = models

    def plane_proba(self, image: np.ndarray, brain: np.ndarray) -> dict:
        z = zscore_in_mask(image, brain)
        return {p: predict_plane_proba(m, z, p) for p, m in self.models.items()}

    @staticmethod
    def fuse(probas: dict, brain: np.ndarray) -> np.ndarray:
        """Mean of the plane probabilities, thresholded at 0.5 inside the brain, largest component."""
        mean = np.mean(np.stack(list(probas.values())), axis=0)
        return largest_component((mean >= 0.5) & brain)

    def predict(self, image: np.ndarray, brain: np.ndarray) -> np.ndarray:
        return self.fuse(self.plane_proba(image, brain), brain)

    def digest(self) -> str:
        """A hash of the weights (keys the caches of measurements made with this MultiUNet's masks)."""
        from lsa.digests import stable_hash

        return stable_hash(
            {p: {k: v.detach().cpu().numpy() for k, v in m.state_dict().items()} for p, m in self.models.items()}
        )


class MultiUNetTraining:
    """The three plane trainings of a MultiUNet as joblib tasks, for a caller that runs them in its own worker
    pool, beside other work (:func:`lsa.mri.measure.measure_cohort` measures the subjects that do not need the
    MultiUNet's masks meanwhile). Made by :func:`multiunet_training`.

    Attributes
    ----------
    jobs : list
        One ``joblib.delayed`` task per plane, in the order of :data:`PLANES`; each returns that plane's UNet.
    result : MultiUNet or None
        Set by :meth:`finish`.
    """

    def __init__(self, jobs: list, path, release=lambda: None):
        self.jobs, self.path, self.result, self._release = jobs, path, None, release

    def finish(self, models: list) -> MultiUNet:
        """Assemble the MultiUNet from the tasks' results (in the order of ``jobs``), write it to the cache and let
        other processes waiting for these weights go on."""
        if len(models) != len(PLANES):
            raise ValueError(f"expected one trained UNet per plane ({len(PLANES)}), got {len(models)}")
        self.result = MultiUNet(dict(zip(PLANES, models)))
        if self.path is not None:
            state = {p: m.state_dict() for p, m in self.result.models.items()}
            lsa_cache.atomic_write(self.path, lambda tmp: torch.save(state, tmp))
        self._release()
        return self.result


@contextmanager
def multiunet_training(images, masks, brains, config: UNetConfig, device=None, cache: bool = True, progress=True):
    """The MultiUNet trained on these subjects with these settings, or the training that produces it.

    Yields the :class:`MultiUNet` when its weights are in the ``mri/unet`` entries of :mod:`lsa.cache`, or when
    ``device`` is a GPU (it is then trained here, plane after plane). Otherwise yields a
    :class:`MultiUNetTraining`: the caller runs its ``jobs`` in any worker pool and passes their results to
    ``finish``, which writes the weights to the cache. The cache entry is locked from the check until the weights
    are written (or loaded), not for the rest of the block, so another process asking for the same weights waits
    only for them, then loads them instead of training them again.

    The cache key is the training data itself (every image, mask and brain mask, by dtype, shape and bytes), the
    settings and this module's code, so no caller-described key can go stale.
    """
    device = torch.device(device or "cpu")
    path = None
    if cache:
        data = dict(images=list(images), masks=list(masks), brains=list(brains))
        path = lsa_cache.entry("mri/unet", __name__, dict(data=data, unet=config.to_dict()), ".pt")
    with ExitStack() as lock:
        if path is not None:
            lock.enter_context(lsa_cache.producing(path))
        if path is not None and path.is_file():
            state = torch.load(path, map_location=device, weights_only=True)
            lock.close()
            models = {}
            for p in PLANES:
                m = UNet2D(1, 2, config.channels).to(device)
                m.load_state_dict(state[p])
                models[p] = m.eval()
            yield MultiUNet(models)
            return
        zs, ms = _training_volumes(images, masks, brains, config)
        jobs = [delayed(_train_plane_job)(zs, ms, p, config, torch.get_num_threads()) for p in PLANES]
        training = MultiUNetTraining(jobs, path, release=lock.close)
        if device.type == "cpu":
            yield training
            return
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(PLANES) * config.epochs, desc="MultiUNet epochs (3 planes)")
        models = [train_plane_unet(zs, ms, p, config, device, bar) for p in PLANES]
        if bar is not None:
            bar.close()
        yield training.finish(models)


def train_multiunet(
    images,
    masks,
    brains,
    config: UNetConfig,
    device=None,
    cache: bool = True,
    progress: bool = True,
    n_jobs: int = 1,
) -> MultiUNet:
    """Train (or load from the ``mri/unet`` entries of :mod:`lsa.cache`) the three plane UNets on the subjects.

    ``n_jobs`` > 1 trains the planes in that many worker processes (CPU only), each with the caller's number of
    torch threads; the weights are the same as with ``n_jobs=1`` (each plane seeds its own training), so
    ``n_jobs`` is not part of the cache key. See :func:`multiunet_training` for the cache.
    """
    if not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be an integer >= 1, got {n_jobs!r}")
    with multiunet_training(images, masks, brains, config, device, cache, progress) as got:
        if isinstance(got, MultiUNet):
            return got
        runs = Parallel(n_jobs=min(n_jobs, len(got.jobs)), return_as="generator")(got.jobs)
        if progress:
            from tqdm.auto import tqdm

            runs = tqdm(runs, total=len(got.jobs), desc="MultiUNet planes")
        return got.finish(list(runs))


def _train_plane_job(images, masks, plane: str, config: UNetConfig, threads: int) -> UNet2D:
    torch.set_num_threads(threads)
    return train_plane_unet(images, masks, plane, config)


def _training_volumes(images, masks, brains, config: UNetConfig) -> tuple[list, list]:
    """Z-scored images and masks, padded to the UNets' divisor."""
    div = 2 ** (len(config.channels) - 1)
    zs = [pad_to(zscore_in_mask(im, b), div)[0] for im, b in zip(images, brains)]
    ms = [pad_to(m.astype(np.int64), div)[0] for m in masks]
    return zs, ms
