"""Build the committed English text snapshot ``data/text/docs.jsonl.gz`` from installed packages.

The snapshot is real human-written English: the Python reference-manual topics shipped with CPython
(``pydoc_data/topics.py``) and the docstrings of the standard library and of a few scientific packages
installed in the project's environment. One *document* is one help topic or one source module (its module,
class and function docstrings joined by blank lines). Documents are read with :mod:`ast` (nothing is
imported or executed), cleaned (doctest lines dropped, whitespace normalised) and written in a stable order,
so the same installed versions give byte-identical output.

Run ``python -m lsa.data.text_snapshot`` to regenerate it, then update ``data/SHA256SUMS``.
"""

from __future__ import annotations

import ast
import gzip
import importlib.metadata as md
import io
import json
import re
import sys
import sysconfig
from pathlib import Path

SNAPSHOT = "text/docs.jsonl.gz"

# (source name, distribution for version/licence, package folder finder, character budget, licence)
SOURCES = [
    ("python-docs-topics", None, "pydoc_topics", 900_000, "PSF-2.0 (Python documentation)"),
    ("python-stdlib", None, "stdlib", 900_000, "PSF-2.0"),
    ("numpy", "numpy", "numpy", 450_000, "BSD-3-Clause"),
    ("scipy", "scipy", "scipy", 450_000, "BSD-3-Clause"),
    ("pandas", "pandas", "pandas", 350_000, "BSD-3-Clause"),
    ("scikit-learn", "scikit-learn", "sklearn", 350_000, "BSD-3-Clause"),
]
MIN_DOC_CHARS = 400


def _clean(text: str) -> str:
    """Drop doctest lines and table rules, normalise whitespace; keep paragraph breaks."""
    out = []
    skip_output = False
    for line in text.expandtabs(4).splitlines():
        s = line.strip()
        if s.startswith(">>>") or s.startswith("... "):
            skip_output = True
            continue
        if skip_output and s:
            continue  # doctest output lines follow a prompt until a blank line
        skip_output = False
        if s and set(s) <= set("=-~^*+#|` "):
            continue
        out.append(s)
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"[ \t]+", " ", text)
    return text.strip()


def _module_docstrings(path: Path) -> str:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return ""
    parts = []
    for node in [tree, *ast.walk(tree)]:
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc and len(doc) >= 80:
                parts.append(_clean(doc))
    seen, uniq = set(), []
    for p in parts:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    return "\n\n".join(uniq)


def _package_dir(finder: str) -> Path:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if finder in ("stdlib", "pydoc_topics"):
        return stdlib
    import importlib.util

    spec = importlib.util.find_spec(finder)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"package {finder!r} is needed to build the text snapshot")
    return Path(spec.origin).parent


def _documents(name: str, finder: str, budget: int) -> list[dict]:
    docs: list[dict] = []
    total = 0
    if finder == "pydoc_topics":
        path = _package_dir(finder) / "pydoc_data" / "topics.py"
        topics = ast.literal_eval(ast.parse(path.read_text(encoding="utf-8")).body[-1].value)
        items = sorted(topics.items())
        for key, text in items:
            text = _clean(text)
            if len(text) >= MIN_DOC_CHARS and total < budget:
                docs.append({"id": f"{name}:{key}", "source": name, "text": text})
                total += len(text)
        return docs
    root = _package_dir(finder)
    files = sorted(
        p
        for p in root.rglob("*.py")
        if not any(
            part
            in {
                "tests",
                "test",
                "idlelib",
                "site-packages",
                "__pycache__",
                "lib2to3",
                "turtledemo",
                "_vendor",
                "externals",
            }
            for part in p.relative_to(root).parts
        )
    )
    for path in files:
        if total >= budget:
            break
        text = _module_docstrings(path)
        if len(text) >= MIN_DOC_CHARS:
            rel = path.relative_to(root).as_posix()
            docs.append({"id": f"{name}:{rel}", "source": name, "text": text})
            total += len(text)
    return docs


def build_snapshot(out_dir: Path | None = None) -> Path:
    """Regenerate ``data/text/docs.jsonl.gz`` and ``data/text/SOURCES.json``; return the snapshot path.

    Builds the data of the chapter pruning_perplexity (Part III); run by a maintainer, not by chapters.
    """
    from lsa.data.checksums import DATA_DIR

    out_dir = Path(out_dir) if out_dir is not None else DATA_DIR / "text"
    out_dir.mkdir(parents=True, exist_ok=True)
    all_docs, meta = [], []
    for name, dist, finder, budget, licence in SOURCES:
        docs = _documents(name, finder, budget)
        version = md.version(dist) if dist else sys.version.split()[0]
        meta.append(
            {
                "source": name,
                "version": version,
                "licence": licence,
                "documents": len(docs),
                "characters": sum(len(d["text"]) for d in docs),
            }
        )
        all_docs.extend(docs)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        for d in all_docs:
            gz.write((json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    path = out_dir / "docs.jsonl.gz"
    path.write_bytes(buf.getvalue())
    (out_dir / "SOURCES.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


if __name__ == "__main__":
    p = build_snapshot()
    print(p, p.stat().st_size, "bytes")
