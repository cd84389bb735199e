"""Driver of the head-overlap chapter: MLP write → next-layer read shares and the activation-space validation.

* :func:`mlp_write_read` turns the ``mlp_write_read`` rows of :func:`lsa.alignment.diagnose.diagnose` into ratios
  to their chance level, one row per (layer, read matrix).
* :func:`cka_validation` draws a seeded sample of real sentences, computes linear CKA between consecutive layers
  and the Spearman correlations (with exact permutation p-values) of the weight-only diagnostics with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lsa.alignment.cka import consecutive_cka, spearman_table, token_hidden_states
from lsa.data.text import load_documents, sentences

DIAGNOSTICS = ("mlp_level2", "mlp_comm", "ov_comm", "qk_comm", "overlap_o", "overlap_q")
"""Per-layer weight-only diagnostics correlated with CKA (the first, the MLP pair's Level 2, is the primary one)."""


def mlp_write_read(diag: pd.DataFrame, label: str) -> pd.DataFrame:
    """Read-energy share on the MLP write subspace divided by its chance level, per layer and read matrix."""
    mw = diag[diag.kind == "mlp_write_read"]
    if mw.empty:
        raise ValueError("the diagnose table has no mlp_write_read rows (not a transformer with MLP blocks?)")
    chance = mw[mw.metric == "chance"].set_index("layer").value
    out = mw[mw.metric == "read_energy_on_write"].copy()
    out["ratio"] = out.value.to_numpy() / chance.loc[out.layer].to_numpy()
    out["read"] = out.pair.str.replace("mlp->", "").str.replace("(next)", "")
    return out.assign(model=label)


def cka_validation(model, tokenizer, summary: pd.DataFrame, n_sentences: int, max_length: int, seed: int = 0):
    """Linear CKA of consecutive layers on ``n_sentences`` seeded real sentences and its Spearman table.

    Returns ``(cka, table)``: the list of ``CKA(h_l, h_{l+1})`` and :func:`lsa.alignment.cka.spearman_table` of
    :data:`DIAGNOSTICS` (columns ``rho``, ``p``, ``p_perm``).
    """
    rng = np.random.default_rng(seed)
    pool = sentences(load_documents())
    probe = [pool[i] for i in rng.choice(len(pool), size=min(n_sentences, len(pool)), replace=False)]
    cka = consecutive_cka(token_hidden_states(model, tokenizer, probe, max_length=max_length))
    return cka, spearman_table(summary, cka, list(DIAGNOSTICS))
