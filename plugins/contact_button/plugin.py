"""Contact button (W-03): a floating button of our own (no third-party script) that opens a
list of the store's channels: WhatsApp, LINE, Messenger, Telegram, Instagram, phone, SMS and
email, each a plain link in the format the channel documents.

The markup is a native ``<details>``/``<summary>`` disclosure, so it opens with a keyboard and
is announced by screen readers even before ``static/contact_button.js`` runs; the script adds
the colour and offsets (through the CSSOM, which a Content-Security-Policy allows, where inline
``style`` attributes would be refused), the delay, closing on Escape or a click elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Blueprint

from plugin_sdk import Plugin, PluginContext, Widget, hookimpl
from plugins.contact_button.settings import CHANNELS, Settings, digits, order_of

storefront = Blueprint("contact_button_storefront", __name__, static_folder="static",
                       static_url_path="/static")


@dataclass(frozen=True)
class Channel:
    key: str
    label: str
    href: str


def _query(**values: str) -> str:
    """``?a=…&b=…`` of the non-blank values, percent-encoded (``%20``, never ``+``)."""
    pairs = [f"{key}={quote(value, safe='')}" for key, value in values.items() if value]
    return "?" + "&".join(pairs) if pairs else ""


def link(key: str, settings: dict[str, Any]) -> str:
    """The documented link of one channel for the merchant's (validated) value."""
    value = settings[key].strip()
    handle = quote(value.lstrip("@"), safe="")
    if key == "whatsapp":
        return f"https://wa.me/{digits(value)}" + _query(text=settings.get("whatsapp_message", ""))
    if key == "line":
        return f"https://line.me/R/ti/p/@{handle}"
    if key == "messenger":
        return f"https://m.me/{handle}"
    if key == "telegram":
        return f"https://t.me/{handle}"
    if key == "instagram":
        return f"https://ig.me/m/{handle}"
    if key == "phone":
        return f"tel:+{digits(value)}"
    if key == "sms":
        return f"sms:+{digits(value)}"
    if key == "email":
        return f"mailto:{quote(value, safe='@.+-_~')}" + _query(
            subject=settings.get("email_subject", ""), body=settings.get("email_body", ""))
    raise ValueError(f"unknown channel {key!r}")


def text_colour(background: str) -> str:
    """White or near-black, whichever contrasts more with ``background`` (WCAG luminance)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(background[i:i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / (0.0071 + 0.05)  # #111111
    return "#ffffff" if on_white >= on_black else "#111111"


def channels(ctx: PluginContext) -> list[Channel]:
    """The enabled channels with a value, in the merchant's order."""
    labels = {
        "whatsapp": ctx.gettext("Chat on WhatsApp"),
        "line": ctx.gettext("Chat on LINE"),
        "messenger": ctx.gettext("Chat on Messenger"),
        "telegram": ctx.gettext("Chat on Telegram"),
        "instagram": ctx.gettext("Message us on Instagram"),
        "phone": ctx.gettext("Call us"),
        "sms": ctx.gettext("Send us a text message"),
        "email": ctx.gettext("Email us"),
    }
    settings = ctx.settings
    return [Channel(key, labels[key], link(key, settings)) for key in order_of(settings["order"])
            if key in CHANNELS and settings.get(f"{key}_enabled") and settings.get(key)]


class ContactButtonPlugin(Plugin):
    id = "contact_button"
    name = "Contact button"
    version = "1.0.0"
    category = "customer_service"
    description = ("A floating button that lets shoppers reach you on WhatsApp, LINE, "
                   "Messenger, Telegram, Instagram, phone, SMS or email.")
    author = "Kedai"
    permissions = ()
    requires = ()
    core_compat = ">=0.1"
    settings_schema = Settings

    @hookimpl
    def register_blueprints(self) -> list[Any]:
        return [("storefront", storefront)]

    @hookimpl
    def storefront_widgets(self, ctx: PluginContext, page: str) -> list[Widget]:
        settings = ctx.settings
        hidden_on = [name.strip() for name in settings["hide_on_pages"].split(",")]
        listed = channels(ctx)
        if page in hidden_on or not listed:
            return []
        if not (settings["show_on_desktop"] or settings["show_on_mobile"]):
            return []

        def static(filename: str) -> str:
            return ctx.url_for("contact_button_storefront.static", filename=filename,
                               store_slug=ctx.store.slug, v=self.version, _external=True)

        html = ctx.render("contact_button/widget.html", settings=settings, channels=listed,
                          text_colour=text_colour(settings["colour"]),
                          greeting=settings["greeting"] or ctx.gettext("Contact us"))
        return [Widget(slot="floating", html=html, scripts=[static("contact_button.js")],
                       styles=[static("contact_button.css")])]
