"""Presentation helpers shared by the admin pages: store-local dates, list URLs that keep the
current filters, the active navigation entry, and one readable line per event (C-10).

Nothing here decides anything about the domain; it only turns rows into text for staff.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_date, format_datetime
from flask import Blueprint, current_app, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from core.db import db
from core.events.models import Event
from core.i18n import gettext as _
from core.money import format_money
from core.stores.models import StaffUser


def _zone() -> ZoneInfo:
    if current_user and current_user.is_authenticated:
        return ZoneInfo(current_user.store.timezone)
    return ZoneInfo("UTC")


def _locale() -> str:
    return str(get_locale() or "en")


def localtime(value: datetime | None, pattern: str = "yyyy-MM-dd HH:mm") -> str:
    """A UTC timestamp as the store's wall-clock time (the staff member's store timezone)."""
    if value is None:
        return ""
    return format_datetime(value.astimezone(_zone()), pattern, locale=_locale())


def localdate(value: datetime | date | None) -> str:
    """The store-local calendar date of a timestamp, or a plain date as ISO."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(_zone()).date()
    return format_date(value, "yyyy-MM-dd", locale=_locale())


def url_with_args(**changes: Any) -> str:
    """The current page's URL with some query arguments replaced (``None`` drops one).

    Sorting links and pagination keep every filter the merchant typed.
    """
    args: dict[str, Any] = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint or "index", **(request.view_args or {}), **args)


def has_endpoint(endpoint: str) -> bool:
    """Whether a view exists: pages link to areas (import, export) that may not be installed."""
    return endpoint in current_app.view_functions


def nav_active(endpoint: str, nav: Iterable[tuple[str, Any]]) -> bool:
    """Whether ``endpoint`` is the navigation entry the current page belongs to.

    An entry owns its own endpoint and endpoints named after it (``customers_admin.tags`` owns
    ``customers_admin.tags_edit``); an area's ``index`` entry owns the rest of its blueprint.
    """
    current = request.endpoint or ""
    endpoints = [entry for entry, _label in nav]

    def owns(entry: str) -> bool:
        return current == entry or current.startswith(entry + "_")

    if owns(endpoint):
        return True
    if any(owns(entry) for entry in endpoints):
        return False
    blueprint = endpoint.rpartition(".")[0]
    return endpoint.endswith(".index") and current.rpartition(".")[0] == blueprint


# --- the timeline (C-10) -----------------------------------------------------------------------


def _order_ref(payload: dict[str, Any]) -> tuple[str, str, int | None]:
    """Order number, currency and total from an order event's payload (erased payloads have
    none of them)."""
    order = payload.get("order") or {}
    number = order.get("number", payload.get("number", ""))
    return str(number), order.get("currency", ""), order.get("total")


def _money(amount: Any, currency: str) -> str:
    if isinstance(amount, int) and currency:
        return format_money(amount, currency)
    return ""


def _changed_field_names() -> dict[str, str]:
    """What the merchant calls the fields a ``customer.updated`` event lists."""
    return {
        "first_name": _("first name"),
        "last_name": _("last name"),
        "email": _("email"),
        "phone": _("phone"),
        "birthday": _("birthday"),
        "accepts_marketing": _("marketing consent"),
        "note": _("note"),
        "location": _("store location"),
        "salesperson": _("salesperson"),
        "tags": _("tags"),
        "fields": _("custom fields"),
        "blacklisted": _("blacklist"),
    }


