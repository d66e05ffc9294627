"""Contact button (W-03): every channel's documented link, order, appearance settings carried
as data, hostile values refused or escaped, no third-party script."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from plugin_sdk import SettingsInvalid
from plugins.contact_button.plugin import ContactButtonPlugin, text_colour
from tests.sdk.test_admin_marketplace import MARKET, error_of, post

ALL = {
    "whatsapp_enabled": True, "whatsapp": "+60 12-345 6789",
    "whatsapp_message": "Hi! I'd like to ask about order #12 & tea",
    "line_enabled": True, "line": "@kedaitea",
    "messenger_enabled": True, "messenger": "kedai.tea",
    "telegram_enabled": True, "telegram": "@kedai_tea",
    "instagram_enabled": True, "instagram": "@kedai.tea",
    "phone_enabled": True, "phone": "+60 3-1234 5678",
    "sms_enabled": True, "sms": "+886 912 345 678",
    "email_enabled": True, "email": "hello@kedai.example",
    "email_subject": "Question about tea", "email_body": "Hello,\nis oolong+milk in stock?",
}
BASE = "http://localhost/storefront/acme/plugins/contact_button/static/"


class Markup(HTMLParser):
    """The button's root attributes and its links, as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.root: dict[str, Any] = {}
        self.links: list[dict[str, Any]] = []
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        self.attributes.update(values)
        if tag == "details":
            self.root = values
        if tag == "a":
            self.links.append(values)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


@pytest.fixture
def contact_button(register_plugin, install):
    register_plugin(ContactButtonPlugin)
    return lambda **settings: install("contact_button", **settings)


def widget(storefront, page: str = "home") -> dict[str, Any] | None:
    response = storefront.get(f"/widgets?page={page}")
    assert response.status_code == 200
    found = response.json["widgets"]
    assert len(found) <= 1
    return found[0] if found else None


def test_every_channel_links_in_its_documented_format(storefront, contact_button):
    contact_button(**ALL)
    found = widget(storefront)
    assert found["slot"] == "floating" and found["personal"] is False
    assert found["scripts"] == [BASE + "contact_button.js?v=1.0.0"]
    assert found["styles"] == [BASE + "contact_button.css?v=1.0.0"]
    links = Markup(found["html"]).links
    assert [(a["data-channel"], a["href"]) for a in links] == [
        ("whatsapp", "https://wa.me/60123456789?text=Hi%21%20I%27d%20like%20to%20ask%20about"
                     "%20order%20%2312%20%26%20tea"),
        ("line", "https://line.me/R/ti/p/@kedaitea"),
        ("messenger", "https://m.me/kedai.tea"),
        ("telegram", "https://t.me/kedai_tea"),
        ("instagram", "https://ig.me/m/kedai.tea"),
        ("phone", "tel:+60312345678"),
        ("sms", "sms:+886912345678"),
        ("email", "mailto:hello@kedai.example?subject=Question%20about%20tea"
                  "&body=Hello%2C%0Ais%20oolong%2Bmilk%20in%20stock%3F"),
    ]
    # Web links open in a new tab, and say so; tel:, sms: and mailto: hand over to the device.
    assert links[0]["target"] == "_blank" and links[0]["rel"] == "noopener noreferrer"
    assert links[0]["aria-label"] == "Chat on WhatsApp (opens in a new tab)"
    assert "target" not in links[5] and "aria-label" not in links[5]
    # Our own markup only: no third-party script, no inline script or style, no handlers.
    markup = Markup(found["html"])
    assert "script" not in markup.tags and "style" not in markup.tags
    assert "style" not in markup.attributes
    assert [name for name in markup.attributes if name.startswith("on")] == []


def test_order_and_disabled_channels(storefront, contact_button):
    contact_button(**dict(ALL, line_enabled=False, sms_enabled=False),
                   order="email, phone, whatsapp")
    links = Markup(widget(storefront)["html"]).links
    assert [a["data-channel"] for a in links] == [
        "email", "phone", "whatsapp", "messenger", "telegram", "instagram"]


def test_appearance_settings_reach_the_page_as_data(storefront, contact_button):
    contact_button(whatsapp_enabled=True, whatsapp="+60123456789", colour="#ffd500",
                   position="left", offset_x=8, offset_y=96, show_on_mobile=False,
                   delay_seconds=5, greeting="Questions? We reply within the hour.")
    markup = Markup(widget(storefront)["html"])
    root = markup.root
    assert root["class"] == "kcb kcb--left kcb--no-mobile"
    assert root["data-colour"] == "#ffd500" and root["data-text-colour"] == "#111111"
    assert (root["data-offset-x"], root["data-offset-y"], root["data-delay"]) == ("8", "96", "5")
    assert "hidden" in root  # shown by the script once the delay has passed
    assert "Questions? We reply within the hour." in markup.text


