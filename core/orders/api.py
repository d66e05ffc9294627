"""REST endpoints for orders (O-01 to O-03): place, list, read, pay, fulfil, cancel, refund and
attach a guest order to a customer. Money is integer minor units of the store's currency."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import (
    ID,
    ApiBlueprint,
    PageArgsSchema,
    PageSchema,
    api_actor,
    current_store,
    id_field,
    page_body,
)
from core.db import db
from core.orders import service
from core.orders.models import ORDER_STATUSES, Order
from core.orders.schemas import OrderLineSchema, OrderSchema, RefundSchema

blp = ApiBlueprint("orders_api", __name__, description="Orders")

#: The largest order total the API accepts, in minor units: far above any real order and far
#: below what a 64-bit column can sum over a customer's orders.
MAX_ORDER_TOTAL = 10**13
_MONEY = validate.Range(min=0, max=MAX_ORDER_TOTAL)
_MINOR = {"description": "Integer amount in the currency's minor units (cents, sen …)"}


class OrderLineInputSchema(OrderLineSchema):
    unit_price = fields.Int(required=True, strict=True, validate=_MONEY, metadata=_MINOR)


class OrderInputSchema(OrderSchema):
    """An order to place: ``customer_id`` null (or absent) for a guest."""

    customer_id = id_field(allow_none=True, load_default=None)
    email = fields.Email(allow_none=True, load_default=None, validate=validate.Length(max=254))
    discount_total = fields.Int(load_default=0, strict=True, validate=_MONEY, metadata=_MINOR)
    shipping_total = fields.Int(load_default=0, strict=True, validate=_MONEY, metadata=_MINOR)
    lines = fields.List(
        fields.Nested(OrderLineInputSchema),
        required=True,
        validate=validate.Length(min=1, max=1000),
    )

    @validates_schema
    def _total_in_range(self, data: dict[str, Any], **kwargs: Any) -> None:
        subtotal = sum(line["unit_price"] * line["quantity"] for line in data["lines"])
        if subtotal + data["shipping_total"] > MAX_ORDER_TOTAL:
            raise ValidationError(
                f"The order total may be at most {MAX_ORDER_TOTAL} minor units.", "lines"
            )


class OrderListArgsSchema(PageArgsSchema):
    customer_id = id_field(strict=False)
    status = fields.Str(validate=validate.OneOf([*ORDER_STATUSES, "partially_refunded"]))
    q = fields.Str(
        load_default="",
        validate=validate.Length(max=254),
        metadata={"description": "An order number (#1001) or part of the order's email"},
    )


class OrderPageSchema(PageSchema):
    items = fields.List(fields.Nested(OrderSchema), required=True)


class CancelSchema(Schema):
    reason = fields.Str(load_default="", validate=validate.Length(max=500))


class RefundInputSchema(RefundSchema):
    amount = fields.Int(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_ORDER_TOTAL),
        metadata=_MINOR,
    )


class AttachSchema(Schema):
    customer_id = id_field(required=True)


def _order(order_id: int) -> Order:
    return service.get_order(current_store(), order_id)


@blp.route("/orders")
class Orders(MethodView):
    @blp.requires("orders:read")
    @blp.arguments(OrderListArgsSchema, location="query")
    @blp.response(200, OrderPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List orders, newest first

        `status` also takes `partially_refunded` (some refunded, not all).
        """
        results = service.list_orders(current_store(), **args)
        return page_body(results, list(results.items))

    @blp.requires("orders:write")
    @blp.arguments(OrderInputSchema)
    @blp.response(201, OrderSchema)
    def post(self, data: dict[str, Any]) -> Order:
        """Place an order

        For a customer (`customer_id`) or a guest (no `customer_id`). The total is the lines'
        subtotal less `discount_total` plus `shipping_total`. Blacklisted customers cannot order.
        """
        order = service.create_order(current_store(), **data, source="api", actor=api_actor())
        db.session.commit()
        return order


@blp.route(f"/orders/<{ID}:order_id>")
class OrderItem(MethodView):
    @blp.requires("orders:read")
    @blp.response(200, OrderSchema)
    def get(self, order_id: int) -> Order:
        """Read an order"""
        return _order(order_id)


@blp.route(f"/orders/<{ID}:order_id>/pay")
class OrderPay(MethodView):
    @blp.requires("orders:write")
    @blp.response(200, OrderSchema)
    def post(self, order_id: int) -> Order:
        """Mark an order paid (only a created one)"""
        order = service.mark_paid(current_store(), _order(order_id), actor=api_actor())
        db.session.commit()
        return order


@blp.route(f"/orders/<{ID}:order_id>/fulfil")
class OrderFulfil(MethodView):
    @blp.requires("orders:write")
    @blp.response(200, OrderSchema)
    def post(self, order_id: int) -> Order:
        """Mark a paid order fulfilled"""
        order = service.fulfil(current_store(), _order(order_id), actor=api_actor())
        db.session.commit()
        return order


@blp.route(f"/orders/<{ID}:order_id>/cancel")
class OrderCancel(MethodView):
    @blp.requires("orders:write")
    @blp.arguments(CancelSchema, required=False)
    @blp.response(200, OrderSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Order:
        """Cancel an unfulfilled order; a paid one is refunded in full"""
        order = service.cancel(
            current_store(), _order(order_id), reason=data["reason"], actor=api_actor()
        )
        db.session.commit()
        return order


@blp.route(f"/orders/<{ID}:order_id>/refunds")
class OrderRefunds(MethodView):
    @blp.requires("orders:write")
    @blp.arguments(RefundInputSchema)
    @blp.response(201, OrderSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Order:
        """Refund part or all of a paid order

        Answers the order, the new refund last in `refunds`. The refund that reaches the total
        makes the order `refunded`; before that its `financial_status` is `partially_refunded`.
        """
        order = _order(order_id)
        service.refund(
            current_store(), order, data["amount"], reason=data["reason"], actor=api_actor()
        )
        db.session.commit()
        return order


@blp.route(f"/orders/<{ID}:order_id>/attach-customer")
class OrderAttachCustomer(MethodView):
    @blp.requires("orders:write")
    @blp.arguments(AttachSchema)
    @blp.response(200, OrderSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Order:
        """Attach a guest order to a customer"""
        order = service.attach_customer(
            current_store(), _order(order_id), data["customer_id"], actor=api_actor()
        )
        db.session.commit()
        return order
