"""Test-session settings shared by every test file.

Small models and matrices run fastest, and most reproducibly, on one CPU thread: torch is pinned here at import
(before pytest collects any test module) and the BLAS / OpenMP pools by the session fixture below. A module
that needs other settings changes them in a module-scoped fixture that restores them afterwards
(``tests/test_prune_pipeline.py``, ``tests/test_mri_ml.py``), never at import time.
"""

import pytest
import torch
from threadpoolctl import threadpool_limits

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """One BLAS / OpenMP thread for the whole session (numpy's dense references run beside torch)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def site():
    """The rendered site at the ``smoke`` profile (``_build/html``), built once for test_book and test_site.

    Chapters run (or are reused) with the keys tests/test_chapters.py makes, so each executes once a session.
    """
    from lsa.runner.book import build_book

    return build_book(profile="smoke", progress=False).parent
