"""The project stands on its own: nothing a reader sees points to a file outside the repository.

Scanned: the chapter sources and their claim ledgers (``notebooks/``), the book's pages (``book/``), the
library (``lsa/``) and, when it has been built, the rendered site (``_build/html``). A mention is a file name
with a known extension, a "spec §" or bare "§" section reference, an issue number, or a path into a shared
folder outside the repository. File names that the runner writes at run time (``metrics.json``, the
executed ``<chapter>.ipynb`` …) are allowed; so is any name of a file that the repository holds.
"""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Written by the runner or the book build, never committed: a reader meets them in run folders and downloads.
GENERATED = {
    "metrics.json",
    "params.json",
    "run.json",
    "claims.json",
    "report.json",
    "reproduction-status.md",
    "archived-runs.md",
    "abstract-verdicts.md",
    "library-use.md",
    "cite-entries.md",
    "index.html",
}
EXTENSIONS = ("md", "py", "yaml", "yml", "json", "ipynb", "cff", "toml", "bib", "txt", "csv", "npz", "pt", "nii")
FILE_RE = re.compile(r"(?<![\w/.<>{-])((?:[\w.-]+/)*[\w][\w.-]*\.(?:" + "|".join(EXTENSIONS) + r"))(?![\w/])")
OTHER_RES = {
    "section sign (a specification section)": re.compile(r"§\s*\d|\bspec(?:ification)?\s+(?:§|section\s+\d)"),
    "issue number": re.compile(r"\bissues?\s+#?\d+\b", re.IGNORECASE),
    "DESIGN.md": re.compile(r"DESIGN\.md|\bDESIGN\b"),
    "a folder outside the repository": re.compile(
        r"(?<![\w.])(?:\.\./)?shared/(?:papers|reviews|recipes|hooks)|/work/"
    ),
    "the specification (not in the repository)": re.compile(
        r"(?<![\w.{])(?:spec(?:'s|s)?|specification)(?![\w.(\[!])(?!\s*[=,)])(?!\s+\([A-Z]\w*\))(?!\s*:\s*[A-Z]\w*\b)",
        re.IGNORECASE,
    ),
}
# Files of other projects, or files a user supplies, named so that the reader can find or provide them.
THIRD_PARTY = re.compile(r"^(?:data/external/|PATH/|en/c4-|c4-(?:train|validation)\.|pydoc_data/)")


