"""lsa — the library behind the companion book.

All computation of the book lives here; the chapters in ``notebooks/`` only call it and plot.
Subpackages: ``linalg`` (shared linear algebra), ``alignment`` (Part I), ``runner`` (chapter runner,
claims ledger, book build), ``models`` and ``data``. Parts II–IV add their own subpackages.
"""

from lsa.device import device
from lsa.report import save_figure, write_metrics

__version__ = "0.1.0"
__all__ = ["device", "diagnose", "save_figure", "write_metrics", "__version__"]


def __getattr__(name):
    # ``lsa.diagnose`` is imported on first use: it pulls in the transformer layouts of Part I.
    if name == "diagnose":
        from lsa.alignment.diagnose import diagnose

        return diagnose
    raise AttributeError(f"module 'lsa' has no attribute {name!r}")
