"""The merchant admin: server-rendered pages, one blueprint per area, all behind staff login."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response


def register_admin(app: Flask) -> None:
    from core.auth.admin import bp as auth_bp
    from core.customers.admin import bp as customers_bp
    from core.orders.admin import bp as orders_bp

    for blueprint in (auth_bp, customers_bp, orders_bp):
        app.register_blueprint(blueprint)

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("customers_admin.index"))
