"""The loader in a real browser under a strict CSP: the shopper is set before tawk.to's script
loads, a logout ends the tawk.to session, and excluded addresses never load tawk.to."""

from __future__ import annotations

import pytest

from plugins.tawkto.plugin import TawkToPlugin
from tests.plugins.browser import Shop, chromium  # noqa: F401 - fixture
from tests.plugins.tawkto.test_tawkto import PROPERTY, VECTOR, shopper

#: Stands in for https://embed.tawk.to/…: records what the page set up and what it called.
TAWK_STUB = """
(function () {
  var api = window.Tawk_API;
  window.__tawk = {visitor: JSON.parse(JSON.stringify(api.visitor || null)), calls: []};
  api.login = function (data, done) { __tawk.calls.push(["login", data.userId]); done && done(); };
  api.logout = function (done) { __tawk.calls.push(["logout"]); done && done(); };
  api.hideWidget = function () { __tawk.calls.push(["hide"]); };
  api.showWidget = function () { __tawk.calls.push(["show"]); };
})();
"""

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(chromium, client, store, register_plugin, install):  # noqa: F811
    register_plugin(TawkToPlugin)
    install("tawkto", property_id=PROPERTY, secure_mode_key="secret",
            include_urls="/products/*", exclude_urls="/products/secret-*")
    tab = Shop(chromium, client, store.slug, {"https://embed.tawk.to/": TAWK_STUB},
               ("https://embed.tawk.to",))
    yield tab
    tab.close()


def test_logged_in_then_logged_out(shop, storefront, store):
    mei = shopper(storefront)
    page = shop.open("/products/oolong", token=mei["token"])
    page.wait_for_function("() => window.__tawk !== undefined")
    assert page.evaluate("() => __tawk.visitor") == {
        "name": "Mei Lin", "email": "user@example.com", "hash": VECTOR}
    assert page.eval_on_selector("script[data-kedai-tawkto-embed]", "s => s.src") == \
        f"https://embed.tawk.to/{PROPERTY}/default"

    # The theme logs the shopper out and refreshes the widgets: tawk.to forgets them.
    page.evaluate("""() => {
        document.querySelector('script[data-page]').removeAttribute('data-shopper-token');
        return window.Kedai.refresh();
    }""")
    page.wait_for_function("() => __tawk.calls.length > 0")
    assert page.evaluate("() => __tawk.calls") == [["logout"], ["show"]]

    # Logging in again without a page load identifies them through Tawk_API.login.
    page.evaluate("""token => {
        document.querySelector('script[data-page]').setAttribute('data-shopper-token', token);
        return window.Kedai.refresh();
    }""", mei["token"])
    page.wait_for_function("() => __tawk.calls.length > 2")
    user_id = f"{store.id}-{mei['customer']['id']}"
    assert page.evaluate("() => __tawk.calls")[2] == ["login", user_id]
    assert shop.violations() == []


@pytest.mark.parametrize("path", ["/products/secret-sale", "/about"])
def test_never_loaded_outside_the_chosen_addresses(shop, path):
    page = shop.open(path)
    page.wait_for_function("() => window.KedaiTawkto !== undefined")
    assert page.query_selector("[data-kedai-widget=tawkto]") is not None
    assert page.query_selector("script[data-kedai-tawkto-embed]") is None
    assert page.evaluate("() => window.__tawk === undefined")
    assert shop.violations() == []


def test_loaded_anonymously_at_an_included_address(shop):
    page = shop.open("/products/oolong")
    page.wait_for_function("() => window.__tawk !== undefined")
    assert page.evaluate("() => __tawk.visitor") is None
    assert shop.violations() == []