def repo_files() -> set[str]:
    """Paths (and base names) of the files in the repository: tracked plus untracked-not-ignored."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    names = set(out)
    names |= {Path(p).name for p in out}
    return names


def scanned_sources() -> list[Path]:
    files = [*ROOT.glob("notebooks/**/*.py"), *ROOT.glob("notebooks/**/*.yaml")]
    files += [p for p in ROOT.glob("book/**/*.md")]
    files += [ROOT / "_toc.yml", ROOT / "_config.yml", ROOT / "book" / "references.bib"]
    files += [p for p in ROOT.glob("lsa/**/*.py")]
    files += [*ROOT.glob("benchmarks/*.py"), *ROOT.glob("data/**/*.yaml")]
    files += [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "CITATION.cff"]
    return sorted(p for p in files if p.is_file() and "chapters" not in p.relative_to(ROOT).parts)


class _Text(HTMLParser):
    """Visible text of a rendered page (scripts and styles skipped), one line per block element.

    Inline elements (the spans of highlighted code, links) do not break lines, so a line keeps its context.
    """

    BLOCKS = {
        "p",
        "div",
        "li",
        "td",
        "th",
        "tr",
        "dt",
        "dd",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "section",
    }

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(errors="replace"))
    return "".join(parser.parts)


def outside_mentions(text: str, known: set[str], chapters: set[str]) -> list[str]:
    """Every line of ``text`` that mentions a file or place the repository does not hold (one entry a line)."""
    hits = []
    for lineno, line in enumerate(text.splitlines(), 1):
        why = []
        for m in FILE_RE.finditer(line):
            name = m.group(1).rstrip(".")
            base = Path(name).name
            if name in known or base in known or base in GENERATED or THIRD_PARTY.match(name):
                continue
            if base.split(".")[0] in chapters or base.startswith(("latest-", "failed-")):
                continue  # executed chapter notebooks and run pointers live in run folders
            if "/" not in name and not base.endswith(".md") and not base.startswith(("lsa", "test_")):
                continue  # a bare name such as a third-party package's file or a user's own data file
            why.append(name)
        why += [what for what, rx in OTHER_RES.items() if rx.search(line)]
        if why:
            hits.append(f"{lineno}: {', '.join(dict.fromkeys(why))}: {line.strip()[:140]}")
    return hits


def prose_of_python(source: str) -> str:
    """Only what a reader reads in a Python file: comments, docstrings and strings, on their original lines.

    Identifiers (``spec = find_spec(...)``) are code, not mentions.
    """
    keep = {tokenize.COMMENT, tokenize.STRING} | {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    lines = [""] * (source.count("\n") + 2)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in keep:
                for i, part in enumerate(tok.string.splitlines()):
                    lines[tok.start[0] - 1 + i] += " " + part
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    return "\n".join(lines)


def scan(paths) -> dict[str, list[str]]:
    known = repo_files()
    chapters = {p.stem for p in ROOT.glob("notebooks/*.py")}
    out = {}
    for path in paths:
        text = path.read_text(errors="replace")
        text = html_text(path) if path.suffix == ".html" else prose_of_python(text) if path.suffix == ".py" else text
        hits = outside_mentions(text, known, chapters)
        if hits:
            out[str(Path(path).resolve().relative_to(ROOT))] = hits
    return out


def test_detector_finds_what_it_must():
    """The scanner itself: each kind of outside reference is caught, in-repo names are not."""
    known = {"README.md", "book/intro.md", "intro.md"}
    text = (
        "see lsa-flag-varieties.md\nas in spec §3.2\nDESIGN.md says\nfixed in issue 4\n"
        "read ../shared/papers/x\nsee README.md and book/intro.md\nwrites metrics.json\n"
        "the spec's toy problem\nspec = importlib.util.find_spec('x')\n"
    )
    hits = outside_mentions(text, known, {"alignment_ridge"})
    assert [h.split(":")[0] for h in hits] == ["1", "2", "3", "4", "5", "8"], hits
    assert not outside_mentions("runs/alignment_ridge/KEY/alignment_ridge.ipynb", known, {"alignment_ridge"})


@pytest.mark.parametrize("path", [p.relative_to(ROOT).as_posix() for p in scanned_sources()])
def test_sources_mention_no_file_outside_the_repository(path):
    """One case per file (chapter, ledger, page, module), so that each area sees its own mentions."""
    hits = scan([ROOT / path]).get(path, [])
    assert not hits, f"{path}: {len(hits)} lines mention files or places outside the repository:\n  " + "\n  ".join(
        hits
    )


@pytest.mark.slow
def test_rendered_site_mentions_no_file_outside_the_repository(site):
    """Every page of the site built by the ``site`` fixture (tests/conftest.py), as text a reader sees."""
    pages = [p for p in site.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts]
    pages = [p for p in pages if p.name not in ("genindex.html", "search.html", "py-modindex.html")]
    found = scan(pages)
    # the checkout's own absolute path is a fact of this machine, never of the book (wherever the clone lives)
    for page in pages:
        lines = [
            f"{n}: this checkout's absolute path: {line.strip()[:140]}"
            for n, line in enumerate(html_text(page).splitlines(), 1)
            if str(ROOT) in line
        ]
        if lines:
            found.setdefault(str(page.resolve().relative_to(ROOT)), []).extend(lines)
    total = sum(map(len, found.values()))
    report = "\n".join(f"{path}\n  " + "\n  ".join(hits[:20]) for path, hits in sorted(found.items()))
    assert not found, f"{total} lines of the rendered site mention files or places outside the repository:\n{report}"
