"""The rendered site: Jupyter Book build of every chapter at `smoke`, then a headless Chromium check.

The build reuses the chapter runs that tests/test_chapters.py makes (same keys), so each chapter executes
once per test session.
"""

import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lsa.runner.book import build_book
from lsa.runner.chapters import toc_chapters

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site() -> Path:
    index = build_book(profile="smoke", progress=False)
    return index.parent


def test_site_has_every_page(site):
    assert (site / "index.html").is_file()
    for name in toc_chapters():
        page = site / "book" / "chapters" / f"{name}.html"
        assert page.is_file(), f"chapter page missing: {page}"
    status = (site / "book" / "reproduction-status.html").read_text()
    assert "Reproduction status" in status and "guarantee" in status
    assert (site / "_static" / "mathjax" / "es5" / "tex-mml-chtml.js").is_file()


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.browser
def test_pages_render_offline_in_chromium(server):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian chromium is not installed (make test installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    failed: list[str] = []

    def route(r):
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
            outside.append(r.request.url)
            return r.abort()
        return r.continue_()

    pages = ["index.html", "book/reproduction-status.html"] + [f"book/chapters/{n}.html" for n in toc_chapters()]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_context().new_page()
        page.route("**/*", route)
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on(
            "requestfailed",
            lambda r: failed.append(f"failed {r.url}") if r.url.startswith("http") and r.url not in outside else None,
        )
        for path in pages:
            response = page.goto(f"{server}/{path}", wait_until="networkidle")
            assert response is not None and response.ok, path
            images = page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.complete && e.naturalWidth])")
            broken = [src for src, width in images if not width]
            assert not broken, f"{path}: images that did not load: {broken}"
            if path.startswith("book/chapters/"):
                assert len(images) >= 1, f"{path}: no figures"
                if page.locator(".math").count():
                    page.wait_for_function(
                        "() => document.querySelectorAll('mjx-container').length > 0"
                        " && document.querySelectorAll('mjx-merror').length === 0",
                        timeout=30000,
                    )
                    src = page.eval_on_selector("script[src*='tex-mml-chtml.js']", "e => e.src")
                    assert urlparse(src).hostname == "127.0.0.1", src
        browser.close()
    assert not outside, f"requests left the machine: {outside}"
    assert not failed, f"requests that failed: {failed}"
