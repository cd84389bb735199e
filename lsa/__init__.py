"""lsa — the library behind the companion book.

All computation of the book lives here; the chapters in ``notebooks/`` only call it and plot.
Subpackages: ``linalg`` (shared linear algebra), ``alignment`` (Part I), ``runner`` (chapter runner,
claims ledger, book build), ``models`` and ``data``. Parts II–IV add their own subpackages.
"""

from lsa.device import device
from lsa.report import save_figure, write_metrics

__version__ = "0.1.0"
__all__ = ["device", "save_figure", "write_metrics", "__version__"]

# There is deliberately no ``lsa.diagnose`` shortcut: every chapter imports ``lsa``, so anything this file imports
# (even lazily, inside a module ``__getattr__``) enters every chapter's static import closure and therefore every
# run key. Use ``from lsa.alignment.diagnose import diagnose``.
