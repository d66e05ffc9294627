"""Intercom Messenger (W-02): the Messenger on the storefront, with the logged-in shopper
identified and, with identity verification, vouched for by a signature made here, on the
server (a JWT signed with the Messenger API secret, or the older ``user_hash``).

The widget's HTML is a JSON block of data; ``static/intercom.js`` (served by this plugin) reads
it, checks the page's address against the URL patterns, sets ``window.intercomSettings`` and
loads ``https://widget.intercom.io/widget/<app id>``. When the shopper logs out without a page
load (``Kedai.refresh()``) the script calls ``Intercom('shutdown')`` and boots an anonymous
Messenger; a login boots the shopper's.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from flask import Blueprint

from plugin_sdk import Plugin, PluginContext, Shopper, Widget, hookimpl
from plugins.intercom.placement import shown_on_page, url_rules
from plugins.intercom.settings import API_BASES, Settings

WIDGET_URL = "https://widget.intercom.io/widget/{app_id}"
#: How long a signed token is good for; Intercom suggests short-lived tokens.
JWT_LIFETIME = timedelta(hours=2)

storefront = Blueprint("intercom_storefront", __name__, static_folder="static",
                       static_url_path="/static")


def user_hash(secret: str, user_id: str) -> str:
    """Intercom's identity verification (older method): HMAC-SHA256 of the user id keyed with
    the workspace's identity verification secret, lowercase hex."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def user_jwt(secret: str, claims: dict[str, Any], now: datetime | None = None) -> str:
    """Intercom's Messenger security: an HS256 JWT of ``user_id`` (plus ``email`` and ``name``
    when known) that expires after two hours."""
    issued = now or datetime.now(UTC)
    payload = dict(claims, exp=int((issued + JWT_LIFETIME).timestamp()))
    return jwt.encode(payload, secret, algorithm="HS256")


def user_id(ctx: PluginContext, shopper: Shopper) -> str:
    """The id Intercom knows the shopper by: store and customer, so two stores sharing one
    workspace never see each other's shoppers as the same person."""
    return f"{ctx.store.id}-{shopper.customer_id}"


def identity(ctx: PluginContext, shopper: Shopper) -> dict[str, Any]:
    """The shopper's part of ``intercomSettings``, signed as the settings ask."""
    known: dict[str, Any] = {"user_id": user_id(ctx, shopper)}
    if shopper.email:
        known["email"] = shopper.email
    if shopper.name:
        known["name"] = shopper.name
    values = dict(known)
    if shopper.created_at is not None:
        created = shopper.created_at
        if created.tzinfo is None:  # stored in UTC
            created = created.replace(tzinfo=UTC)
        values["created_at"] = int(created.timestamp())
    method = ctx.settings.get("verification", "none")
    secret = ctx.settings.get("verification_secret") or ""
    if method == "jwt" and secret:
        values["intercom_user_jwt"] = user_jwt(secret, known)
    elif method == "user_hash" and secret:
        values["user_hash"] = user_hash(secret, known["user_id"])
    return values


class IntercomPlugin(Plugin):
    id = "intercom"
    name = "Intercom Messenger"
    version = "1.0.0"
    category = "customer_service"
    description = "The Intercom Messenger on your storefront, with logged-in shoppers identified."
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
        boot: dict[str, Any] = {"app_id": settings["app_id"],
                                "api_base": API_BASES[settings["region"]]}
        personal = shopper is not None and bool(settings.get("identify_shoppers"))
        if personal:
            boot.update(identity(ctx, shopper))
        config = {"src": WIDGET_URL.format(app_id=settings["app_id"]), **url_rules(settings),
                  "settings": boot}
        script = ctx.url_for("intercom_storefront.static", filename="intercom.js",
                             store_slug=ctx.store.slug, v=self.version, _external=True)
        html = ctx.render("intercom/widget.html", config=config)
        return [Widget(slot="floating", html=html, scripts=[script], personal=personal)]
