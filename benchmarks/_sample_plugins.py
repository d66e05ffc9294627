"""Six widget-providing plugins for ``benchmarks/widgets_endpoint.py``, written against
``plugin_sdk`` only, like a third party's. Each has settings, renders its template with
``ctx.render`` and declares a script, so the widget list looks like a real store's.

The benchmark loads them in every gunicorn worker with
``KEDAI_EXTRA_PLUGINS=_sample_plugins:ChatButton,…`` (this folder on ``PYTHONPATH``).
Their templates live in ``_sample_plugin_files/templates/<id>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marshmallow import Schema, validate

from plugin_sdk import Color, Plugin, Text, Widget, hookimpl

FILES = Path(__file__).resolve().parent / "_sample_plugin_files"


class _Settings(Schema):
    heading = Text(load_default="Hello", validate=validate.Length(max=80))
    colour = Color(load_default="#336699")


class _WidgetPlugin(Plugin):
    """One widget per page, from ``templates/<id>/widget.html`` with the settings."""

    version = "1.0.0"
    category = "marketing"
    settings_schema = _Settings
    slot = "floating"
    values: dict[str, Any] = {}

    @classmethod
    def package_path(cls) -> Path:
        return FILES

    @hookimpl
    def storefront_widgets(self, ctx: Any, page: str) -> list[Widget]:
        html = ctx.render(f"{self.id}/widget.html", colour=ctx.settings["colour"],
                          heading=ctx.settings["heading"], **self.values)
        return [Widget(slot=self.slot, html=html, scripts=[f"https://cdn.example/{self.id}.js"],
                       priority=len(self.id))]


class ChatButton(_WidgetPlugin):
    id = "bench_chat"
    name = "Chat button"
    category = "customer_service"
    values = {"label": "Chat with us"}


class NewsletterForm(_WidgetPlugin):
    id = "bench_newsletter"
    name = "Newsletter"
    slot = "footer"
    values = {"button": "Subscribe"}


class RewardsTeaser(_WidgetPlugin):
    id = "bench_rewards"
    name = "Rewards teaser"
    category = "loyalty"
    slot = "sidebar"
    values = {"ways": ["Sign up: 100 points", "Every RM1: 1 point", "Birthday: 200 points"]}


class ContactButton(_WidgetPlugin):
    id = "bench_contact"
    name = "Contact button"
    category = "customer_service"
    values = {"channels": ["WhatsApp", "LINE", "Messenger", "Telegram", "Email"]}


class AnnouncementBar(_WidgetPlugin):
    id = "bench_announcement"
    name = "Announcement bar"
    slot = "header"
    values = {"text": "Free shipping over RM150 · 滿 RM150 免運費"}


class TrustBadges(_WidgetPlugin):
    id = "bench_badges"
    name = "Trust badges"
    slot = "footer"
    values = {"badges": ["Secure checkout", "30-day returns", "Local support"]}


PLUGINS = [ChatButton, NewsletterForm, RewardsTeaser, ContactButton, AnnouncementBar,
           TrustBadges]
