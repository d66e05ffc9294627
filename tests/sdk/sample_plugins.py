"""Plugins written only against ``plugin_sdk``, as a third-party author would."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from plugin_sdk import (
    Color,
    Panel,
    Plugin,
    Secret,
    Text,
    Toggle,
    Widget,
    hookimpl,
)


class GuestbookSettings(Schema):
    greeting = Text(required=True, label="Greeting", validate=validate.Length(min=1, max=80))
    api_key = Secret(required=True, label="API key")
    colour = Color(load_default="#336699", label="Colour")
    loud = Toggle(load_default=False, label="Shout")
    mode = fields.String(load_default="warm", validate=validate.OneOf(["warm", "cool"]))


class Guestbook(Plugin):
    """Counts new customers, greets shoppers, and shows a panel on the customer page."""

    id = "guestbook"
    name = "Guestbook"
    version = "1.0.0"
    category = "marketing"
    description = "Greets shoppers."
    permissions = ("customers:read",)
    settings_schema = GuestbookSettings
    event_types = {"guestbook.signed": "A customer signed the guestbook."}

    @hookimpl
    def on_customer_created(self, ctx: Any, event: Any) -> None:
        if not ctx.once(event.id):
            return
        ctx.kv.increment("signups")
        ctx.log.info("welcomed %s with key %s", event.customer_id, ctx.settings["api_key"])
        ctx.emit("guestbook.signed", {"customer_id": event.customer_id},
                 customer_id=event.customer_id)

    @hookimpl
    def storefront_widgets(self, ctx: Any, page: str, shopper: Any) -> list[Widget]:
        name = shopper.name if shopper else None
        html = ctx.render("guestbook/widget.html", greeting=ctx.settings["greeting"], name=name)
        return [Widget(slot="header", html=html, personal=shopper is not None)]

    @hookimpl
    def admin_panels(self, ctx: Any, page: str, customer: Any) -> list[Panel]:
        if page != "customer":
            return []
        return [Panel(title="Guestbook", html=f"signups so far: {ctx.kv.get('signups', 0)}")]


class Broken(Plugin):
    """Raises in every hook it implements."""

    id = "broken"
    name = "Broken"
    version = "0.1.0"
    category = "analytics"

    @hookimpl
    def on_customer_created(self, ctx: Any, event: Any) -> None:
        ctx.kv.set("half-written", True)
        raise RuntimeError("boom in on_customer_created")

    @hookimpl
    def storefront_widgets(self, ctx: Any) -> list[Widget]:
        raise RuntimeError("boom in storefront_widgets")

    @hookimpl
    def admin_panels(self, ctx: Any) -> list[Panel]:
        raise RuntimeError("boom in admin_panels")


class NeedsGuestbook(Plugin):
    id = "needs_guestbook"
    name = "Needs guestbook"
    version = "0.1.0"
    category = "marketing"
    requires = ("guestbook",)
    permissions = ("customers:read",)

    @hookimpl
    def on_customer_created(self, ctx: Any, event: Any) -> None:
        ctx.customers.update(event.customer_id, first_name="Changed")


# --- a plugin with a table of its own ----------------------------------------------------------

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Mapped, mapped_column  # noqa: E402

from plugin_sdk import CustomerFilterSpec  # noqa: E402
from plugin_sdk.db import StoreScoped, model_base  # noqa: E402

StampsBase = model_base("stamps")


class StampCard(StoreScoped, StampsBase):
    __tablename__ = "stamps_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(index=True)
    stamps: Mapped[int] = mapped_column(default=0)


class Stamps(Plugin):
    """One stamp per paid order; a customer filter on stamps; privacy hooks."""

    id = "stamps"
    name = "Stamp card"
    version = "1.0.0"
    category = "loyalty"
    permissions = ("customers:read", "orders:read")
    metadata = StampsBase.metadata

    @hookimpl
    def on_order_paid(self, ctx: Any, event: Any) -> None:
        if event.customer_id is None or not ctx.once(event.id):
            return
        card = ctx.session.scalar(sa.select(StampCard).where(
            StampCard.store_id == ctx.store.id, StampCard.customer_id == event.customer_id))
        if card is None:
            card = StampCard(store_id=ctx.store.id, customer_id=event.customer_id, stamps=0)
            ctx.session.add(card)
        card.stamps += 1

    @hookimpl
    def customer_filters(self, ctx: Any) -> list[CustomerFilterSpec]:
        def at_least(value: str) -> Any:
            return sa.select(StampCard.customer_id).where(
                StampCard.store_id == ctx.store.id, StampCard.stamps >= int(value))

        return [CustomerFilterSpec(key="stamps.min", label="Stamps at least",
                                   customer_ids=at_least)]

    @hookimpl
    def export_customer_data(self, ctx: Any, customer_id: int) -> dict[str, Any]:
        stamps = ctx.session.scalar(sa.select(StampCard.stamps).where(
            StampCard.store_id == ctx.store.id, StampCard.customer_id == customer_id))
        return {"stamps": stamps} if stamps is not None else {}

    @hookimpl
    def erase_customer_data(self, ctx: Any, customer_id: int) -> None:
        ctx.session.execute(sa.delete(StampCard).where(
            StampCard.store_id == ctx.store.id, StampCard.customer_id == customer_id))
