"""The admin REST API under ``/api/v1``: one flask-smorest blueprint per domain area.

Authentication is a bearer token bound to one store (``core.auth.tokens``); each route names the
scope it needs. Errors share one body: ``{"error": {"code", "message", "field"?, "errors"?}}``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api

from core.extensions import csrf


def register_api(app: Flask, api: Api) -> None:
    from core.customers.api import blp as customers_blp
    from core.orders.api import blp as orders_blp

    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "An API token (kd_…)"}
    )
    for blueprint in (customers_blp, orders_blp):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    _install_error_format(api)


def _install_error_format(api: Api) -> None:
    """Answer webargs/marshmallow 422s and other HTTP errors in our one error shape."""

    def handle_http_exception(error: Any) -> Any:
        from flask import jsonify

        messages = (getattr(error, "data", None) or {}).get("messages")
        body: dict[str, Any] = {
            "code": "invalid" if error.code == 422 else error.name.lower().replace(" ", "_"),
            "message": error.description,
        }
        if messages:
            flat = _flatten(messages)
            first_field, first_problem = next(iter(flat.items()))
            body.update(message=f"{first_field}: {first_problem}", field=first_field, errors=flat)
        response = jsonify(error=body)
        response.status_code = error.code
        return response

    api.handle_http_exception = handle_http_exception  # type: ignore[method-assign]


def _flatten(messages: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"json": {"lines": {0: {"title": ["Missing"]}}}}`` → ``{"lines.0.title": "Missing"}``."""
    flat: dict[str, str] = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if not prefix and key in ("json", "query", "form", "headers", "files"):
            name = ""
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name or "body"] = " ".join(value) if isinstance(value, list) else str(value)
    return flat
