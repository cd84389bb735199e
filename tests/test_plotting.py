"""The book style's sizing helpers (closed forms)."""

import pytest

from lsa.plotting import WIDTHS, figsize, label, panel_grid


def test_figsize_and_label():
    assert figsize("wide", 0.5, rows=2) == (WIDTHS["wide"], WIDTHS["wide"])
    assert label("wall time", unit="s") == "wall time [s]"
    with pytest.raises(ValueError, match="width must be one of"):
        figsize("huge")


@pytest.mark.parametrize(
    "n, max_cols, rows, cols", [(1, 4, 1, 1), (4, 4, 1, 4), (5, 4, 2, 4), (14, 4, 4, 4), (14, 5, 3, 5)]
)
def test_panel_grid_wraps_rows_and_keeps_panels_wide(n, max_cols, rows, cols):
    r, c, (w, h) = panel_grid(n, max_cols=max_cols, aspect=0.8)
    assert (r, c) == (rows, cols) and r * c >= n > (r - 1) * c
    assert w == WIDTHS["column"] and h == pytest.approx(w / c * 0.8 * r)


def test_panel_grid_rejects_no_panels():
    with pytest.raises(ValueError, match="n and max_cols must be"):
        panel_grid(0)
