"""The loader in a real browser under a strict CSP: intercomSettings carry the signed shopper
before Intercom's script loads, a logout shuts the Messenger down and boots it anonymously, and
excluded addresses never load Intercom."""

from __future__ import annotations

import pytest

from plugins.intercom.plugin import IntercomPlugin
from tests.plugins.browser import Shop, chromium  # noqa: F401 - fixture
from tests.plugins.intercom.test_intercom import APP_ID, shopper

#: Stands in for https://widget.intercom.io/widget/…: records the settings it booted with,
#: replays the documented queue, and records every later call.
INTERCOM_STUB = """
(function () {
  var queued = (window.Intercom && window.Intercom.q) || [];
  window.__intercom = {settings: JSON.parse(JSON.stringify(window.intercomSettings)), calls: []};
  window.Intercom = function (command, options) {
    __intercom.calls.push(options ? [command, options.user_id || null] : [command]);
  };
  queued.forEach(function (args) { window.Intercom.apply(null, args); });
})();
"""

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(chromium, client, store, register_plugin, install):  # noqa: F811
    register_plugin(IntercomPlugin)
    install("intercom", app_id=APP_ID, verification="user_hash",
            verification_secret="identity-secret-0123456789abcdef", exclude_urls="/checkout*")
    tab = Shop(chromium, client, store.slug,
               {"https://widget.intercom.io/": INTERCOM_STUB}, ("https://widget.intercom.io",))
    yield tab
    tab.close()


def test_identified_then_shut_down_on_logout(shop, storefront, store):
    mei = shopper(storefront)
    user_id = f"{store.id}-{mei['customer']['id']}"
    page = shop.open("/products/oolong", token=mei["token"])
    page.wait_for_function("() => window.__intercom !== undefined")
    booted = page.evaluate("() => __intercom.settings")
    assert booted["app_id"] == APP_ID and booted["user_id"] == user_id
    assert len(booted["user_hash"]) == 64 and "identity-secret" not in page.content()
    assert page.eval_on_selector("script[data-kedai-intercom-embed]", "s => s.src") == \
        f"https://widget.intercom.io/widget/{APP_ID}"

    page.evaluate("""() => {
        document.querySelector('script[data-page]').removeAttribute('data-shopper-token');
        return window.Kedai.refresh();
    }""")
    page.wait_for_function("() => __intercom.calls.length > 1")
    assert page.evaluate("() => __intercom.calls") == [["shutdown"], ["boot", None]]
    assert "user_hash" not in page.evaluate("() => window.intercomSettings")
    assert shop.violations() == []


def test_never_loaded_at_an_excluded_address(shop):
    page = shop.open("/checkout/payment", page="checkout")
    page.wait_for_function("() => window.KedaiIntercom !== undefined")
    assert page.query_selector("script[data-kedai-intercom-embed]") is None
    assert page.evaluate("() => window.__intercom === undefined")
    assert shop.violations() == []
