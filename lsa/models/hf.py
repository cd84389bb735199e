"""Offline Hugging Face loading: every ``from_pretrained`` of the library goes through :func:`from_local`.

Nothing is ever downloaded from a model hub: ``local_files_only=True`` is passed on every call (and
``HF_HUB_OFFLINE`` set), so a model or tokenizer is read from a local folder, a package that ships it, or a
Hugging Face cache filled beforehand, whatever else ran in the same process.
"""

from __future__ import annotations

import os


def from_local(auto_class, name_or_path, **kwargs):
    """``auto_class.from_pretrained(name_or_path, local_files_only=True, **kwargs)``, offline by construction.

    Parameters
    ----------
    auto_class : type
        A ``transformers`` class with ``from_pretrained`` (``AutoModel``, ``AutoTokenizer``, ``AutoConfig``, ...).
    name_or_path : str or Path
        A local folder, or the id of a model already in the local Hugging Face cache.

    Raises
    ------
    OSError
        Naming the model and saying that it must be available locally.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if kwargs.get("local_files_only") is False:
        raise ValueError("from_local never downloads: do not pass local_files_only=False")
    kwargs["local_files_only"] = True
    try:
        return auto_class.from_pretrained(str(name_or_path), **kwargs)
    except OSError as err:
        raise OSError(
            f"{getattr(auto_class, '__name__', auto_class)} {str(name_or_path)!r} is not available offline "
            f"(give a local folder, or put the model in the local Hugging Face cache first): {err}"
        ) from err
