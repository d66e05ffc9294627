"""REST endpoint for the event log (O-04): the catch-up feed an integration reads after
missing webhooks, ordered by the store's event sequence."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from webargs.fields import DelimitedList

from core.api import ApiBlueprint, current_store
from core.events.service import store_events

blp = ApiBlueprint("events_api", __name__, description="The store's event log")

_SEQ = validate.Range(min=0, max=2**63 - 1)


class EventSchema(Schema):
    """One event. ``seq`` numbers a store's events in the order they became visible."""

    id = fields.Str(required=True)
    seq = fields.Int(required=True)
    type = fields.Str(required=True, metadata={"description": "customer.created, order.paid …"})
    actor = fields.Str(
        required=True, metadata={"description": "staff:<id>, api:<token id>, system …"}
    )
    occurred_at = fields.DateTime(required=True)
    customer_id = fields.Int(required=True, allow_none=True)
    order_id = fields.Int(required=True, allow_none=True)
    payload = fields.Dict(required=True)


class EventFeedArgsSchema(Schema):
    since = fields.Int(
        load_default=0,
        validate=_SEQ,
        metadata={"description": "Only events after this seq: the `next_since` of a page"},
    )
    types = DelimitedList(
        fields.Str(validate=validate.Length(min=1, max=100)),
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Comma-separated event types (default: every type)"},
    )
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=1000))


class EventFeedSchema(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
    next_since = fields.Int(
        required=True,
        metadata={"description": "Pass as `since` to continue; equals `since` when nothing new"},
    )


@blp.route("/events")
class Events(MethodView):
    @blp.requires("events:read")
    @blp.arguments(EventFeedArgsSchema, location="query")
    @blp.response(200, EventFeedSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Read the event log, oldest first

        A reader that has seen `seq` N never later finds a new event at or below N, so keeping
        `next_since` and asking again loses nothing.
        """
        events = store_events(
            current_store(), since=args["since"], types=args.get("types"), limit=args["limit"]
        )
        return {"items": events, "next_since": events[-1].seq if events else args["since"]}
