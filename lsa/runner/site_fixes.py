"""A small Sphinx extension for the book (listed in ``_config.yml``): fixes a reader would otherwise trip over.

- Each script is included once per page. sphinx-thebe registers its inline configuration script every time
  Sphinx reads the sources, which happens twice in a Jupyter Book build; the second copy redeclares a
  ``const`` and every page logged an uncaught error in the browser console.
"""

from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {})
        key = (str(getattr(js, "filename", None) or ""), tuple(sorted(attributes.items())))  # None and '' alike
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique  # in place: Sphinx restores its own list before the next page


def setup(app):
    # early: the event stops at the first handler that returns a template name
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
