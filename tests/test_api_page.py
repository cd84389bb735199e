"""The API reference page documents every module of the library (a new module must be added to book/api.md)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_lsa_module_is_on_the_api_page():
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", (ROOT / "book" / "api.md").read_text(), re.M))
    modules = set()
    for path in (ROOT / "lsa").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if path.name == "__init__.py":
            parts = parts[:-1]
            if len(parts) > 1 and path.read_text().strip().count("\n") < 3:
                continue  # an empty package marker documents nothing
        if path.name == "__main__.py":
            continue
        modules.add(".".join(parts))
    missing = sorted(m for m in modules - documented if m != "lsa")
    assert not missing, f"add to book/api.md: {missing}"
