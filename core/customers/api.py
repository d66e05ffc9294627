"""REST endpoints for customers, tags and custom fields (C-01 to C-05, C-09, C-10, C-13).

Views parse, call ``core.customers.service`` with the token's store, commit and dump; every
rule lives in the service. Another store's ids answer 404 because every lookup takes the store.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from core.api import (
    ID,
    MAX_ID,
    ApiBlueprint,
    PageArgsSchema,
    PageSchema,
    StrictBool,
    api_actor,
    current_store,
    id_field,
    page_body,
)
from core.customers import service
from core.customers.models import Customer
from core.customers.schemas import (
    CustomerSchema,
    CustomFieldSchema,
    CustomFieldUpdateSchema,
    TagSchema,
    TagUpdateSchema,
    customer_view,
)
from core.db import db
from core.errors import KedaiError
from core.events.api import EventSchema
from core.events.service import customer_timeline

blp = ApiBlueprint("customers_api", __name__, description="Customers, their tags and custom fields")

#: Filter dates become store-local midnights in UTC, a day later for inclusive ends. Nothing
#: happened outside these days, and beyond them that arithmetic leaves ``datetime``'s range,
#: so filter dates are clamped to them.
_EARLIEST, _LATEST = date(1900, 1, 1), date(9999, 12, 30)
_DATE_FILTERS = ("created_from", "created_to", "last_order_before", "last_order_after")
_COUNT = validate.Range(min=0, max=2**31 - 1)
_MINOR = validate.Range(min=0, max=2**63 - 1)
PLUGIN_ARG = "plugin."


# --- schemas ----------------------------------------------------------------------------------


class CustomerFilterSchema(Schema):
    """What the customer list narrows to; empty inputs do not filter. Money is minor units;
    dates are inclusive store-local days."""

    q = fields.Str(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Search in name, email and phone"},
    )
    created_from = fields.Date()
    created_to = fields.Date()
    orders_min = fields.Int(validate=_COUNT)
    orders_max = fields.Int(validate=_COUNT)
    spent_min = fields.Int(validate=_MINOR, metadata={"description": "Minor units"})
    spent_max = fields.Int(validate=_MINOR, metadata={"description": "Minor units"})
    last_order_before = fields.Date()
    last_order_after = fields.Date()
    tag = fields.List(
        fields.Str(validate=validate.Length(min=1, max=64)),
        metadata={"description": "Tag names (repeat for several): customers with any of them"},
    )
    blacklisted = fields.Bool()
    accepts_marketing = fields.Bool()
    field_key = fields.Str(
        validate=validate.Length(max=64), metadata={"description": "A custom field's key"}
    )
    field_value = fields.Str(
        validate=validate.Length(max=1000),
        metadata={"description": "With field_key: that exact value (else: any value)"},
    )


class CustomerListArgsSchema(CustomerFilterSchema, PageArgsSchema):
    sort = fields.Str(load_default="created", validate=validate.OneOf(list(service.SORTS)))
    order = fields.Str(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class BulkFilterSchema(CustomerFilterSchema):
    """The list's filters as a JSON object (so numbers and booleans are JSON ones)."""

    orders_min = fields.Int(strict=True, validate=_COUNT)
    orders_max = fields.Int(strict=True, validate=_COUNT)
    spent_min = fields.Int(strict=True, validate=_MINOR, metadata={"description": "Minor units"})
    spent_max = fields.Int(strict=True, validate=_MINOR, metadata={"description": "Minor units"})
    blacklisted = StrictBool()
    accepts_marketing = StrictBool()
    plugin = fields.Dict(
        keys=fields.Str(validate=validate.Length(min=1, max=100)),
        values=fields.Str(validate=validate.Length(max=200)),
        metadata={"description": "Filters of the store's plugins by key, as `plugin.<key>`"},
    )


class CustomerInputSchema(CustomerSchema):
    """A customer as created or changed (the same fields; booleans are JSON booleans)."""

    accepts_marketing = StrictBool()


class CustomerPageSchema(PageSchema):
    items = fields.List(fields.Nested(CustomerSchema), required=True)


class BlacklistSchema(Schema):
    reason = fields.Str(load_default="", validate=validate.Length(max=500))


class MergeSchema(Schema):
    merge_id = id_field(
        required=True, metadata={"description": "The customer folded into this one"}
    )


class MoveOrdersSchema(Schema):
    target_id = id_field(required=True, metadata={"description": "The customer who gets them"})
    order_ids = fields.List(
        id_field(),
        validate=validate.Length(max=10_000),
        metadata={"description": "Only these orders (default: all of them)"},
    )


