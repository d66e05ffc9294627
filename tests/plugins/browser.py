"""A theme page in a real Chromium, with Kedai answering through the test client.

Playwright intercepts every request: ``http://shop.test/…`` is a theme page (served under a
strict Content-Security-Policy, so inline scripts, inline styles and eval are refused), requests
to ``http://localhost/…`` go to the Flask test client (``embed.js``, the widget list, the
plugins' static files), and third-party hosts answer with the stub scripts a test provides. No
network and no server thread: the test's own transaction serves the page.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
THEME = "http://shop.test"
KEDAI = "http://localhost"
#: Collects CSP violations before any page script runs (init scripts are not subject to CSP).
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def csp(*script_hosts: str) -> str:
    hosts = " ".join((KEDAI, *script_hosts))
    return (f"default-src 'none'; script-src {hosts}; connect-src {KEDAI}; "
            f"style-src {KEDAI}; img-src {KEDAI} data:; frame-src https:")


def theme_page(store_slug: str, page: str, token: str | None = None) -> str:
    shopper = f' data-shopper-token="{html.escape(token)}"' if token else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tea shop</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body><main><h1>Oolong</h1><p>Fine tea.</p></main>'
        f'<script src="{KEDAI}/storefront/{store_slug}/embed.js" data-page="{page}"{shopper}'
        ' async></script></body></html>'
    )


# Module-scoped: each test module imports the fixture, which makes it a fixture of its own
# there, and two Playwright instances must not run at once.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Shop:
    """One browser tab on the theme; ``open(path)`` shows ``theme_page`` for that path."""

    def __init__(self, browser: Any, client: Any, store_slug: str, vendors: dict[str, str],
                 script_hosts: tuple[str, ...], viewport: dict[str, int] | None = None) -> None:
        self.client = client
        self.store_slug = store_slug
        self.vendors = vendors
        self.script_hosts = script_hosts
        self.token: str | None = None
        self.page_name = "product"
        options = {"viewport": viewport} if viewport else {}
        self.context = browser.new_context(**options)
        self.context.add_init_script(WATCH_CSP)
        self.page = self.context.new_page()
        self.page.route("**/*", self._answer)

    def _answer(self, route: Any) -> None:
        request = route.request
        url = request.url
        if url.startswith(THEME + "/"):
            route.fulfill(status=200, content_type="text/html; charset=utf-8",
                          headers={"Content-Security-Policy": csp(*self.script_hosts)},
                          body=theme_page(self.store_slug, self.page_name, self.token))
            return
        if url.startswith(KEDAI + "/"):
            headers = {k: v for k, v in request.headers.items()
                       if k.lower() in ("authorization", "content-type", "accept-language")}
            response = self.client.open(url[len(KEDAI):], method=request.method,
                                        headers=headers, data=request.post_data_buffer)
            route.fulfill(status=response.status_code, body=response.data,
                          headers={k: v for k, v in response.headers.items()
                                   if k.lower() != "content-length"})
            return
        for prefix, script in self.vendors.items():
            if url.startswith(prefix):
                route.fulfill(status=200, content_type="text/javascript", body=script)
                return
        route.abort()

    def open(self, path: str, *, page: str = "product", token: str | None = None) -> Any:
        self.page_name, self.token = page, token
        self.page.goto(THEME + path)
        self.page.wait_for_function("() => window.Kedai !== undefined")
        return self.page

    def violations(self) -> list[str]:
        return self.page.evaluate("() => window.__csp")

    def close(self) -> None:
        self.context.close()
