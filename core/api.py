"""The admin REST API under ``/api/v1``: one flask-smorest blueprint per domain area.

Authentication is a bearer token bound to one store (``core.auth.tokens``); each operation names
the scope it needs with ``@blp.requires("customers:read")``, which also documents the ``bearer``
security scheme and the 401/403 answers in OpenAPI. Errors share one body:
``{"error": {"code", "message", "field"?, "errors"?, "details"?}}``.

Lists answer one envelope: ``{"items": [...], ...}``. Page-numbered lists (customers, orders)
add ``page``, ``per_page``, ``total`` and ``pages``; the event feed and the customer timeline are
cursors and add ``next_since`` / ``next_before`` instead.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import marshmallow as ma
from flask import Flask, Response, jsonify, request
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from core.extensions import csrf

#: Ids are 32-bit on PostgreSQL (``integer`` columns); larger numbers cannot name a row.
MAX_ID = 2**31 - 1
#: The URL converter for an id in a path: out-of-range numbers do not match (404).
ID = f"int(min=1, max={MAX_ID})"
#: Page numbers stop here so that ``OFFSET`` stays far inside a 64-bit integer.
MAX_PAGE = 2**31 - 1


def id_field(*, strict: bool = True, **kwargs: Any) -> fields.Int:
    """An integer id, 1 up to ``MAX_ID``: a JSON number in bodies (``strict``), digits in a
    query string (``strict=False``)."""
    return fields.Int(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class StrictBool(fields.Boolean):
    """A JSON ``true`` or ``false`` and nothing else (marshmallow also takes 1, "yes", "on" …).
    For bodies; query strings keep ``fields.Bool``, where ``true``/``false`` arrive as text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class ApiErrorDetailSchema(Schema):
    code = fields.Str(
        required=True, metadata={"description": "Machine-readable: invalid, not_found, …"}
    )
    message = fields.Str(required=True, metadata={"description": "What is wrong, for people"})
    field = fields.Str(metadata={"description": "The input the error concerns: `lines.0.title`"})
    errors = fields.Dict(
        keys=fields.Str(),
        values=fields.Str(),
        metadata={"description": "Every invalid input by its dotted path"},
    )
    details = fields.Dict(metadata={"description": "Extra facts about the error"})


class ApiErrorSchema(Schema):
    error = fields.Nested(ApiErrorDetailSchema, required=True)


class PageSchema(Schema):
    """The envelope fields of a page-numbered list; subclasses add ``items``."""

    page = fields.Int(required=True)
    per_page = fields.Int(required=True)
    total = fields.Int(required=True, metadata={"description": "Items matching, on all pages"})
    pages = fields.Int(required=True, metadata={"description": "Number of pages (0 when empty)"})


class PageArgsSchema(Schema):
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=500))


def page_body(pagination: Any, items: list[Any]) -> dict[str, Any]:
    """The list envelope for a Flask-SQLAlchemy ``Pagination`` whose items are ``items``."""
    return {
        "items": items,
        "page": pagination.page,
        "per_page": pagination.per_page,
        "total": pagination.total,
        "pages": pagination.pages,
    }


# --- input that no database can store ---------------------------------------------------------