def describe_event(event: Event) -> str:
    """One line a merchant can read for ``event``, in the current language."""
    payload = event.payload or {}
    if payload.get("erased"):
        return _("%(type)s (details erased)", type=event.type)
    kind = event.type
    number, currency, total = _order_ref(payload)
    if kind == "customer.created":
        sources = {
            "admin": _("Added by staff"),
            "api": _("Added through the API"),
            "import": _("Imported"),
            "storefront": _("Registered on the storefront"),
        }
        return sources.get(payload.get("source", ""), _("Customer created"))
    if kind == "customer.updated":
        changed = payload.get("changed") or []
        if changed == ["blacklisted"]:
            return _("Removed from the blacklist")
        if changed == ["merged_into_id"]:
            target = (payload.get("customer") or {}).get("merged_into_id")
            return _("Merged into customer #%(id)s", id=target)
        names = _changed_field_names()
        return _(
            "Changed: %(fields)s",
            fields=", ".join(str(names.get(name, name)) for name in changed) or "-",
        )
    if kind == "customer.blacklisted":
        reason = payload.get("reason") or ""
        if reason:
            return _("Blacklisted: %(reason)s", reason=reason)
        return _("Blacklisted")
    if kind == "customer.merged":
        return _(
            "Customer #%(id)s (%(email)s) merged into this account; %(count)s orders moved",
            id=payload.get("merged_customer_id"),
            email=payload.get("merged_email") or _("no email"),
            count=payload.get("orders_moved", 0),
        )
    if kind == "customer.birthday":
        return _("Birthday")
    if kind == "customer.erased":
        return _("Personal data erased")
    if kind == "order.created":
        return _(
            "Order #%(number)s placed: %(total)s", number=number, total=_money(total, currency)
        )
    if kind == "order.paid":
        return _("Order #%(number)s paid: %(total)s", number=number, total=_money(total, currency))
    if kind == "order.fulfilled":
        return _("Order #%(number)s fulfilled", number=number)
    if kind == "order.cancelled":
        line = _("Order #%(number)s cancelled", number=number)
        if payload.get("reason"):
            line += " · " + _("reason: %(reason)s", reason=payload["reason"])
        if payload.get("refunded_amount"):
            line += " · " + _(
                "%(amount)s refunded", amount=_money(payload["refunded_amount"], currency)
            )
        return line
    if kind == "order.refunded":
        refund = payload.get("refund") or {}
        line = _(
            "Refund of %(amount)s on order #%(number)s",
            amount=_money(refund.get("amount"), currency),
            number=number,
        )
        if refund.get("reason"):
            line += " · " + _("reason: %(reason)s", reason=refund["reason"])
        return line
    if kind == "order.customer_attached":
        previous = payload.get("previous_customer_id")
        if previous:
            return _(
                "Order #%(number)s moved from customer #%(previous)s to customer #%(customer)s",
                number=number,
                previous=previous,
                customer=event.customer_id,
            )
        return _(
            "Guest order #%(number)s attached to customer #%(customer)s",
            number=number,
            customer=event.customer_id,
        )
    return _plugin_event_line(event)


def _plugin_event_line(event: Event) -> str:
    """A plugin's event: its declared description, else its type."""
    from core.plugins.manager import host

    plugin_id = event.type.partition(".")[0]
    plugin = host.plugins.get(plugin_id)
    declared = getattr(plugin, "event_types", {}) if plugin is not None else {}
    description = declared.get(event.type)
    if description:
        return f"{event.type}: {description}"
    return event.type


def actor_labels(store_id: int, events: Iterable[Event]) -> dict[str, str]:
    """Who caused each event, by actor string: staff by name, others by kind."""
    events = list(events)
    staff_ids = {
        int(actor.split(":", 1)[1])
        for actor in {e.actor for e in events}
        if actor.startswith("staff:") and actor.split(":", 1)[1].isdigit()
    }
    names = {}
    if staff_ids:
        names = {
            user.id: user.name or user.email
            for user in db.session.scalars(
                sa.select(StaffUser).where(
                    StaffUser.store_id == store_id, StaffUser.id.in_(staff_ids)
                )
            )
        }
    labels = {}
    for actor in {e.actor for e in events}:
        kind, _sep, ident = actor.partition(":")
        if kind == "staff" and ident.isdigit():
            labels[actor] = names.get(int(ident)) or _("staff #%(id)s", id=ident)
        elif kind == "customer":
            labels[actor] = _("the customer")
        elif kind == "plugin":
            labels[actor] = _("plugin %(id)s", id=ident)
        elif kind == "import":
            labels[actor] = _("import")
        elif kind == "api":
            labels[actor] = _("API")
        elif kind == "app":
            labels[actor] = _("app %(name)s", name=_app_name(ident))
        else:
            labels[actor] = _("system")
    return labels


def install_display(bp: Blueprint) -> None:
    """Make the helpers available to every template once ``bp`` is registered."""
    bp.add_app_template_filter(localtime, "localtime")
    bp.add_app_template_filter(localdate, "localdate")
    bp.add_app_template_global(url_with_args, "url_with_args")
    bp.add_app_template_global(has_endpoint, "has_endpoint")
    bp.add_app_template_global(nav_active, "nav_active")
    bp.add_app_template_global(describe_event, "describe_event")


def _app_name(client_id: str) -> str:
    """An installed app's name by its OAuth client id (apps may be registered by any store)."""
    from core.apps.models import OAuthClient

    name = db.session.scalar(sa.select(OAuthClient.name).where(OAuthClient.client_id == client_id))
    return name or client_id
