"""Marshmallow schemas for customers, tags and custom fields: API bodies and event payloads."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from core.customers.models import FIELD_TYPES, FIELD_VISIBILITY, Customer


class TagSchema(Schema):
    id = fields.Int(dump_only=True)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    description = fields.Str(load_default="", validate=validate.Length(max=500))
    created_at = fields.DateTime(dump_only=True)


class TagUpdateSchema(Schema):
    name = fields.Str(validate=validate.Length(min=1, max=64))
    description = fields.Str(validate=validate.Length(max=500))


class CustomFieldSchema(Schema):
    id = fields.Int(dump_only=True)
    key = fields.Str(
        required=True,
        validate=validate.Regexp(
            r"^[a-z][a-z0-9_]{0,63}$", error="Use lowercase letters, digits and _ (max 64)."
        ),
    )
    label = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    field_type = fields.Str(required=True, validate=validate.OneOf(FIELD_TYPES))
    options = fields.List(fields.Str(validate=validate.Length(min=1, max=200)), load_default=list)
    required = fields.Bool(load_default=False)
    visibility = fields.Str(load_default="staff", validate=validate.OneOf(FIELD_VISIBILITY))
    position = fields.Int(load_default=0)


class CustomFieldUpdateSchema(Schema):
    label = fields.Str(validate=validate.Length(min=1, max=200))
    options = fields.List(fields.Str(validate=validate.Length(min=1, max=200)))
    required = fields.Bool()
    visibility = fields.Str(validate=validate.OneOf(FIELD_VISIBILITY))
    position = fields.Int()


class CustomerSchema(Schema):
    """A customer as the API and event payloads show it. Money is in minor units."""

    id = fields.Int(dump_only=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.Str(allow_none=True, validate=validate.Length(max=40))
    first_name = fields.Str(validate=validate.Length(max=100))
    last_name = fields.Str(validate=validate.Length(max=100))
    birthday = fields.Date(allow_none=True)
    accepts_marketing = fields.Bool()
    note = fields.Str(validate=validate.Length(max=5000))
    location = fields.Str(validate=validate.Length(max=100))
    salesperson = fields.Str(validate=validate.Length(max=100))
    tags = fields.List(fields.Str(validate=validate.Length(min=1, max=64)))
    fields_ = fields.Dict(
        keys=fields.Str(), values=fields.Raw(allow_none=True), data_key="fields", attribute="fields"
    )
    source = fields.Str(dump_only=True)
    blacklisted = fields.Bool(dump_only=True)
    blacklisted_at = fields.DateTime(dump_only=True, allow_none=True)
    blacklist_reason = fields.Str(dump_only=True)
    orders_count = fields.Int(dump_only=True)
    total_spent = fields.Int(dump_only=True, metadata={"description": "Minor units"})
    last_order_at = fields.DateTime(dump_only=True, allow_none=True)
    merged_into_id = fields.Int(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """The customer as it goes into event payloads and exports."""
    data = CustomerSchema().dump(customer_view(customer))
    return data


def customer_view(customer: Customer) -> dict[str, Any]:
    """Attributes of ``customer`` shaped for ``CustomerSchema`` (tags as names, fields by key)."""
    view = {column.key: getattr(customer, column.key) for column in Customer.__table__.columns}
    view["tags"] = [tag.name for tag in customer.tags]
    view["fields"] = customer.field_value_map()
    return view
