"""What each core event carries, as marshmallow schemas: the one source for the webhook docs,
the published JSON Schemas (``/api/v1/webhooks/schemas/<type>.json``) and the tests that
validate every delivered payload."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from core.customers.schemas import CustomerSchema
from core.orders.schemas import OrderSchema, RefundSchema


class _Customer(Schema):
    customer = fields.Nested(CustomerSchema, required=True)


class CustomerCreated(_Customer):
    source = fields.String(required=True, metadata={
        "description": "admin, api, import, storefront …"})


class CustomerUpdated(_Customer):
    changed = fields.List(fields.String(), required=True,
                          metadata={"description": "Names of the fields that changed"})


class CustomerBlacklisted(_Customer):
    reason = fields.String(required=True)


class CustomerMerged(_Customer):
    merged_customer_id = fields.Integer(required=True)
    merged_email = fields.String(allow_none=True, required=True)
    orders_moved = fields.Integer(required=True)


class CustomerBirthday(_Customer):
    date = fields.Date(required=True, metadata={"description": "Today in the store's timezone"})


class CustomerErased(Schema):
    customer_id = fields.Integer(required=True)


class _Order(Schema):
    order = fields.Nested(OrderSchema, required=True)


class OrderCancelled(_Order):
    reason = fields.String(required=True)
    refunded_amount = fields.Integer(required=True, metadata={"description": "Minor units"})


class OrderRefunded(_Order):
    refund = fields.Nested(RefundSchema, required=True)
    full = fields.Boolean(required=True)


class OrderCustomerAttached(_Order):
    previous_customer_id = fields.Integer(allow_none=True, required=True)


PAYLOADS: dict[str, type[Schema]] = {
    "customer.created": CustomerCreated,
    "customer.updated": CustomerUpdated,
    "customer.blacklisted": CustomerBlacklisted,
    "customer.merged": CustomerMerged,
    "customer.birthday": CustomerBirthday,
    "customer.erased": CustomerErased,
    "order.created": _Order,
    "order.paid": _Order,
    "order.fulfilled": _Order,
    "order.cancelled": OrderCancelled,
    "order.refunded": OrderRefunded,
    "order.customer_attached": OrderCustomerAttached,
}


def json_schema(event_type: str) -> dict[str, Any]:
    """A self-contained JSON Schema for the webhook message of ``event_type``."""
    spec = APISpec(title="Kedai events", version="1", openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()])
    spec.components.schema("Payload", schema=PAYLOADS[event_type])
    components = spec.to_dict()["components"]["schemas"]
    defs = {name: _rewrite_refs(body) for name, body in components.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://kedai.dev/schemas/webhooks/{event_type}.json",
        "title": f"Kedai webhook: {event_type}",
        "type": "object",
        "required": ["type", "timestamp", "id", "seq", "store", "data"],
        "properties": {
            "type": {"const": event_type},
            "timestamp": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"},
            "seq": {"type": "integer", "minimum": 1},
            "store": {"type": "string"},
            # The payload, or only a marker once the customer it was about has been erased.
            "data": {"oneOf": [{"$ref": "#/$defs/Payload"}, {"$ref": "#/$defs/Erased"}]},
        },
        "$defs": {**defs, "Erased": ERASED},
    }


ERASED = {
    "type": "object",
    "properties": {"erased": {"const": True}},
    "required": ["erased"],
    "additionalProperties": False,
}


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (value.replace("#/components/schemas/", "#/$defs/") if key == "$ref"
                  else _rewrite_refs(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node
