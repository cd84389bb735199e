"""Part I — layerwise alignment (flag varieties, arXiv 2605.09861): imbalance, commutators, levels, training."""
