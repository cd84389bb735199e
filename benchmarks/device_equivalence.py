"""Do the library's device-aware paths give the same numbers on CUDA as on the CPU? (run on a GPU machine)

The chapters take ``device="auto"`` and claim to run unchanged on both; this script checks it numerically
for the paths that move tensors to the device, and prints one line per check (max abs/rel difference,
both wall times). With no GPU it says so and exits 0. Usage: ``python benchmarks/device_equivalence.py``.

Checks: (1) ridge training (``train_mlp``, float64 SGD with coupled decay, the ridge/commutator chapters)
— the logged imbalance and commutator agree to 1e-9 relative; (2) the mean channel Jacobian of a float64
conv block (``MeanChannelJacobian``, Part II) — dense matrices agree to 1e-10; (3) randomized block Krylov
SVD of that operator on CUDA against the dense CPU SVD — top-8 angle < 1e-8 rad; (4) the segmentation
UNet (Part IV) — one float64 SGD step from the same initialisation agrees to 1e-8.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def check_ridge():
    from lsa.alignment.training import TrainConfig, teacher_regression, train_mlp

    X, Y = teacher_regression(seed=0)
    cfg = dict(
        widths=(X.shape[1], 32, 32, Y.shape[1]),
        activation="tanh",
        steps=400,
        lr=0.05,
        weight_decay=0.01,
        log_every=50,
        seed=0,
    )
    (_, cpu), t_cpu = _timed(lambda: train_mlp(X, Y, TrainConfig(**cfg, device="cpu")))
    (_, gpu), t_gpu = _timed(lambda: train_mlp(X, Y, TrainConfig(**cfg, device="cuda")))
    cols = [c for c in cpu.columns if c.startswith(("delta_total", "comm_", "loss"))]
    rel = float(
        np.max(np.abs(cpu[cols].to_numpy() - gpu[cols].to_numpy()) / np.maximum(np.abs(cpu[cols].to_numpy()), 1e-300))
    )
    return {
        "check": "train_mlp (ridge, tanh, 400 steps, float64)",
        "max_rel_diff": rel,
        "ok": rel < 1e-9,
        "cpu_s": t_cpu,
        "cuda_s": t_gpu,
    }


def _conv_block(dev):
    torch.manual_seed(0)
    block = (
        torch.nn.Sequential(
            torch.nn.Conv2d(16, 24, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(24, 16, 3, padding=1)
        )
        .double()
        .eval()
        .to(dev)
    )
    x = torch.randn(8, 16, 12, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(dev)
    return block, x


def check_jacobian():
    from lsa.gsa.jacobian import MeanChannelJacobian
    from lsa.linalg import principal_angles, randomized_svd

    (A_cpu), t_cpu = _timed(lambda: MeanChannelJacobian(*_conv_block("cpu"), channel_dim=1).dense())
    block, x = _conv_block("cuda")
    op = MeanChannelJacobian(block, x, channel_dim=1)
    A_gpu, t_gpu = _timed(op.dense)
    diff = float(np.max(np.abs(A_cpu - A_gpu)))
    U, s, Vt = randomized_svd(op, 8, oversample=6, n_iter=3, seed=0, blas_threads=1)
    Ud, sd, Vtd = np.linalg.svd(A_cpu)
    angle = float(max(principal_angles(U, Ud[:, :8]).max(), principal_angles(Vt.T, Vtd[:8].T).max()))
    return [
        {
            "check": "MeanChannelJacobian dense (conv block, float64)",
            "max_abs_diff": diff,
            "ok": diff < 1e-10,
            "cpu_s": t_cpu,
            "cuda_s": t_gpu,
        },
        {
            "check": "randomized_svd on the CUDA operator vs dense CPU SVD (top 8)",
            "max_angle_rad": angle,
            "sv_rel_err": float(np.max(np.abs(s - sd[:8]) / sd[:8])),
            "ok": angle < 1e-8,
        },
    ]


def check_unet_step():
    from lsa.mri.seg_unet import UNet2D

    def step(dev):
        torch.manual_seed(0)
        net = UNet2D(1, 3, (8, 16)).double().to(dev)
        x = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(dev)
        y = (torch.arange(4 * 32 * 32) % 3).reshape(4, 32, 32).to(dev)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return torch.cat([p.detach().flatten().cpu() for p in net.parameters()]).numpy()

    a, t_cpu = _timed(lambda: step("cpu"))
    b, t_gpu = _timed(lambda: step("cuda"))
    diff = float(np.max(np.abs(a - b)))
    return {
        "check": "segmentation UNet2D, one SGD step (float64)",
        "max_abs_diff": diff,
        "ok": diff < 1e-8,
        "cpu_s": t_cpu,
        "cuda_s": t_gpu,
    }


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device visible: nothing to compare (run this on a GPU machine)")
        return 0
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    results = []
    for fn in (check_ridge, check_jacobian, check_unet_step):
        try:
            r = fn()
            results += r if isinstance(r, list) else [r]
        except Exception as err:  # report and go on: one broken path must not hide the others
            results.append({"check": fn.__name__, "ok": False, "error": f"{type(err).__name__}: {err}"})
    for r in results:
        print(json.dumps(r))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