def _unstorable(text: str) -> bool:
    """NUL is refused by PostgreSQL text and lone surrogates by every UTF-8 encoder."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unstorable_paths(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, str):
        if _unstorable(value):
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _unstorable(key):
                yield name
            yield from _unstorable_paths(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_paths(item, f"{path}.{index}" if path else str(index))


class KedaiParser(FlaskParser):
    """webargs' Flask parser refusing text that cannot be stored, with a 422 naming the input,
    instead of letting the database fail on it later."""

    def _load_location_data(self, *, schema: ma.Schema, req: Any, location: str) -> Any:
        data = super()._load_location_data(schema=schema, req=req, location=location)
        if location in ("query", "querystring"):
            # A repeated argument is one input: name it, not its position.
            paths: Iterator[str] = (
                key
                for key, value in req.args.items(multi=True)
                if _unstorable(key) or _unstorable(value)
            )
        else:
            paths = _unstorable_paths(data)
        for path in paths:
            raise ma.ValidationError({path: ["Text with NUL or unpaired surrogates."]})
        return data


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint of the admin API: our parser, our error body, scope checks."""

    ARGUMENTS_PARSER = KedaiParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Blueprint handlers win over the app's generic HTTPException handler for errors
        # raised inside these views (webargs 422s, Authlib 401/403).
        self.register_error_handler(HTTPException, api_error_response)

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Any:
        """flask-smorest's ``arguments``; a required JSON body must also be present and JSON
        (webargs alone would load an absent body as ``{}``, turning a PATCH into a no-op)."""
        decorator = super().arguments(schema, location=location, **kwargs)
        if location != "json" or not kwargs.get("required", True):
            return decorator

        def require_body(view: Callable[..., Any]) -> Callable[..., Any]:
            parsed = decorator(view)

            @functools.wraps(parsed)
            def checked(*args: Any, **view_kwargs: Any) -> Any:
                if not request.get_data(cache=True):
                    abort(422, messages={"body": ["A JSON body is required."]})
                if not request.is_json:
                    abort(415, message="Send the body as application/json.")
                return parsed(*args, **view_kwargs)

            return checked

        return require_body

    def requires(self, scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorate an operation (outermost, so the token is checked before the input): it needs
        a bearer token with ``scope``. Documents the security scheme and the 401/403 answers."""
        from core.auth.tokens import require_scope

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            view = require_scope(scope)(view)
            view = self.alt_response(
                401,
                schema=ApiErrorSchema,
                description="No token, or an unknown or revoked one",
                success=False,
            )(view)
            view = self.alt_response(
                403,
                schema=ApiErrorSchema,
                description=f"The token lacks the `{scope}` scope (or the action is forbidden)",
                success=False,
            )(view)
            return self.doc(
                security=[{"bearer": []}, {"oauth2": [scope]}], **{"x-required-scope": scope}
            )(view)

        return decorator


def api_actor() -> str:
    """Who the events of this request name: ``api:<token id>``, or ``app:<client id>`` for an
    installed app's OAuth token."""
    from authlib.integrations.flask_oauth2 import current_token

    return str(current_token.actor)


def current_store() -> Any:
    """The store of the request's token."""
    from core.auth.tokens import token_store

    return token_store()


# --- errors -----------------------------------------------------------------------------------


def api_error_response(error: HTTPException) -> Response:
    """Any HTTP error of an API view in the one error shape.

    webargs puts validation messages on ``error.data["messages"]``; they are flattened to dotted
    paths (``lines.0.title``) and the first one becomes ``field``. Authlib's OAuth errors carry
    an RFC 6750 JSON body and a ``WWW-Authenticate`` header, both kept in meaning.
    """
    code = error.code or 500
    body: dict[str, Any] = {
        "code": "invalid" if code == 422 else _code_name(error),
        "message": error.description or error.name,
    }
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    oauth_body = getattr(error, "body", None)
    if isinstance(oauth_body, str):
        try:
            oauth = json.loads(oauth_body)
        except ValueError:
            oauth = {}
        body["code"] = oauth.get("error", body["code"])
        body["message"] = oauth.get("error_description") or body["message"]
    data = getattr(error, "data", None) or {}
    if isinstance(data.get("message"), str):
        body["message"] = data["message"]
    messages = data.get("messages")
    if messages:
        flat = _flatten(messages)
        first_field, first_problem = next(iter(flat.items()))
        body.update(message=f"{first_field}: {first_problem}", field=first_field, errors=flat)
    response = jsonify(error=body)
    response.status_code = code
    for key, value in headers:
        response.headers[key] = value
    return response


def _code_name(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_")


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """``{"json": {"lines": {0: {"title": ["Missing"]}}}}`` → ``{"lines.0.title": "Missing"}``."""
    if not isinstance(messages, dict):
        return {prefix or "body": _text(messages)}
    flat: dict[str, str] = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if not prefix and key in ("json", "query", "querystring", "form", "headers", "files"):
            name = ""
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name or "body"] = _text(value)
    return flat


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    return str(value)


# --- registration -----------------------------------------------------------------------------


def register_api(app: Flask, api: Api) -> None:
    from core.customers.api import blp as customers_blp
    from core.events.api import blp as events_blp
    from core.orders.api import blp as orders_blp
    from core.plugins.api import blp as plugins_blp
    from core.webhooks.api import blp as webhooks_blp

    api.spec.components.security_scheme(
        "bearer",
        {"type": "http", "scheme": "bearer",
         "description": "An API token (kd_…) or an app's OAuth access token (kdo_…)"},
    )
    from core.auth.tokens import SCOPES

    scopes = {name: str(text) for name, text in SCOPES.items()}
    api.spec.components.security_scheme("oauth2", {
        "type": "oauth2",
        "description": "Apps a merchant installs (docs/api.md, Apps); tokens are kdo_…",
        "flows": {
            "authorizationCode": {"authorizationUrl": "/oauth/authorize",
                                  "tokenUrl": "/oauth/token", "refreshUrl": "/oauth/token",
                                  "scopes": scopes},
            "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": scopes},
        },
    })
    # flask-smorest documents its own error body for 422 and ``default``; ours differs.
    api.ERROR_SCHEMA = ApiErrorSchema
    api._register_responses()
    for blueprint in (customers_blp, orders_blp, events_blp, webhooks_blp, plugins_blp):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")
