"""Part II — Geometric and Spectral Alignment (GSA I & II): spectra, Gibbs–Cartan fits, effective-rank
windows, interface transport, the Physical Alignment Matrix (PAM) and its static certificate radius.

Definitions, bounds and choices: the GSA reconstruction page of the book. Modules (flat, named after what they compute):

* :mod:`lsa.gsa.config` — every convention of our reconstruction in one dataclass (:class:`GSAConfig`);
* :mod:`lsa.gsa.gibbs_cartan` — orbit, harmonic numbers, Fisher / Bures–Wasserstein, tails, fit;
* :mod:`lsa.gsa.spectra` — Frobenius-normalised spectra, sign convention, degenerate clusters, Hutchinson and
  Hutch++ Frobenius estimates;
* :mod:`lsa.gsa.windows` — effective ranks and dominant windows (gap snapping);
* :mod:`lsa.gsa.jacobian` — mean broadcast channel Jacobians as JVP/VJP ``LinearOperator`` s, per-sample
  Jacobians and the Gram-average spectrum;
* :mod:`lsa.gsa.factors` — factor extraction from models (mode S: folded weights; mode J: Jacobians);
* :mod:`lsa.gsa.transport` — interface transport, incidence matrices, truncation bounds T1/T2;
* :mod:`lsa.gsa.pam` — row groups (argmax, blocks, spectral clustering), supports, masks, graphs, SRS sets,
  hubs, block-energy heatmaps;
* :mod:`lsa.gsa.certificate` — margins, radius T4, column-refined test, constructive flips, soundness tests;
* :mod:`lsa.gsa.labels` — SC/SA/ST labels, T5 margins, label perturbation tests;
* :mod:`lsa.gsa.protocol` — the margin protocol P0–P12 as one JSON-serialisable report;
"""
