"""The book's one figure style: theme, colour-blind palette, figure sizes and axis-label helpers.

Every chapter calls :func:`use_book_style` once, right after its imports, and sizes its figures with
:func:`figsize`, so that all four parts look alike and every figure fits the page column (about 800 px wide
on a desktop, scaled down on a phone). Greek letters and units are written in labels with mathtext, e.g.
``label("weight decay", r"\\lambda")`` → ``"weight decay $\\lambda$"``.
"""

from __future__ import annotations

import matplotlib as mpl
import seaborn as sns

PALETTE = "colorblind"
"""seaborn's colour-blind-safe palette (Okabe–Ito-like), used for every categorical hue in the book."""

SEQUENTIAL = "viridis"
"""Perceptually uniform colour map for heatmaps of non-negative values."""

DIVERGING = "vlag"
"""Diverging colour map for signed values centred at zero."""

WIDTHS = {"column": 8.0, "wide": 11.0, "narrow": 5.5}
"""Figure widths in inches (at 100 dpi): one page column, a two-panel row, a small square-ish figure."""


def use_book_style() -> None:
    """Apply the book's matplotlib/seaborn style (idempotent; call once per chapter)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "figure.constrained_layout.use": True,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "legend.title_fontsize": 9,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "image.cmap": SEQUENTIAL,
        }
    )


def figsize(width: str = "column", aspect: float = 0.5, rows: int = 1) -> tuple[float, float]:
    """A figure size that fits the page: ``width`` in :data:`WIDTHS`, height = width × aspect × rows.

    Parameters
    ----------
    width : {"column", "wide", "narrow"}
        Named width.
    aspect : float
        Height / width of one row of panels, > 0.
    rows : int
        Number of panel rows, ≥ 1.
    """
    if width not in WIDTHS:
        raise ValueError(f"width must be one of {sorted(WIDTHS)}, got {width!r}")
    if not aspect > 0 or rows < 1:
        raise ValueError(f"aspect must be > 0 and rows ≥ 1, got aspect={aspect!r}, rows={rows!r}")
    w = WIDTHS[width]
    return (w, w * aspect * rows)


def label(name: str, symbol: str = "", unit: str = "") -> str:
    """An axis label: ``name``, then the mathtext ``symbol`` and the ``unit`` in brackets when given.

    >>> label("weight decay", r"\\lambda")
    'weight decay $\\\\lambda$'
    >>> label("wall time", unit="s")
    'wall time [s]'
    """
    out = name
    if symbol:
        out += f" ${symbol}$"
    if unit:
        out += f" [{unit}]"
    return out


def panel_grid(n: int, max_cols: int = 4, width: str = "column", aspect: float = 1.0) -> tuple[int, int, tuple]:
    """Rows, columns and figure size for ``n`` panels wrapped into rows of at most ``max_cols``.

    Many small heatmaps in one row become unreadable at page width; wrapping them keeps each panel at least
    ``WIDTHS[width] / max_cols`` inches wide.

    Parameters
    ----------
    n : int
        Number of panels, ≥ 1.
    max_cols : int
        Most panels in one row, ≥ 1.
    width : {"column", "wide", "narrow"}
        Named width of the whole figure.
    aspect : float
        Height / width of one panel, > 0.

    Returns
    -------
    rows, cols : int
    size : tuple of float
        ``(width, height)`` in inches, for ``plt.subplots(rows, cols, figsize=size)``.

    >>> panel_grid(14, max_cols=4)
    (4, 4, (8.0, 8.0))
    """
    if n < 1 or max_cols < 1:
        raise ValueError(f"n and max_cols must be ≥ 1, got n={n!r}, max_cols={max_cols!r}")
    cols = min(n, max_cols)
    rows = -(-n // cols)
    w, _ = figsize(width, 1.0)
    return rows, cols, (w, w / cols * aspect * rows)