def test_defaults(storefront, contact_button):
    contact_button(phone_enabled=True, phone="+60 3-1234 5678")
    markup = Markup(widget(storefront)["html"])
    assert markup.root["class"] == "kcb kcb--right"
    assert markup.root["data-text-colour"] == "#ffffff" and "hidden" not in markup.root
    assert "Contact us" in markup.text


def test_text_colour_contrasts_with_the_button():
    assert text_colour("#000000") == "#ffffff"
    assert text_colour("#ffffff") == "#111111"
    assert text_colour("#1f7a4d") == "#ffffff"
    assert text_colour("#25d366") == "#111111"  # WhatsApp green is light


def test_a_hostile_greeting_and_message_are_escaped(storefront, contact_button):
    evil = '</script><script>alert(1)</script>"><img src=x onerror=alert(1)>'
    contact_button(whatsapp_enabled=True, whatsapp="+60123456789", whatsapp_message=evil,
                   email_enabled=True, email="hello@kedai.example", email_subject=evil,
                   greeting=evil[:120])
    found = widget(storefront)
    markup = Markup(found["html"])
    assert "script" not in markup.tags and "img" not in markup.tags
    assert evil in markup.text  # shown as text
    assert markup.links[0]["href"].startswith("https://wa.me/60123456789?text=%3C%2Fscript%3E")
    assert "<script>" not in found["html"] and "<img" not in found["html"]


@pytest.mark.parametrize("settings, field", [
    ({"whatsapp": "javascript:alert(1)"}, "whatsapp"),
    ({"whatsapp": "60123456789"}, "whatsapp"),  # no country code sign
    ({"whatsapp": "+60 12 345 6789 0000 0000"}, "whatsapp"),  # more than 15 digits
    ({"phone": '+60123456789"><script>'}, "phone"),
    ({"sms": "+601234\n"}, "sms"),
    ({"line": "@kedai tea"}, "line"),
    ({"line": "javascript:alert(1)"}, "line"),
    ({"messenger": "https://evil.example"}, "messenger"),
    ({"telegram": "@ab"}, "telegram"),
    ({"instagram": "kedai'tea"}, "instagram"),
    ({"email": "javascript:alert(1)"}, "email"),
    ({"email": "a@b.example?bcc=everyone@example.com"}, "email"),
    ({"colour": "red;background:url(x)"}, "colour"),
    ({"position": "top"}, "position"),
    ({"offset_x": 5000}, "offset_x"),
    ({"delay_seconds": -1}, "delay_seconds"),
    ({"order": "whatsapp, fax"}, "order"),
    ({"order": "whatsapp, whatsapp"}, "order"),
    ({"greeting": "x" * 121}, "greeting"),
    ({"telegram_enabled": True}, "telegram"),
])
def test_settings_that_could_misbehave_are_refused(contact_button, settings, field):
    with pytest.raises(SettingsInvalid) as refused:
        contact_button(**settings)
    assert field in refused.value.errors


@pytest.mark.parametrize("settings", [
    {"whatsapp": "+60123456789"},  # a number, but the channel is not switched on
    {"whatsapp_enabled": True, "whatsapp": "+60123456789", "show_on_desktop": False,
     "show_on_mobile": False},
])
def test_no_button_without_a_channel_or_a_device(storefront, contact_button, settings):
    contact_button(**settings)
    assert widget(storefront) is None


def test_hidden_on_the_pages_chosen(storefront, contact_button):
    contact_button(whatsapp_enabled=True, whatsapp="+60123456789", hide_on_pages="checkout, cart")
    assert widget(storefront, "home") is not None
    assert widget(storefront, "checkout") is None and widget(storefront, "cart") is None


def test_the_settings_page_names_the_problem(admin, register_plugin):
    register_plugin(ContactButtonPlugin)
    post(admin, MARKET + "/contact_button/install", consent="yes")
    page = post(admin, MARKET + "/contact_button/settings", whatsapp_enabled="on",
                whatsapp="javascript:alert(1)", colour="#1f7a4d", position="right")
    assert page.status_code == 200
    assert error_of(page, "setting-whatsapp") == (
        "Use the international format with the country code, like +60 12-345 6789.")
    saved = post(admin, MARKET + "/contact_button/settings", whatsapp_enabled="on",
                 whatsapp="+60 12-345 6789", colour="#1f7a4d", position="right",
                 offset_x="20", offset_y="20", delay_seconds="0")
    assert saved.status_code == 302


def test_static_files_served_where_enabled(client, storefront, contact_button, other_store):
    contact_button(whatsapp_enabled=True, whatsapp="+60123456789")
    assert storefront.get("/plugins/contact_button/static/contact_button.css").status_code == 200
    script = storefront.get("/plugins/contact_button/static/contact_button.js")
    assert script.status_code == 200 and b"Escape" in script.data
    assert client.get(f"/storefront/{other_store.slug}/plugins/contact_button/static/"
                      "contact_button.js").status_code == 404
