"""The chapter ``asd_pipeline`` from nothing: its former schedule against one worker pool per stage.

Two stages, each timed both ways in one run, with the same code computing the same numbers:

1. **MultiUNet and measurements.** Former: train the three plane UNets (``n_jobs`` workers, so on two workers
   one plane trains alone at the end), then measure every subject. Now: the planes go first into the
   measurement pool and a worker without a plane measures what needs no MultiUNet mask meanwhile
   (:func:`lsa.experiments.asd_pipeline.segment_and_measure`). Each path starts from an empty cache.
2. **Model fits.** Former: one pool per comparison (E7: three masks, E8: six inputs, one of them E7's oracle
   again, E9: the CNN's folds). Now: one pool for all of them, the CNN's folds first
   (:func:`lsa.experiments.asd_pipeline.evaluate`).

It prints the seconds of each path and the ratio former / now. Timings are wall-clock on whatever else the
machine is doing: on a shared CPU, read the ratios, not the seconds. ``--subjects`` sets the classification
cohort (the chapter has 190); the MultiUNet has the chapter's default settings.

Usage: python benchmarks/bench_asd_pipeline.py [--subjects 60] [--n-jobs 2] [--cnn-epochs 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=60)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--cnn-epochs", type=int, default=30)
    args = ap.parse_args()
    import torch

    from lsa.experiments import asd_pipeline as AP
    from lsa.experiments.asd_classification import CVSettings
    from lsa.experiments.asd_segmentation import segmentation_cohort, train_segmenter
    from lsa.mri.cnn import CNNConfig
    from lsa.mri.measure import MeasurementPlan, measure_cohort
    from lsa.mri.segment import UNetConfig
    from lsa.mri.simulate import SimConfig, calibrate

    torch.set_num_threads(1)
    d, cnn_mm = 2.0, 8
    cfg = SimConfig(n_subjects=args.subjects, resolution_mm=4, n_pilot=8)
    seg_cfg = SimConfig(resolution_mm=4, n_pilot=8)
    per_d, seg_delta = calibrate(cfg).delta_per_d, calibrate(seg_cfg).delta(1.0)
    ucfg = UNetConfig(channels=(16, 32, 64), epochs=8)
    plan = MeasurementPlan(
        d_values=(d,),
        delta_per_d=per_d,
        shape=True,
        d_extra=d,
        extra_masks=("intensity", "gm", "multiunet"),
        cnn_target_mm=(cnn_mm,),
        cnn_masks=("multiunet",),
    )

    os.environ["LSA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_asd_former_")
    t0 = time.perf_counter()
    seg = train_segmenter(segmentation_cohort(seg_cfg, seg_delta, 12, 5), ucfg, progress=False, n_jobs=args.n_jobs)
    M = measure_cohort(cfg, plan, segmenter=seg, n_jobs=args.n_jobs, progress=False)
    t_former = time.perf_counter() - t0
    os.environ["LSA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_asd_now_")
    t0 = time.perf_counter()
    AP.segment_and_measure(cfg, d, per_d, cnn_mm, seg_cfg, seg_delta, 12, 5, ucfg, n_jobs=args.n_jobs)
    t_now = time.perf_counter() - t0

    S = CVSettings(folds=5, n_jobs=args.n_jobs)
    ccfg = CNNConfig(epochs=args.cnn_epochs)
    masks = {m: M.features[(m, d)] for m in AP.MASKS}
    groups = {f"WM: {g}": AP.feature_group(M, d, g) for g in AP.GROUPS}
    t0 = time.perf_counter()
    AP.evaluate(M, masks, S)
    AP.evaluate(M, {"WM (oracle)": masks["oracle"], "GM": M.features[("gm", d)]} | groups, S)
    AP.evaluate(M, {}, S, cnn_input=("multiunet", cnn_mm), cnn_config=ccfg)
    f_former = time.perf_counter() - t0
    t0 = time.perf_counter()
    AP.evaluate(M, masks | {"GM": M.features[("gm", d)]} | groups, S, ("multiunet", cnn_mm), ccfg)
    f_now = time.perf_counter() - t0

    print(f"{args.subjects} subjects at 4 mm, {args.n_jobs} workers, CNN {args.cnn_epochs} epochs")
    print(f"MultiUNet + measurements: former {t_former:6.1f} s, now {t_now:6.1f} s, ratio {t_former / t_now:5.2f}")
    print(f"model fits:               former {f_former:6.1f} s, now {f_now:6.1f} s, ratio {f_former / f_now:5.2f}")


if __name__ == "__main__":
    main()
