"""REST endpoints for outgoing webhooks: endpoints (the signing secret is in the create answer
only), their delivery log, manual redelivery, the event types and their JSON Schemas."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from core.api import ID, ApiBlueprint, StrictBool, current_store
from core.db import db
from core.errors import NotFound
from core.webhooks import service
from core.webhooks.models import WebhookDelivery, WebhookEndpoint

blp = ApiBlueprint("webhooks_api", __name__, description="Outgoing webhooks")


def _event_types(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.Str(validate=validate.Length(min=1, max=100)),
        validate=validate.Length(min=1, max=100),
        metadata={"description": 'Event types to send (`order.paid` …), or `["*"]` for all'},
        **kwargs,
    )


class EndpointSchema(Schema):
    id = fields.Int(required=True, dump_only=True)
    url = fields.Str(required=True, validate=validate.Length(min=1, max=2000),
                     metadata={"description": "The receiver, https://…"})
    description = fields.Str(load_default="", validate=validate.Length(max=200))
    event_types = _event_types(required=True)
    enabled = StrictBool(load_default=True)
    disabled_reason = fields.Str(
        dump_only=True,
        metadata={"description": "Why Kedai disabled it after sustained failure; empty otherwise"},
    )
    failing_since = fields.DateTime(
        dump_only=True, allow_none=True,
        metadata={"description": "Start of the current run of failures; null after a success"},
    )
    created_at = fields.DateTime(dump_only=True)


class EndpointCreatedSchema(EndpointSchema):
    secret = fields.Str(
        dump_only=True, required=True,
        metadata={"description": "The `whsec_…` signing secret: shown in this answer only"},
    )


class EndpointUpdateSchema(Schema):
    url = fields.Str(validate=validate.Length(min=1, max=2000))
    description = fields.Str(validate=validate.Length(max=200))
    event_types = _event_types()
    enabled = StrictBool(metadata={"description": "`true` also clears a disabled_reason"})


class EndpointListSchema(Schema):
    items = fields.List(fields.Nested(EndpointSchema), required=True)


class DeliverySchema(Schema):
    id = fields.Int(required=True)
    endpoint_id = fields.Int(required=True)
    event_id = fields.Str(required=True, metadata={"description": "Also the `webhook-id` header"})
    event_type = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"description": "pending, running, done, failed"})
    attempts = fields.Int(required=True)
    next_attempt_at = fields.DateTime(required=True)
    response_status = fields.Int(required=True, allow_none=True)
    response_ms = fields.Int(required=True, allow_none=True,
                             metadata={"description": "How long the receiver took"})
    last_error = fields.Str(required=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(required=True, allow_none=True)


class DeliveryListArgsSchema(Schema):
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=500))


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)


class EventTypeSchema(Schema):
    type = fields.Str(required=True)
    description = fields.Str(required=True)
    schema_published = fields.Bool(
        required=True, metadata={"description": "Whether `/webhooks/schemas/<type>` has it"}
    )


class EventTypeListSchema(Schema):
    items = fields.List(fields.Nested(EventTypeSchema), required=True)


class JsonSchemaDocument(Schema):
    """A JSON Schema document (draft 2020-12), returned as it is."""


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    return service.get_endpoint(current_store(), endpoint_id)


@blp.route("/webhooks")
class Endpoints(MethodView):
    @blp.requires("webhooks:read")
    @blp.response(200, EndpointListSchema)
    def get(self) -> dict[str, Any]:
        """List the store's webhook endpoints"""
        return {"items": service.list_endpoints(current_store())}

    @blp.requires("webhooks:write")
    @blp.arguments(EndpointSchema)
    @blp.response(201, EndpointCreatedSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add an endpoint

        The answer holds the signing secret (`whsec_…`): keep it, it is not shown again.
        """
        from core.api import api_actor

        store = current_store()
        endpoint, secret = service.create_endpoint(
            store, data["url"], data["event_types"], description=data["description"],
            actor=api_actor(),
        )
        if not data["enabled"]:
            service.update_endpoint(store, endpoint, enabled=False)
        db.session.commit()
        return {**{name: getattr(endpoint, name) for name in EndpointSchema().fields},
                "secret": secret}


@blp.route("/webhooks/event-types")
class EventTypes(MethodView):
    @blp.requires("webhooks:read")
    @blp.response(200, EventTypeListSchema)
    def get(self) -> dict[str, Any]:
        """List the event types an endpoint can receive (the core's and the plugins')"""
        from core.events.payloads import PAYLOADS

        return {"items": [
            {"type": name, "description": str(text), "schema_published": name in PAYLOADS}
            for name, text in service.known_event_types().items()
        ]}


@blp.route("/webhooks/schemas/<string(maxlength=100):event_type>")
class EventTypeSchemaView(MethodView):
    @blp.requires("webhooks:read")
    @blp.response(200, JsonSchemaDocument)
    def get(self, event_type: str) -> Response:
        """The JSON Schema (2020-12) of one event type's webhook message"""
        from core.events.payloads import PAYLOADS, json_schema

        if event_type not in PAYLOADS:
            raise NotFound(f"no published schema for event type {event_type!r}")
        return jsonify(json_schema(event_type))


@blp.route(f"/webhooks/<{ID}:endpoint_id>")
class EndpointItem(MethodView):
    @blp.requires("webhooks:read")
    @blp.response(200, EndpointSchema)
    def get(self, endpoint_id: int) -> WebhookEndpoint:
        """Read an endpoint (without its secret)"""
        return _endpoint(endpoint_id)

    @blp.requires("webhooks:write")
    @blp.arguments(EndpointUpdateSchema)
    @blp.response(200, EndpointSchema)
    def patch(self, data: dict[str, Any], endpoint_id: int) -> WebhookEndpoint:
        """Change an endpoint's URL, events, description, or switch it on or off"""
        store = current_store()
        endpoint = service.update_endpoint(store, service.get_endpoint(store, endpoint_id), **data)
        db.session.commit()
        return endpoint

    @blp.requires("webhooks:write")
    @blp.response(204)
    def delete(self, endpoint_id: int) -> None:
        """Delete an endpoint and its delivery log"""
        store = current_store()
        service.delete_endpoint(store, service.get_endpoint(store, endpoint_id))
        db.session.commit()


@blp.route(f"/webhooks/<{ID}:endpoint_id>/deliveries")
class Deliveries(MethodView):
    @blp.requires("webhooks:read")
    @blp.arguments(DeliveryListArgsSchema, location="query")
    @blp.response(200, DeliveryListSchema)
    def get(self, args: dict[str, Any], endpoint_id: int) -> dict[str, Any]:
        """The endpoint's delivery log, newest first: status, attempts, response and timing"""
        store = current_store()
        endpoint = service.get_endpoint(store, endpoint_id)
        return {"items": service.deliveries(store, endpoint.id, limit=args["limit"])}


@blp.route(f"/webhooks/<{ID}:endpoint_id>/deliveries/<{ID}:delivery_id>/redeliver")
class Redeliver(MethodView):
    @blp.requires("webhooks:write")
    @blp.response(200, DeliverySchema)
    def post(self, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
        """Send a delivery again now, whatever its status (same `webhook-id`)"""
        delivery = service.redeliver(current_store(), delivery_id, endpoint_id=endpoint_id)
        db.session.commit()
        return delivery
