"""The contact button in a real browser under a strict CSP: keyboard use, colour and offsets
applied without inline styles, the delay, and desktop/mobile visibility."""

from __future__ import annotations

import os

import pytest

from plugins.contact_button.plugin import ContactButtonPlugin
from tests.plugins.browser import Shop, chromium  # noqa: F401 - fixture

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 800}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def shop(chromium, client, store, register_plugin, install):  # noqa: F811
    register_plugin(ContactButtonPlugin)
    tabs: list[Shop] = []

    def open_shop(viewport: dict[str, int] = DESKTOP, **settings: object) -> Shop:
        install("contact_button", whatsapp_enabled=True, whatsapp="+60 12-345 6789",
                line_enabled=True, line="@kedaitea", email_enabled=True,
                email="hello@kedai.example", **settings)
        tab = Shop(chromium, client, store.slug, {}, (), viewport=viewport)
        tabs.append(tab)
        return tab

    yield open_shop
    for tab in tabs:
        tab.close()


def test_keyboard_opens_walks_and_closes_the_list(shop, tmp_path):
    tab = shop(colour="#6a1b9a", position="left", offset_x=8, offset_y=40,
               greeting="Questions? Ask us")
    page = tab.open("/products/oolong")
    toggle = page.wait_for_selector("summary.kcb__toggle")
    page.wait_for_function("() => window.KedaiContactButton !== undefined")
    box = toggle.bounding_box()
    assert box["x"] == pytest.approx(8, abs=1)
    assert box["y"] + box["height"] == pytest.approx(800 - 40, abs=1)
    assert toggle.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(106, 27, 154)"
    assert page.get_by_role("navigation", name="Ways to contact us").is_hidden()

    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "kcb__toggle"
    page.keyboard.press("Enter")
    links = page.get_by_role("link")
    assert links.all_inner_texts() == ["Chat on WhatsApp", "Chat on LINE", "Email us"]
    assert page.get_by_role("link", name="Chat on WhatsApp (opens in a new tab)").is_visible()
    if os.environ.get("KEDAI_SCREENSHOTS"):
        page.screenshot(path=os.environ["KEDAI_SCREENSHOTS"] + "/contact_button.png")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.channel") == "whatsapp"
    page.keyboard.press("Escape")
    assert page.get_by_role("navigation", name="Ways to contact us").is_hidden()
    assert page.evaluate("() => document.activeElement.className") == "kcb__toggle"
    assert tab.violations() == []


def test_appears_after_the_delay(shop):
    tab = shop(delay_seconds=5)
    tab.page.clock.install()
    page = tab.open("/")
    page.wait_for_function("() => window.KedaiContactButton !== undefined")
    assert page.is_hidden("details.kcb")
    tab.page.clock.run_for(4000)
    assert page.is_hidden("details.kcb")
    tab.page.clock.run_for(1500)
    assert page.is_visible("details.kcb")


@pytest.mark.parametrize("viewport, settings, visible", [
    (PHONE, {"show_on_mobile": False}, False),
    (DESKTOP, {"show_on_mobile": False}, True),
    (DESKTOP, {"show_on_desktop": False}, False),
    (PHONE, {"show_on_desktop": False}, True),
])
def test_desktop_and_mobile_visibility(shop, viewport, settings, visible):
    tab = shop(viewport=viewport, **settings)
    page = tab.open("/")
    page.wait_for_selector("details.kcb", state="attached")
    page.wait_for_function("() => document.styleSheets.length > 0")
    assert page.is_visible("summary.kcb__toggle") is visible
    assert tab.violations() == []
