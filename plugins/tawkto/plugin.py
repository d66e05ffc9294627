"""tawk.to live chat (W-01): the tawk.to widget on the storefront, with the logged-in shopper
recognised and, in secure mode, vouched for by a hash computed here, on the server.

The widget's HTML is a JSON block of data; ``static/tawkto.js`` (served by this plugin) reads
it, checks the page's address against the URL patterns, sets ``Tawk_API.visitor`` and loads
``https://embed.tawk.to/<property>/<widget>``. When the shopper logs in or out without a page
load (``Kedai.refresh()``), the script calls ``Tawk_API.login`` or ``Tawk_API.logout``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Blueprint

from plugin_sdk import Plugin, PluginContext, Shopper, Widget, hookimpl
from plugins.tawkto.placement import shown_on_page, url_rules
from plugins.tawkto.settings import Settings

EMBED_URL = "https://embed.tawk.to/{property_id}/{widget_id}"

storefront = Blueprint("tawkto_storefront", __name__, static_folder="static",
                       static_url_path="/static")


def secure_hash(key: str, message: str) -> str:
    """tawk.to secure mode: HMAC-SHA256 of ``message`` (the visitor's email, or the user id for
    ``Tawk_API.login``) keyed with the property's API key, as lowercase hex."""
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def user_id(ctx: PluginContext, shopper: Shopper) -> str:
    """The id tawk.to knows the shopper by: store and customer, so two stores sharing one
    tawk.to property never see each other's shoppers as the same person."""
    return f"{ctx.store.id}-{shopper.customer_id}"


def identity(ctx: PluginContext, shopper: Shopper) -> dict[str, Any]:
    """``visitor`` (set before the script loads) and ``login`` (for a login after the page
    loaded) for ``shopper``; hashes only when a secure-mode key is set."""
    key = ctx.settings.get("secure_mode_key") or ""
    visitor: dict[str, Any] = {"name": shopper.name}
    if shopper.email:
        visitor["email"] = shopper.email
        if key:
            visitor["hash"] = secure_hash(key, shopper.email)
    login = dict(visitor, userId=user_id(ctx, shopper))
    login.pop("hash", None)
    if key:
        login["hash"] = secure_hash(key, login["userId"])
    return {"visitor": visitor, "login": login}


class TawkToPlugin(Plugin):
    id = "tawkto"
    name = "tawk.to live chat"
    version = "1.0.0"
    category = "customer_service"
    description = "Chat with shoppers through tawk.to, with logged-in shoppers recognised."
    author = "Kedai"
    permissions = ()
    requires = ()
    core_compat = ">=0.1"
    settings_schema = Settings

    @hookimpl
    def register_blueprints(self) -> list[Any]:
        return [("storefront", storefront)]

    @hookimpl
    def storefront_widgets(self, ctx: PluginContext, page: str,
                           shopper: Shopper | None) -> list[Widget]:
        settings = ctx.settings
        if not shown_on_page(settings, page):
            return []
        config: dict[str, Any] = {
            "src": EMBED_URL.format(property_id=settings["property_id"],
                                    widget_id=settings["widget_id"]),
            **url_rules(settings),
        }
        personal = shopper is not None and bool(settings.get("identify_shoppers"))
        if personal:
            config.update(identity(ctx, shopper))
        script = ctx.url_for("tawkto_storefront.static", filename="tawkto.js",
                             store_slug=ctx.store.slug, v=self.version, _external=True)
        html = ctx.render("tawkto/widget.html", config=config)
        return [Widget(slot="floating", html=html, scripts=[script], personal=personal)]
