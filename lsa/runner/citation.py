"""The book's citation metadata: title, version and authors from ``CITATION.cff``, BibTeX of the book, of one
chapter (naming the run behind its figures) and of the papers the book accompanies."""

from __future__ import annotations

from pathlib import Path

import yaml

from lsa.runner import REPO_ROOT
from lsa.runner.chapters import Chapter


def book_metadata(root: Path = REPO_ROOT) -> dict:
    """Title, version, release date and authors of the book, read from ``CITATION.cff`` (the one source)."""
    cff = yaml.safe_load((Path(root) / "CITATION.cff").read_text())
    authors = [
        a.get("name") or f"{a.get('given-names', '')} {a.get('family-names', '')}".strip() for a in cff["authors"]
    ]
    return {
        "title": cff["title"],
        "version": str(cff.get("version", "")),
        "date": str(cff.get("date-released", "")),
        "authors": authors,
        "url": cff.get("repository-code", ""),
    }


def _bibtex_authors(authors: list[str]) -> str:
    return " and ".join("{" + a + "}" if " " in a and "," not in a else a for a in authors)


def book_bibtex(root: Path = REPO_ROOT) -> str:
    """The BibTeX entry of the book, from ``CITATION.cff``."""
    m = book_metadata(root)
    return (
        "@misc{lsa_companion_book,\n"
        f"  title = {{{m['title']}}},\n"
        f"  author = {{{_bibtex_authors(m['authors'])}}},\n"
        f"  year = {{{m['date'][:4]}}},\n"
        f"  version = {{{m['version']}}},\n"
        f"  note = {{Executable Jupyter Book and Python library \\texttt{{lsa}}, version {m['version']}, "
        f"released {m['date']}}}\n"
        "}"
    )


def chapter_bibtex(chapter: Chapter, key: str, commit: str, profile: str, root: Path = REPO_ROOT) -> str:
    """The BibTeX entry of one chapter, naming the run (key, profile, commit) behind its figures."""
    m = book_metadata(root)
    return (
        f"@incollection{{lsa_companion_{chapter.name},\n"
        f"  title = {{{chapter.title}}},\n"
        f"  booktitle = {{{m['title']}}},\n"
        f"  author = {{{_bibtex_authors(m['authors'])}}},\n"
        f"  year = {{{m['date'][:4]}}},\n"
        f"  note = {{Chapter \\texttt{{{chapter.name}}}, version {m['version']}; figures from run {key} "
        f"(profile {profile}, commit {commit[:12] or 'not recorded'})}}\n"
        "}"
    )


PAPER_KEYS = ("xiao2026flag", "liu2026gsa1", "liu2026gsa2", "yu2026cvrec", "song2024asd")


def paper_bibtex(root: Path = REPO_ROOT, keys=PAPER_KEYS) -> str:
    """BibTeX of the papers this book accompanies, taken from ``book/references.bib`` (the one source)."""
    from pybtex.database import BibliographyData, parse_file

    bib = parse_file(str(Path(root) / "book" / "references.bib"))
    return BibliographyData({k: bib.entries[k] for k in keys}).to_string("bibtex").strip()
