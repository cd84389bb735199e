"""The rendered site as a reader sees it: every page in headless Chromium at desktop and phone widths.

For each page of ``_build/html`` (built once per session by the ``site`` fixture in ``tests/conftest.py``) and
each width (1400 px, 390 px) the check saves a full-page screenshot under ``_build/screenshots/`` (kept by CI
as an artefact) and fails on: a console error or an uncaught page error, horizontal overflow of the page at
phone width, an image wider than its container, an image that did not load, or a request leaving the machine.
The site search is exercised offline. Run by hand on an existing build with
``python tests/test_site.py [_build/html]``.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = {"desktop": 1400, "phone": 390}
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Width (px) by which the page may exceed the viewport before it counts as overflow (sub-pixel rounding).
SLACK = 2

OVERFLOW_JS = """(slack) => {
  const doc = document.documentElement;
  const wide = [];
  const clippedByAncestor = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (p === doc || p === document.body) continue;
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  if (doc.scrollWidth > doc.clientWidth + slack) {
    for (const el of document.querySelectorAll('.bd-article *')) {
      const r = el.getBoundingClientRect();
      if (r.right > doc.clientWidth + slack && r.width > 0 && !clippedByAncestor(el)) {
        const cls = el.className ? '.' + String(el.className).split(' ')[0] : '';
        wide.push(el.tagName.toLowerCase() + cls + ' ' + Math.round(r.width) + 'px');
      }
      if (wide.length >= 5) break;
    }
  }
  return {scroll: doc.scrollWidth, client: doc.clientWidth, wide};
}"""

IMAGES_JS = """() => Array.from(document.querySelectorAll('img')).map(img => {
  const box = img.getBoundingClientRect();
  let p = img.parentElement; while (p && p.clientWidth === 0) p = p.parentElement;
  return {src: img.getAttribute('src'), loaded: img.complete && img.naturalWidth > 0,
          width: box.width, container: p ? p.clientWidth : 0};
})"""


def site_pages(site: Path) -> list[str]:
    """Every content page of the build (not the generated index, search or source listings)."""
    skip = {"genindex.html", "search.html", "py-modindex.html"}
    pages = [p.relative_to(site).as_posix() for p in site.rglob("*.html")]
    return sorted(p for p in pages if Path(p).name not in skip and not p.startswith(("_static/", "_sources/")))


@functools.cache
def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Server:
    """A local HTTP server for the built site (the pages are read as a browser reads a web server)."""

    def __init__(self, site: Path):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(site))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()


def check_site(site: Path, pages: list[str] | None = None, shots: Path = SHOTS) -> dict[str, list[str]]:
    """Load every page at every width; return the problems found, by ``page @ width``, and save screenshots."""
    from playwright.sync_api import sync_playwright

    pages = pages or site_pages(site)
    shots.mkdir(parents=True, exist_ok=True)
    server = Server(site)
    problems: dict[str, list[str]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            for label, width in WIDTHS.items():
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                log: list[str] = []

                def route(r, log=log):
                    host = urlparse(r.request.url).hostname
                    if r.request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in (
                        "127.0.0.1",
                        "localhost",
                    ):
                        log.append(f"request left the machine: {r.request.url}")
                        return r.abort()
                    return r.continue_()

                page.route("**/*", route)
                page.on(
                    "console",
                    lambda m, log=log: log.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
                )
                page.on("pageerror", lambda e, log=log: log.append(f"page error: {e}"))
                page.on(
                    "response", lambda r, log=log: log.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
                )
                for path in pages:
                    log.clear()
                    response = page.goto(f"{server.url}/{path}", wait_until="networkidle")
                    if response is None or not response.ok:
                        log.append(f"page did not load ({response.status if response else 'no response'})")
                    if page.locator(".math").count():
                        try:
                            page.wait_for_function(
                                "() => document.querySelectorAll('mjx-container').length > 0", timeout=20000
                            )
                        except Exception:  # reported below as a problem of this page
                            log.append("MathJax did not typeset the page's math")
                        if page.locator("mjx-merror").count():
                            log.append(f"MathJax errors: {page.locator('mjx-merror').count()}")
                    for img in page.evaluate(IMAGES_JS):
                        if not img["loaded"]:
                            log.append(f"image did not load: {img['src']}")
                        elif img["width"] > img["container"] + SLACK:
                            size = f"{img['width']:.0f} > {img['container']} px"
                            log.append(f"image wider than its container: {img['src']} ({size})")
                    if label == "phone":
                        over = page.evaluate(OVERFLOW_JS, SLACK)
                        if over["scroll"] > over["client"] + SLACK:
                            log.append(
                                f"horizontal overflow at {width} px: page {over['scroll']} px wide; {over['wide']}"
                            )
                    name = path.removesuffix(".html").replace("/", "__")
                    page.screenshot(path=str(shots / f"{name}.{label}.png"), full_page=True, timeout=180000)
                    if log:
                        problems[f"{path} @ {width}px"] = list(log)
                context.close()
            browser.close()
    finally:
        server.close()
    return problems


def search_results(site: Path, query: str) -> int:
    """Number of results the site's own (offline) search lists for ``query``."""
    from playwright.sync_api import sync_playwright

    server = Server(site)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.route(
                "**/*",
                lambda r: (
                    r.continue_() if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost") else r.abort()
                ),
            )
            page.goto(f"{server.url}/search.html?q={query}", wait_until="networkidle")
            page.wait_for_function(
                "() => document.querySelector('#search-results p') && "
                "!document.querySelector('#search-results p').textContent.includes('Preparing')",
                timeout=30000,
            )
            count = page.locator("#search-results ul.search li").count()
            browser.close()
            return count
    finally:
        server.close()


pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser_ready():
    if chromium_path() is None:
        pytest.fail("Debian chromium is not installed (make test installs it with apt-get)")


def test_every_page_reads_at_desktop_and_phone_width(site, browser_ready):
    problems = check_site(site)
    report = "\n".join(f"{where}:\n  " + "\n  ".join(msgs) for where, msgs in problems.items())
    assert not problems, f"{len(problems)} page views with problems (screenshots in {SHOTS}):\n{report}"


def test_search_works_offline(site, browser_ready):
    assert search_results(site, "alignment") > 0


def test_landing_page_reaches_the_parts_and_the_status_page(site):
    index = (site / "book" / "intro.html").read_text() if (site / "book" / "intro.html").is_file() else ""
    index = index or (site / "index.html").read_text()
    for target in (
        "chapters/alignment_ridge.html",
        "chapters/gsa_spectra.html",
        "chapters/pruning_perplexity.html",
        "chapters/asd_segmentation.html",
        "reproduction-status.html",
    ):
        assert f'href="{target}' in index or f'href="book/{target}' in index, f"landing page has no link to {target}"


if __name__ == "__main__":
    found = check_site(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html")
    for where, msgs in found.items():
        print(where)
        for m in msgs:
            print("  ", m)
    print(f"{len(found)} page views with problems; screenshots in {SHOTS}")
