"""Pyradiomics' 3D shape features of a white-matter mask: a stock extractor against :mod:`lsa.mri.shape`.

A stock Pyradiomics 3.0.1 extractor finds its four maximum diameters by comparing every pair of mesh vertices;
:func:`lsa.mri.shape.shape_features` compares only convex-hull vertices and sums area and volume from
per-configuration tables. Both are timed in one run, alternately (stock, ours, stock, ours, ...), on the
ground-truth WM mask of simulated subjects at each ``--resolutions`` voxel size, and the script prints the
median seconds of each, their ratio stock / ours, and the largest relative difference over the 14 features (the
two must agree: tests/test_mri_shape.py).

Timings are wall-clock on whatever else the machine is doing: on a shared CPU, read the ratio, not the seconds.

Usage: python benchmarks/bench_shape.py [--resolutions 4 2] [--subjects 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[4, 2], help="voxel sizes in mm")
    ap.add_argument("--subjects", type=int, default=2, help="simulated subjects per voxel size")
    ap.add_argument("--repeats", type=int, default=3, help="timings of each path per subject")
    args = ap.parse_args()
    if args.subjects < 1 or args.repeats < 1:
        ap.error("--subjects and --repeats must be at least 1")
    import logging

    from lsa.mri.radiomics import extract_features, make_extractor
    from lsa.mri.shape import shape_features
    from lsa.mri.simulate import SimConfig, render_subject

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    params = {"featureClass": {"shape": None}, "setting": {"label": 1}}
    stock_extractor = make_extractor(params, pyradiomics_shape=True)  # Pyradiomics' own shape class, built once
    head = ("voxel", 6), ("subject", 8), ("WM voxels", 10), ("stock s", 9), ("ours s", 9), ("stock/ours", 11)
    print(" ".join(f"{h:>{w}}" for h, w in head), f"{'max rel diff':>13}")
    for res in args.resolutions:
        cfg = SimConfig(resolution_mm=res)
        for idx in range(args.subjects):
            mask = render_subject(cfg, idx).gt_wm
            image = mask.astype("float32")  # shape features read only the mask; the extractor wants an image too
            t_stock, t_ours = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                stock = extract_features(image, mask, res, params, stock_extractor)
                t_stock.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                ours = shape_features(mask, res)
                t_ours.append(time.perf_counter() - t0)
            stock.pop("n_voxels")
            assert list(ours) == list(stock), "feature names or order differ"
            diff = max(abs(ours[k] - stock[k]) / max(abs(stock[k]), 1e-12) for k in stock)
            s, o = statistics.median(t_stock), statistics.median(t_ours)
            print(f"{res:>4}mm {idx:>8} {int(mask.sum()):>10} {s:>9.3f} {o:>9.3f} {s / o:>10.1f}x {diff:>13.1e}")


if __name__ == "__main__":
    main()
