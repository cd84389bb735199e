"""Part III: post-training pruning with statistical correction (CVR + EC) and its baselines.

Modules: :mod:`~lsa.prune.calibration` (blocks, capture/replay, float64 channel statistics),
:mod:`~lsa.prune.scores` (magnitude, Wanda, RIA, the CVR family), :mod:`~lsa.prune.masks` (per row, per
layer, N:M), :mod:`~lsa.prune.sparsegpt` (OBS reconstruction), :mod:`~lsa.prune.compensation` (EC),
:mod:`~lsa.prune.pipeline` (the sequential pruner with timing), :mod:`~lsa.prune.perplexity` (standard
protocol, calibration sampling), :mod:`~lsa.prune.fidelity` (encoder fidelity, retrieval),
:mod:`~lsa.prune.outliers` (controlled outlier layer), :mod:`~lsa.prune.experiment` (grid, timing, checks),
:mod:`~lsa.prune.reference` (published baseline numbers), :mod:`~lsa.prune.setups` (model set-ups),
:mod:`~lsa.prune.comparisons` (metric names of a grid), :mod:`~lsa.prune.zeroshot` (multiple-choice accuracy).
"""
