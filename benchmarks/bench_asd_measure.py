"""Per-subject measurements of ``asd_classification``: the chapter's former path vs one render per subject.

The former chapter rendered every subject once per analysis: for the radiomics at all effect sizes, once
more per site agreement (each a full two-site cohort) and once more for the CNN inputs.
:func:`lsa.mri.measure.measure_cohort` renders each subject once and derives every quantity from that render
(identical numbers: tests/test_mri_measure.py). This script times both, with the one implementation:
the former path as one :func:`~lsa.mri.measure.measure_cohort` call per analysis, each with only that
analysis in its plan, against one call with the whole plan, for ``--subjects`` subjects of the default cohort
settings (2 mm, five effect sizes, three site agreements, CNN inputs at 8 mm), caching off, one process. A plan
needs at least one effect size, so the former path's CNN call also extracts radiomics once per subject, which
the former code did not: its time is overstated by that one of the 5 to 9 extractions per subject. It
prints the seconds per subject of each and their ratio; the cost per subject is constant, so a few subjects
give the ratio of the full cohort.

Timings are wall-clock on whatever else the machine is doing: on a shared CPU, read the ratio, not the
seconds.

Usage: python benchmarks/bench_asd_measure.py [--subjects 4] [--resolution 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

D_VALUES = (0.0, 0.5, 1.0, 2.0, 3.0)
AGREEMENTS = (0.5, 0.8, 0.95)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--resolution", type=int, default=2)
    args = ap.parse_args()
    os.environ["LSA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_asd_")  # every entry is computed afresh
    import torch

    from lsa.mri.measure import MeasurementPlan, measure_cohort
    from lsa.mri.simulate import SimConfig, calibrate, load_template

    torch.set_num_threads(1)
    cfg = SimConfig(n_subjects=args.subjects, resolution_mm=args.resolution, n_pilot=3)
    load_template(args.resolution)  # template loading is shared by both paths
    cal = calibrate(cfg)

    per_d = cal.delta_per_d
    t0 = time.perf_counter()
    measure_cohort(cfg, MeasurementPlan(d_values=D_VALUES, delta_per_d=per_d), cache=False, progress=False)
    for _ in AGREEMENTS:  # each agreement: both sites rendered again, radiomics at d = 0
        site_plan = MeasurementPlan(d_values=(0.0,), delta_per_d=per_d, site_variant=True)
        measure_cohort(cfg, site_plan, cache=False, progress=False)
    cnn_plan = MeasurementPlan(d_values=(1.0,), delta_per_d=per_d, d_extra=1.0, cnn_target_mm=(8,))
    measure_cohort(cfg, cnn_plan, cache=False, progress=False)
    t_old = time.perf_counter() - t0

    plan = MeasurementPlan(d_values=D_VALUES, delta_per_d=per_d, site_variant=True, d_extra=1.0, cnn_target_mm=(8,))
    t0 = time.perf_counter()
    measure_cohort(cfg, plan, cache=False, progress=False)
    t_new = time.perf_counter() - t0

    n = args.subjects
    print(f"{n} subjects at {args.resolution} mm, {len(D_VALUES)} effect sizes, {len(AGREEMENTS)} site agreements")
    print(f"former path (render per analysis): {t_old / n:6.2f} s per subject")
    print(f"one render per subject:            {t_new / n:6.2f} s per subject")
    print(f"ratio former / new:                {t_old / t_new:6.2f}")


if __name__ == "__main__":
    main()