class MovedSchema(Schema):
    moved = fields.Int(required=True, metadata={"description": "Orders moved"})


class TimelineArgsSchema(Schema):
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=500))
    before = fields.Int(
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "Only events with a smaller seq: `next_before` of a page"},
    )


class TimelineSchema(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
    next_before = fields.Int(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `before` for older events; null at the end"},
    )


class PrivacyExportSchema(Schema):
    store = fields.Str(required=True)
    exported_at = fields.Str(required=True, metadata={"description": "ISO 8601, UTC"})
    customer = fields.Dict(required=True, metadata={"description": "As in Customer"})
    orders = fields.List(fields.Dict(), required=True, metadata={"description": "As in Order"})
    events = fields.List(fields.Dict(), required=True)
    plugins = fields.Dict(
        required=True, metadata={"description": "What each enabled plugin holds, by plugin id"}
    )


class BulkTagsSchema(Schema):
    ids = fields.List(id_field(), validate=validate.Length(max=10_000))
    filter = fields.Nested(
        BulkFilterSchema, metadata={"description": "The same filters as the list; {} is everyone"}
    )
    add = fields.List(fields.Str(validate=validate.Length(min=1, max=64)), load_default=list)
    remove = fields.List(fields.Str(validate=validate.Length(min=1, max=64)), load_default=list)


class BulkTagsResultSchema(Schema):
    added = fields.Int(required=True, metadata={"description": "Customers that gained a tag"})
    removed = fields.Int(required=True, metadata={"description": "Customers that lost a tag"})


class TagListSchema(Schema):
    items = fields.List(fields.Nested(TagSchema), required=True)


class CustomFieldInputSchema(CustomFieldSchema):
    required = StrictBool(load_default=False)
    position = fields.Int(
        load_default=0, strict=True, validate=validate.Range(min=-MAX_ID, max=MAX_ID)
    )


class CustomFieldChangesSchema(CustomFieldUpdateSchema):
    required = StrictBool()
    position = fields.Int(strict=True, validate=validate.Range(min=-MAX_ID, max=MAX_ID))


class CustomFieldListSchema(Schema):
    items = fields.List(fields.Nested(CustomFieldSchema), required=True)


# --- helpers ----------------------------------------------------------------------------------


def customer_filter(args: dict[str, Any]) -> service.CustomerFilter:
    """A ``CustomerFilter`` from parsed filter arguments; tag names become ids (an unknown name
    matches nobody)."""
    store = current_store()
    names = set(args.get("tag") or ())
    values = {
        key: value
        for key, value in args.items()
        if key not in ("tag", "sort", "order", "page", "per_page")
    }
    for key in _DATE_FILTERS:
        if key in values:
            values[key] = min(max(values[key], _EARLIEST), _LATEST)
    flt = service.CustomerFilter(**values)
    if names:
        flt.tag_ids = [tag.id for tag in service.list_tags(store) if tag.name in names] or [0]
    return flt


def _dump(customer: Customer) -> dict[str, Any]:
    return customer_view(customer)


def _customer(customer_id: int) -> Customer:
    return service.get_customer(current_store(), customer_id)


# --- customers --------------------------------------------------------------------------------


@blp.route("/customers")
class Customers(MethodView):
    @blp.requires("customers:read")
    @blp.arguments(CustomerListArgsSchema, location="query")
    @blp.response(200, CustomerPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List customers

        Live customers (not merged, not erased) matching every given filter, one page at a time.
        Filters that the store's plugins add are passed as `plugin.<key>=<value>`.
        """
        flt = customer_filter(args)
        flt.plugin = {
            key[len(PLUGIN_ARG) :]: value
            for key, value in request.args.items()
            if key.startswith(PLUGIN_ARG) and value.strip()
        }
        results = service.search_customers(
            current_store(),
            flt,
            sort=args["sort"],
            descending=args["order"] == "desc",
            page=args["page"],
            per_page=args["per_page"],
        )
        return page_body(results, [_dump(c) for c in results.items])

    @blp.requires("customers:write")
    @blp.arguments(CustomerInputSchema)
    @blp.response(201, CustomerSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a customer

        Needs an email or a phone. `tags` are names (created when new); `fields` sets custom
        field values by key.
        """
        tags = data.pop("tags", ())
        custom_fields = data.pop("fields", None)
        customer = service.create_customer(
            current_store(),
            data,
            tags=tags,
            custom_fields=custom_fields,
            source="api",
            actor=api_actor(),
        )
        db.session.commit()
        return _dump(customer)


@blp.route(f"/customers/<{ID}:customer_id>")
class CustomerItem(MethodView):
    @blp.requires("customers:read")
    @blp.response(200, CustomerSchema)
    def get(self, customer_id: int) -> dict[str, Any]:
        """Read a customer"""
        return _dump(_customer(customer_id))

    @blp.requires("customers:write")
    @blp.arguments(CustomerInputSchema)
    @blp.response(200, CustomerSchema)
    def patch(self, data: dict[str, Any], customer_id: int) -> dict[str, Any]:
        """Change a customer

        Only the given inputs change. `tags` replaces the customer's tags; `fields` sets the
        given custom fields (null or "" clears one) and leaves the others.
        """
        store = current_store()
        customer = _customer(customer_id)
        tags = data.pop("tags", None)
        custom_fields = data.pop("fields", None)
        service.update_customer(
            store, customer, data, tags=tags, custom_fields=custom_fields, actor=api_actor()
        )
        db.session.commit()
        return _dump(customer)


@blp.route(f"/customers/<{ID}:customer_id>/blacklist")
class CustomerBlacklist(MethodView):
    @blp.requires("customers:write")
    @blp.arguments(BlacklistSchema, required=False)
    @blp.response(200, CustomerSchema)
    def post(self, data: dict[str, Any], customer_id: int) -> dict[str, Any]:
        """Blacklist a customer

        A blacklisted customer cannot log in or order. Blacklisting again changes nothing.
        """
        customer = _customer(customer_id)
        service.blacklist(current_store(), customer, data["reason"], actor=api_actor())
        db.session.commit()
        return _dump(customer)

    @blp.requires("customers:write")
    @blp.response(200, CustomerSchema)
    def delete(self, customer_id: int) -> dict[str, Any]:
        """Take a customer off the blacklist"""
        customer = _customer(customer_id)
        service.unblacklist(current_store(), customer, actor=api_actor())
        db.session.commit()
        return _dump(customer)


@blp.route(f"/customers/<{ID}:customer_id>/merge")
class CustomerMerge(MethodView):
    @blp.requires("customers:write")
    @blp.arguments(MergeSchema)
    @blp.response(200, CustomerSchema)
    def post(self, data: dict[str, Any], customer_id: int) -> dict[str, Any]:
        """Merge another customer into this one

        Orders, tags, custom fields and missing profile data move over; the merged account
        stays readable with `merged_into_id` set and leaves the list.
        """
        store = current_store()
        keep = _customer(customer_id)
        merged = service.get_customer(store, data["merge_id"])
        service.merge_customers(store, keep, merged, actor=api_actor())
        db.session.commit()
        return _dump(keep)


@blp.route(f"/customers/<{ID}:customer_id>/move-orders")
class CustomerMoveOrders(MethodView):
    @blp.requires("customers:write")
    @blp.arguments(MoveOrdersSchema)
    @blp.response(200, MovedSchema)
    def post(self, data: dict[str, Any], customer_id: int) -> dict[str, Any]:
        """Move this customer's orders to another customer"""
        store = current_store()
        source = _customer(customer_id)
        target = service.get_customer(store, data["target_id"])
        try:
            moved = service.move_orders(
                store, source, target, data.get("order_ids"), actor=api_actor()
            )
        except KedaiError as error:
            # The service names its own argument; the body calls it target_id.
            if error.field == "target":
                error.field = "target_id"
            raise
        db.session.commit()
        return {"moved": moved}


@blp.route(f"/customers/<{ID}:customer_id>/timeline")
class CustomerTimeline(MethodView):
    @blp.requires("customers:read")
    @blp.arguments(TimelineArgsSchema, location="query")
    @blp.response(200, TimelineSchema)
    def get(self, args: dict[str, Any], customer_id: int) -> dict[str, Any]:
        """A customer's events, newest first"""
        store = current_store()
        customer = _customer(customer_id)
        events = customer_timeline(
            store, customer.id, limit=args["limit"], before=args.get("before")
        )
        more = len(events) == args["limit"]
        return {"items": events, "next_before": events[-1].seq if more else None}


@blp.route(f"/customers/<{ID}:customer_id>/export")
class CustomerExport(MethodView):
    @blp.requires("customers:read")
    @blp.response(200, PrivacyExportSchema)
    def get(self, customer_id: int) -> dict[str, Any]:
        """Everything the store and its plugins hold about a customer (privacy export)"""
        return service.export_customer_data(current_store(), _customer(customer_id))


@blp.route(f"/customers/<{ID}:customer_id>/erase")
class CustomerErase(MethodView):
    @blp.requires("customers:write")
    @blp.response(200, CustomerSchema)
    def post(self, customer_id: int) -> dict[str, Any]:
        """Erase a customer's personal data in the core and every enabled plugin

        The row stays, blanked, so orders and totals remain right. Refused whole (409) when a
        plugin cannot erase its data.
        """
        customer = _customer(customer_id)
        service.erase_customer(current_store(), customer, actor=api_actor())
        db.session.commit()
        return _dump(customer)


@blp.route("/customers/bulk/tags")
class CustomerBulkTags(MethodView):
    @blp.requires("customers:write")
    @blp.arguments(BulkTagsSchema)
    @blp.response(200, BulkTagsResultSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add and remove tags on many customers

        The customers are `ids`, or everyone the `filter` matches (the list's filters), or the
        ids among those the filter matches when both are given; without either nobody is
        selected. Tags to add are created when new; removal names tags that exist.
        """
        if "filter" not in data and not data.get("ids"):
            return {"added": 0, "removed": 0}
        store = current_store()
        filter_args = dict(data.get("filter") or {})
        plugin = filter_args.pop("plugin", {})
        flt = customer_filter(filter_args)
        flt.ids = data.get("ids") or []
        flt.plugin = {key: value for key, value in plugin.items() if value.strip()}
        actor = api_actor()
        added = service.bulk_tag(store, flt, data["add"], add=True, actor=actor)
        removed = service.bulk_tag(store, flt, data["remove"], add=False, actor=actor)
        db.session.commit()
        return {"added": added, "removed": removed}


# --- tags -------------------------------------------------------------------------------------


@blp.route("/tags")
class Tags(MethodView):
    @blp.requires("customers:read")
    @blp.response(200, TagListSchema)
    def get(self) -> dict[str, Any]:
        """List the store's tags, by name"""
        return {"items": service.list_tags(current_store())}

    @blp.requires("customers:write")
    @blp.arguments(TagSchema)
    @blp.response(201, TagSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a tag"""
        tag = service.create_tag(current_store(), data["name"], data["description"])
        db.session.commit()
        return tag


@blp.route(f"/tags/<{ID}:tag_id>")
class TagItem(MethodView):
    @blp.requires("customers:write")
    @blp.arguments(TagUpdateSchema)
    @blp.response(200, TagSchema)
    def patch(self, data: dict[str, Any], tag_id: int) -> Any:
        """Rename or describe a tag"""
        store = current_store()
        tag = service.update_tag(store, service.get_tag(store, tag_id), **data)
        db.session.commit()
        return tag

    @blp.requires("customers:write")
    @blp.response(204)
    def delete(self, tag_id: int) -> None:
        """Delete a tag (customers lose it)"""
        store = current_store()
        service.delete_tag(store, service.get_tag(store, tag_id))
        db.session.commit()


# --- custom fields ----------------------------------------------------------------------------


@blp.route("/custom-fields")
class CustomFields(MethodView):
    @blp.requires("customers:read")
    @blp.response(200, CustomFieldListSchema)
    def get(self) -> dict[str, Any]:
        """List the store's custom customer fields, in their order"""
        return {"items": service.list_fields(current_store())}

    @blp.requires("customers:write")
    @blp.arguments(CustomFieldInputSchema)
    @blp.response(201, CustomFieldSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Define a custom field

        `field_type` is text, date or dropdown (which needs `options`); `visibility` is signup
        (signup and account page), account (account page) or staff (admin only).
        """
        definition = service.define_field(current_store(), **data)
        db.session.commit()
        return definition


@blp.route(f"/custom-fields/<{ID}:field_id>")
class CustomFieldItem(MethodView):
    @blp.requires("customers:write")
    @blp.arguments(CustomFieldChangesSchema)
    @blp.response(200, CustomFieldSchema)
    def patch(self, data: dict[str, Any], field_id: int) -> Any:
        """Relabel, reorder or change a custom field (its key and type stay)"""
        store = current_store()
        definition = service.update_field(store, service.get_field(store, field_id), data)
        db.session.commit()
        return definition

    @blp.requires("customers:write")
    @blp.response(204)
    def delete(self, field_id: int) -> None:
        """Delete a custom field and every customer's value of it"""
        store = current_store()
        service.delete_field(store, service.get_field(store, field_id))
        db.session.commit()
