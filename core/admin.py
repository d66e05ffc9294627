"""The merchant admin: server-rendered pages, one blueprint per area, all behind staff login."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, url_for
from flask_babel import get_locale
from werkzeug.wrappers import Response

from core.i18n import LANGUAGE_NAMES
from core.i18n import lazy_gettext as _l
from core.money import format_money

#: The admin's top navigation: (endpoint, label). Areas and, later, plugins add to it.
NAV: list[tuple[str, Any]] = [
    ("customers_admin.index", _l("Customers")),
    ("orders_admin.index", _l("Orders")),
    ("customers_admin.tags", _l("Tags")),
    ("customers_admin.fields", _l("Custom fields")),
    ("customers_io.import_start", _l("Import")),
    ("plugins_admin.index", _l("Marketplace")),
    ("apps_admin.index", _l("Apps")),
    ("webhooks_admin.index", _l("Webhooks")),
]


def register_admin(app: Flask) -> None:
    from core.apps.admin import bp as apps_bp
    from core.auth.admin import bp as auth_bp
    from core.customers.admin import bp as customers_bp
    from core.customers.admin_io import bp as customers_io_bp
    from core.orders.admin import bp as orders_bp
    from core.plugins.admin import bp as plugins_bp
    from core.web.language import bp as language_bp
    from core.webhooks.admin import bp as webhooks_bp

    for blueprint in (auth_bp, customers_bp, customers_io_bp, orders_bp, plugins_bp, apps_bp,
                      webhooks_bp, language_bp):
        app.register_blueprint(blueprint)

    @app.context_processor
    def admin_context() -> dict[str, Any]:
        return {
            "admin_nav": lambda: NAV,
            "current_locale_tag": lambda: str(get_locale() or "en").replace("_", "-"),
            "current_locale": lambda: str(get_locale() or "en"),
            "language_names": lambda: LANGUAGE_NAMES,
            "money": format_money,
        }

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("customers_admin.index"))
