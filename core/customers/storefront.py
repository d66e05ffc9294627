"""The storefront account API: register, log in (password or a plugin's method), refresh, the
shopper's own profile. JSON for any theme; see ``docs/themes.md``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import Schema, fields, validate

from core.customers import service
from core.customers.models import Customer
from core.db import db
from core.errors import Forbidden, ValidationError
from core.plugins.dispatch import contributions, first_answer
from core.web.storefront import (
    current_customer,
    current_store,
    issue_shopper_token,
    load_json,
    storefront_blueprint,
)

bp = storefront_blueprint("storefront_accounts", __name__, "/api")


class RegisterSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))
    first_name = fields.String(load_default="", validate=validate.Length(max=100))
    last_name = fields.String(load_default="", validate=validate.Length(max=100))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    birthday = fields.Date(load_default=None, allow_none=True)
    accepts_marketing = fields.Boolean(load_default=False)
    fields_ = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                          data_key="fields", load_default=dict)


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ProfileSchema(Schema):
    first_name = fields.String(validate=validate.Length(max=100))
    last_name = fields.String(validate=validate.Length(max=100))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    accepts_marketing = fields.Boolean()
    birthday = fields.Date()
    fields_ = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                          data_key="fields")


def _private(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _profile(customer: Customer) -> dict[str, Any]:
    visible = {d.key for d in service.list_fields(current_store(),
                                                  visibility=("signup", "account"))}
    return {
        "id": customer.id,
        "email": customer.email,
        "phone": customer.phone,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "birthday": customer.birthday.isoformat() if customer.birthday else None,
        "accepts_marketing": customer.accepts_marketing,
        "fields": {k: v for k, v in customer.field_value_map().items() if k in visible},
        "orders_count": customer.orders_count,
    }


def _session(customer: Customer, status: int = 200) -> Response:
    token = issue_shopper_token(current_store(), customer)
    return _private({"token": token, "expires_in": 15 * 60, "customer": _profile(customer)},
                    status)


@bp.post("/register")
def register() -> Response:
    store = current_store()
    data = load_json(RegisterSchema())
    custom = data.pop("fields_")
    hidden = set(custom) - {d.key for d in service.list_fields(store, visibility=("signup",))}
    if hidden:
        key = sorted(hidden)[0]
        raise ValidationError(f"there is no signup field {key!r}", field=f"fields.{key}")
    password = data.pop("password")
    customer = service.create_customer(
        store, data, custom_fields=custom, password=password, source="storefront",
        enforce_required_fields=True, actor="storefront",
    )
    db.session.commit()
    return _session(customer, 201)


@bp.post("/login")
def login() -> Response:
    data = load_json(LoginSchema())
    customer = service.authenticate_customer(current_store(), data["email"], data["password"])
    return _session(customer)


@bp.post("/login/<method>")
def login_with(method: str) -> Response:
    """Log in with a plugin's method (e.g. ``phone_code``); the plugin checks the
    credentials through ``authenticate_customer``."""
    store = current_store()
    offered = {m.key for m in contributions(store, "login_methods")}
    if method not in offered:
        raise Forbidden(f"{method!r} is not a way to log in to this store right now",
                        field="method")
    from flask import request

    credentials = request.get_json(silent=True) or {}
    answer = first_answer(store, "authenticate_customer", method=method,
                          credentials=credentials)
    if answer is None:
        raise Forbidden("those credentials were not accepted", field="credentials")
    customer = service.get_customer(store, int(answer[1]))
    service.ensure_not_blacklisted(customer)
    return _session(customer)


@bp.get("/login-methods")
def login_methods() -> Response:
    methods = [{"key": "password", "label": "Email and password", "plugin": None}]
    methods += [{"key": m.key, "label": m.label, "plugin": m.plugin_id}
                for m in contributions(current_store(), "login_methods")]
    return jsonify(methods=methods)


@bp.post("/session/refresh")
def refresh() -> Response:
    return _session(current_customer())


@bp.get("/me")
def me() -> Response:
    return _private({"customer": _profile(current_customer())})


@bp.patch("/me")
def update_me() -> Response:
    store = current_store()
    customer = current_customer()
    data = load_json(ProfileSchema())
    birthday = data.pop("birthday", None)
    custom = data.pop("fields_", None)
    if custom:
        allowed = {d.key for d in service.list_fields(store, visibility=("signup", "account"))}
        hidden = set(custom) - allowed
        if hidden:
            key = sorted(hidden)[0]
            raise ValidationError(f"{key!r} cannot be changed here", field=f"fields.{key}")
    service.update_customer(store, customer, data, custom_fields=custom,
                            actor=f"customer:{customer.id}")
    if birthday is not None:
        service.change_own_birthday(store, customer, birthday)
    db.session.commit()
    return _private({"customer": _profile(customer)})


@bp.get("/signup-fields")
def signup_fields() -> Response:
    return jsonify(fields=[
        {"key": d.key, "label": d.label, "type": d.field_type, "options": d.options,
         "required": d.required}
        for d in service.list_fields(current_store(), visibility=("signup",))
    ])
