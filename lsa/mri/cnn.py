"""A small 3D CNN on the segmented white matter.

Input: the brain-z-scored T1w times the WM mask (zero elsewhere), one channel, at 4 mm on CPU (2 mm
volumes are average-pooled by 2). Architecture: four [Conv3d 3^3 -> InstanceNorm -> ReLU -> MaxPool 2]
blocks (8, 16, 32, 64 channels), global average pooling, dropout 0.3, Linear(64 -> 2).

"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class CNNConfig:
    """Training settings."""

    channels: tuple = (8, 16, 32, 64)
    epochs: int = 40
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    flip: bool = True  # left-right flip augmentation (the simulated effect is symmetric)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class WMNet3D(nn.Module):
    """3D CNN classifier of WM-masked volumes."""

    def __init__(self, channels=(8, 16, 32, 64), dropout: float = 0.3):
        super().__init__()
        layers, cin = [], 1
        for c in channels:
            layers += [
                nn.Conv3d(cin, c, 3, padding=1),
                nn.InstanceNorm3d(c, affine=True),
                nn.ReLU(inplace=True),
                nn.MaxPool3d(2, ceil_mode=True),
            ]
            cin = c
        self.features = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"WMNet3D expects (batch, 1, X, Y, Z), got {tuple(x.shape)}")
        return self.fc(self.drop(self.features(x).mean(dim=(2, 3, 4))))


def wm_input(
    image: np.ndarray, brain: np.ndarray, wm: np.ndarray, resolution_mm: int, target_mm: int = 4
) -> np.ndarray:
    """The CNN input: brain-z-scored image times the WM mask, average-pooled to ``target_mm`` (float32).

    ``target_mm`` must be a multiple of ``resolution_mm`` (4 mm or 8 mm on a CPU).
    """
    if target_mm % resolution_mm:
        raise ValueError(f"target_mm={target_mm} must be a multiple of resolution_mm={resolution_mm}")
    v = image[brain]
    z = np.where(wm > 0, (image - v.mean()) / (v.std() + 1e-8), 0.0).astype(np.float32)
    if target_mm > resolution_mm:
        k = target_mm // resolution_mm
        z = F.avg_pool3d(torch.from_numpy(z)[None, None], k, ceil_mode=True)[0, 0].numpy()
    return z


def train_cnn(X: np.ndarray, y: np.ndarray, config: CNNConfig, device=None) -> WMNet3D:
    """Train :class:`WMNet3D` on ``X`` (n, X, Y, Z) with labels ``y`` (cross-entropy, Adam)."""
    X, y = np.asarray(X, np.float32), np.asarray(y)
    if X.ndim != 4 or len(X) != len(y):
        raise ValueError(f"X must be (n, X, Y, Z) matching y, got {X.shape} and {y.shape}")
    device = device or torch.device("cpu")
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = WMNet3D(config.channels, config.dropout).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    Xt, yt = torch.from_numpy(X)[:, None], torch.from_numpy(y).long()
    model.train()
    for _ in range(config.epochs):
        perm = torch.randperm(len(Xt), generator=gen)
        for s in range(0, len(Xt), config.batch_size):
            idx = perm[s : s + config.batch_size]
            xb = Xt[idx]
            if config.flip:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip[:, None, None, None, None], xb.flip(2), xb)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb.to(device)), yt[idx].to(device))
            loss.backward()
            opt.step()
    model.eval()
    return model


@torch.no_grad()
def predict_proba(model: WMNet3D, X: np.ndarray, batch: int = 8) -> np.ndarray:
    """P(ASD) for each volume of ``X`` (n, X, Y, Z)."""
    dev = next(model.parameters()).device
    Xt = torch.from_numpy(np.asarray(X, np.float32))[:, None]
    return torch.cat(
        [model(Xt[s : s + batch].to(dev)).softmax(1)[:, 1].cpu() for s in range(0, len(Xt), batch)]
    ).numpy()


def holdout_cnn(X, y, train, test, config: CNNConfig, device=None) -> dict:
    """Train on ``train`` subjects, evaluate on ``test`` (disjoint): metrics with a Wilson CI."""
    from lsa.mri.classify import binary_metrics

    if set(np.asarray(train).tolist()) & set(np.asarray(test).tolist()):
        raise ValueError("train and test share subjects")
    X, y = np.asarray(X), np.asarray(y)
    model = train_cnn(X[train], y[train], config, device)
    p = predict_proba(model, X[test])
    pred = (p >= 0.5).astype(int)
    return binary_metrics(y[test], pred, p) | dict(pred=pred)
