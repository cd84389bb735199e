"""WikiText-2 from local files in its published formats (no download).

Accepted inputs: the raw release (``wikitext-2-raw-v1.zip`` extracted: a folder with ``wiki.test.raw`` /
``wiki.valid.raw`` / ``wiki.train.raw``, or one such file; the tokenised release's ``wiki.*.tokens`` read the
same way), or the Hugging Face parquet file (``wikitext-2-raw-v1/test-00000-of-00001.parquet``, column
``text``; needs ``pyarrow``). Lines are returned as the Hugging Face ``datasets`` builder yields them: each
non-blank line with its trailing newline, blank lines as ``""``. The evaluation text is
``"\\n\\n".join(lines)`` (the Wanda and SparseGPT evaluation).
"""

from __future__ import annotations

from pathlib import Path

SPLIT_FILES = {"test": "wiki.test", "validation": "wiki.valid", "train": "wiki.train"}


def _resolve(path: Path, split: str) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        stem = SPLIT_FILES[split]
        for cand in [
            path / f"{stem}.raw",
            path / "wikitext-2-raw" / f"{stem}.raw",
            path / f"{stem}.tokens",
            path / "wikitext-2" / f"{stem}.tokens",
            *sorted(path.glob(f"{split}-*.parquet")),
            *sorted(path.glob(f"wikitext-2-raw-v1/{split}-*.parquet")),
        ]:
            if cand.is_file():
                return cand
        raise FileNotFoundError(
            f"no WikiText-2 {split} file in {path}: expected {stem}.raw, {stem}.tokens or {split}-*.parquet"
        )
    raise FileNotFoundError(f"WikiText-2 path {path} does not exist")


def load_wikitext2(path: str | Path, split: str = "test") -> list[str]:
    """Lines of a WikiText-2 split, as the Hugging Face builder yields them.

    Parameters
    ----------
    path : path-like
        A ``.raw`` / ``.tokens`` / ``.parquet`` file or a folder holding one (see module docstring).
    split : {"test", "validation", "train"}

    Raises
    ------
    ValueError
        Unknown split, or a file with no text.
    FileNotFoundError
        Missing path or file.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {tuple(SPLIT_FILES)}, got {split!r}")
    file = _resolve(Path(path), split)
    if file.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                f"reading {file} needs pyarrow (pip install pyarrow), or pass the "
                f"raw release's wiki.{split}.raw instead"
            ) from None
        table = pq.read_table(file, columns=["text"])
        lines = [str(t) for t in table.column("text").to_pylist()]
    else:
        with open(file, encoding="utf-8", newline="") as f:
            lines = [row if row.strip() else "" for row in f]
    if not any(line.strip() for line in lines):
        raise ValueError(f"WikiText-2 file {file} holds no text")
    return lines


def wikitext_eval_text(lines: list[str]) -> str:
    """The evaluation string ``"\\n\\n".join(lines)`` (Wanda / SparseGPT protocol)."""
    text = "\n\n".join(lines)
    if not text.strip():
        raise ValueError("the WikiText evaluation text is empty")
    return text
