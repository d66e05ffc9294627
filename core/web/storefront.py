"""What every storefront door shares: the store from the URL, shopper tokens, CORS.

Storefront routes live under ``/storefront/<store>/``. They are public JSON for themes on any
origin: no cookies, no CSRF tokens; a logged-in shopper is named by a short-lived signed token
sent as ``Authorization: Bearer …`` (or ``?token=`` for script tags).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from core.customers.models import Customer
from core.db import db
from core.errors import Forbidden
from core.extensions import csrf
from core.stores.models import Store
from core.stores.service import get_store
from plugin_sdk.context import Shopper

SHOPPER_TOKEN_SECONDS = 15 * 60


def storefront_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    """A blueprint under ``/storefront/<store>{url_prefix}`` with the store loaded into
    ``g.kedai_store``, CSRF off and permissive CORS on every response."""
    bp = Blueprint(name, import_name, url_prefix=f"/storefront/<store_slug>{url_prefix}")
    csrf.exempt(bp)

    @bp.url_value_preprocessor
    def _take_slug(endpoint: str | None, values: dict[str, Any] | None) -> None:
        # The store is loaded when a view first asks (``current_store``), so a view that can
        # answer from a cache never touches the database.
        g.kedai_store_slug = (values or {}).pop("store_slug", "")

    @bp.url_defaults
    def _add_store(endpoint: str, values: dict[str, Any]) -> None:
        slug = g.get("kedai_store_slug")
        if slug:
            values.setdefault("store_slug", slug)

    @bp.after_request
    def _cors(response: Response) -> Response:
        # Credentials travel as bearer tokens, never cookies: no origin is trusted with more
        # than what it already holds.
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, OPTIONS"
        return response

    return bp


def current_store() -> Store:
    """The store named in the URL, loaded once per request; ``NotFound`` if there is none."""
    store = g.get("kedai_store")
    if store is None:
        store = g.kedai_store = get_store(g.get("kedai_store_slug", ""))
    return store


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="kedai-shopper-token")


def issue_shopper_token(store: Store, customer: Customer) -> str:
    """A short-lived signed token naming the shopper (15 minutes; refresh before it ends)."""
    return _serializer().dumps({"s": store.id, "c": customer.id})


def customer_from_token(store: Store, token: str | None) -> Customer | None:
    """The live, not blacklisted customer a valid token of this store names."""
    if not token:
        return None
    try:
        data = _serializer().loads(token, max_age=SHOPPER_TOKEN_SECONDS)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or data.get("s") != store.id:
        return None
    customer = db.session.get(Customer, data.get("c"))
    if (customer is None or customer.store_id != store.id or customer.blacklisted
            or customer.merged_into_id is not None or customer.erased_at is not None):
        return None
    return customer


def shopper_of(customer: Customer | None) -> Shopper | None:
    if customer is None:
        return None
    return Shopper(customer_id=customer.id, email=customer.email, name=customer.name,
                   phone=customer.phone, created_at=customer.created_at)


def request_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return request.args.get("token") or None


def current_customer(required: bool = True) -> Customer | None:
    """The shopper the request's token names; ``Forbidden`` when required and missing."""
    customer = customer_from_token(current_store(), request_token())
    if customer is None and required:
        raise Forbidden("log in first: this needs a valid shopper token", field="token")
    return customer


def load_json(schema: Any) -> dict[str, Any]:
    """The request's JSON body loaded with a marshmallow schema; the first problem becomes a
    ``ValidationError`` naming its field (the app answers it as JSON 422)."""
    from marshmallow import ValidationError as SchemaError

    from core.errors import ValidationError

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("send a JSON object", field="body")
    try:
        return schema.load(body)
    except SchemaError as exc:
        messages = exc.normalized_messages()
        field, problem = _first(messages)
        raise ValidationError(f"{field}: {problem}", field=field, errors=messages) from exc


def _first(messages: Any, prefix: str = "") -> tuple[str, str]:
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            return _first(value, name)
        return name, " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return prefix or "body", "invalid"
