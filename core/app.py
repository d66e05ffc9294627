"""The application factory."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from core.config import Settings
from core.db import db, write_intent
from core.errors import KedaiError
from core.extensions import api, babel, bootstrap, csrf, login_manager
from core.i18n import select_locale

log = logging.getLogger(__name__)


class PublicAwareSessionInterface(SecureCookieSessionInterface):
    """Flask-Login peeks at the session on every response, which adds ``Vary: Cookie``; public
    responses (the anonymous storefront widget list) mark ``g.public_response`` to stay
    shareable by caches."""

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if g.get("public_response"):
            session.accessed = False
            session.modified = False
        super().save_session(app, session, response)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = Settings.from_env()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder="web/templates",
        static_folder="web/static",
    )
    app.config.update(settings.flask_config())
    app.config.update(overrides or {})

    app.session_interface = PublicAwareSessionInterface()
    db.init_app(app)
    babel.init_app(
        app, locale_selector=select_locale, default_translation_directories="web/translations"
    )
    bootstrap.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin_auth.login"
    login_manager.login_message_category = "warning"

    _register_models()
    from core.plugins.manager import host

    host.load()
    from jinja2 import ChoiceLoader

    from core.plugins.templates import PluginTemplateLoader

    app.jinja_loader = ChoiceLoader([app.jinja_loader, PluginTemplateLoader()])
    _register_blueprints(app)
    _register_error_handlers(app)

    # A URL value preprocessor, not before_request: blueprints' preprocessors load rows (the
    # storefront's store) and must already run in a read-only transaction.
    @app.url_value_preprocessor
    def _read_only_requests_share_sqlite(endpoint: str | None, values: Any) -> None:
        g.write_intent_token = write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.teardown_request
    def _after_request_work(exc: BaseException | None) -> None:
        from core.plugins.dispatch import flush_failures

        token = g.pop("write_intent_token", None)
        if token is not None:
            write_intent.reset(token)
        try:
            flush_failures()
        except Exception:
            log.exception("could not record plugin failures")

    @app.get("/healthz")
    def healthz() -> Any:
        try:
            db.session.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            log.error("health check failed: %s", exc)
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok")

    return app


def _register_models() -> None:
    # Importing the model modules registers every core table on the metadata.
    import core.apps.models
    import core.auth.models
    import core.customers.jobs
    import core.customers.models
    import core.events.models
    import core.executor
    import core.jobs.models
    import core.orders.models
    import core.plugins.models
    import core.stores.models
    import core.webhooks.service  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from core.admin import register_admin
    from core.api import register_api
    from core.plugins.storefront import bp as storefront_bp
    from core.plugins.storefront import render_slot
    from core.plugins.web import register_plugin_blueprints

    api.init_app(app)
    register_api(app, api)
    register_admin(app)
    from core.apps.oauth import register_oauth

    register_oauth(app)
    from core.customers.storefront import bp as accounts_bp
    from core.orders.storefront import bp as checkout_bp

    for blueprint in (storefront_bp, accounts_bp, checkout_bp):
        app.register_blueprint(blueprint)
    app.add_template_global(render_slot, "kedai_slot")
    register_plugin_blueprints(app)


def _wants_json() -> bool:
    """API, storefront and webhook callers get JSON; people in the admin get a page."""
    return (
        request.path.startswith(("/api/", "/storefront/", "/hooks/"))
        or request.accept_mimetypes.best == "application/json"
    )


def _register_error_handlers(app: Flask) -> None:
    """Domain errors become one JSON shape for the API and a flash message for pages."""

    @app.errorhandler(KedaiError)
    def handle_domain_error(error: KedaiError) -> Any:
        db.session.rollback()
        if _wants_json():
            return jsonify(error=error.to_dict()), error.status
        return render_template("error.html", error=error), error.status

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException) -> Any:
        if _wants_json():
            body = {"code": error.name.lower().replace(" ", "_"), "message": error.description}
            # Keep the error's own headers (``Allow`` on a 405, ``WWW-Authenticate`` on a 401).
            headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
            return jsonify(error=body), error.code, headers
        return error
