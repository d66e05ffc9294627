"""The storefront checkout API: quote a cart with plugin discounts, place the order, and — for
stores in test mode (the demo) — pay it with a test payment."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import Schema, fields, validate

from core.db import db
from core.errors import Forbidden
from core.orders import checkout, service
from core.orders.schemas import OrderLineSchema, OrderSchema
from core.web.storefront import current_customer, current_store, load_json, storefront_blueprint

bp = storefront_blueprint("storefront_checkout", __name__, "/api/checkout")


class CartSchema(Schema):
    lines = fields.List(fields.Nested(OrderLineSchema), required=True,
                        validate=validate.Length(min=1, max=200))
    shipping_total = fields.Integer(load_default=0, strict=True,
                                    validate=validate.Range(min=0, max=10_000_000))
    email = fields.Email(load_default=None, allow_none=True)
    requests = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict)
    pay = fields.Boolean(load_default=False)


def _quote_body(priced: checkout.Quote) -> dict[str, Any]:
    return {"currency": priced.currency, "subtotal": priced.subtotal,
            "shipping_total": priced.shipping_total, "discount_total": priced.discount_total,
            "total": priced.total,
            "adjustments": [{k: a[k] for k in ("plugin_id", "code", "label", "amount")}
                            for a in priced.adjustments]}


@bp.post("/quote")
def quote() -> Response:
    data = load_json(CartSchema())
    customer = current_customer(required=False)
    priced = checkout.quote(current_store(), lines=data["lines"],
                            customer_id=customer.id if customer else None,
                            shipping_total=data["shipping_total"], requests=data["requests"])
    response = jsonify(_quote_body(priced))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("")
def place() -> Response:
    """Place the order; ``"pay": true`` also pays it, only in stores with test payments on."""
    store = current_store()
    data = load_json(CartSchema())
    customer = current_customer(required=False)
    if customer is None and not data["email"]:
        raise Forbidden("log in or give an email address for the order", field="email")
    if data["pay"] and not store.test_payments:
        raise Forbidden("this store takes payment through its own checkout", field="pay")
    order = checkout.place(store, lines=data["lines"],
                           customer_id=customer.id if customer else None, email=data["email"],
                           shipping_total=data["shipping_total"], requests=data["requests"],
                           actor=f"customer:{customer.id}" if customer else "storefront")
    if data["pay"]:
        service.mark_paid(store, order, actor="storefront:test-payment")
    db.session.commit()
    response = jsonify(order=OrderSchema().dump(order))
    response.status_code = 201
    response.headers["Cache-Control"] = "private, no-store"
    return response
