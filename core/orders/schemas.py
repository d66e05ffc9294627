"""Marshmallow schemas for orders. Money fields are integers in the currency's minor units."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.orders.models import ORDER_STATUSES

_MINOR = {"description": "Integer amount in the currency's minor units (cents, sen …)"}


class OrderLineSchema(Schema):
    id = fields.Int(dump_only=True)
    product_id = fields.Str(load_default="", validate=validate.Length(max=64))
    sku = fields.Str(load_default="", validate=validate.Length(max=64))
    title = fields.Str(required=True, validate=validate.Length(min=1, max=300))
    unit_price = fields.Int(
        required=True, strict=True, validate=validate.Range(min=0), metadata=_MINOR
    )
    quantity = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=100_000))
    line_total = fields.Int(dump_only=True, metadata=_MINOR)


class RefundSchema(Schema):
    id = fields.Int(dump_only=True)
    amount = fields.Int(required=True, strict=True, validate=validate.Range(min=1), metadata=_MINOR)
    reason = fields.Str(load_default="", validate=validate.Length(max=500))
    created_at = fields.DateTime(dump_only=True)


class OrderSchema(Schema):
    id = fields.Int(dump_only=True)
    number = fields.Int(dump_only=True)
    customer_id = fields.Int(allow_none=True, load_default=None)
    email = fields.Email(allow_none=True, load_default=None)
    currency = fields.Str(dump_only=True)
    status = fields.Str(dump_only=True, metadata={"enum": list(ORDER_STATUSES)})
    financial_status = fields.Str(dump_only=True)
    subtotal = fields.Int(dump_only=True, metadata=_MINOR)
    discount_total = fields.Int(
        load_default=0, strict=True, validate=validate.Range(min=0), metadata=_MINOR
    )
    shipping_total = fields.Int(
        load_default=0, strict=True, validate=validate.Range(min=0), metadata=_MINOR
    )
    total = fields.Int(dump_only=True, metadata=_MINOR)
    refunded_total = fields.Int(dump_only=True, metadata=_MINOR)
    adjustments = fields.List(fields.Dict(), dump_only=True,
                              metadata={"description": "Discounts granted by plugins"})
    note = fields.Str(load_default="", validate=validate.Length(max=5000))
    source = fields.Str(dump_only=True)
    placed_at = fields.DateTime(dump_only=True)
    paid_at = fields.DateTime(dump_only=True, allow_none=True)
    fulfilled_at = fields.DateTime(dump_only=True, allow_none=True)
    cancelled_at = fields.DateTime(dump_only=True, allow_none=True)
    lines = fields.List(
        fields.Nested(OrderLineSchema), required=True, validate=validate.Length(min=1, max=1000)
    )
    refunds = fields.List(fields.Nested(RefundSchema), dump_only=True)
