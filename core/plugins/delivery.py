"""Event delivery to plugins: at least once, retried with backoff, isolated, observable.

1. In the event's own transaction, ``fan_out`` adds one ``EventDelivery`` per enabled plugin
   implementing the event's hook (``on_customer_created`` …) or ``on_event``.
2. An executor claims a due delivery with one conditional ``UPDATE`` (pending and due, or
   running with an expired lease → running, new lease, attempt + 1) in a short transaction of
   its own; the delivery is ours only if the row count is 1. A process killed mid-delivery
   leaves a lease that expires, and the delivery runs again.
3. The hook runs; what it wrote through ``ctx.session`` commits together with the delivery
   marked done. If it raises, its writes roll back, the delivery is retried later
   (exponential backoff) and the failure counts against the plugin, which is suspended in the
   store after ``KEDAI_PLUGIN_FAILURE_LIMIT`` failures in a row. After ``MAX_ATTEMPTS`` the
   delivery is ``failed`` and waits on the health page for a manual retry.
"""

from __future__ import annotations

import logging
import os
import random
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import db, utcnow
from core.events.models import Event
from core.events.service import register_outbox_consumer
from core.plugins.context import context_for
from core.plugins.dispatch import Failure, describe, record_failure
from core.plugins.manager import call_impl, event_hook_name, host
from core.plugins.models import EventDelivery, PluginInstallation
from core.stores.models import Store
from plugin_sdk.context import Event as SdkEvent

log = logging.getLogger("kedai.plugins.delivery")

#: How long a claimed delivery stays ours, unless ``KEDAI_DELIVERY_LEASE_SECONDS`` says.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8


def lease() -> timedelta:
    """The lease a claim takes: ``KEDAI_DELIVERY_LEASE_SECONDS``, else ``LEASE``.

    A delivery still ``running`` when its lease ends is taken for lost (its process died) and
    runs again, so the lease must outlast the slowest plugin call; a short one only makes a
    killed worker's deliveries come back sooner (read per claim, so tests can shorten it).
    """
    seconds = os.environ.get("KEDAI_DELIVERY_LEASE_SECONDS")
    return timedelta(seconds=float(seconds)) if seconds else LEASE


def backoff(attempt: int) -> timedelta:
    """10 s, 20 s, 40 s … capped at an hour, with ±20 % jitter so retries spread out."""
    seconds = min(10 * 2 ** (attempt - 1), 3600)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


@register_outbox_consumer
def fan_out(session: Session, store_id: int, plugins_version: int,
            rows: list[dict[str, Any]]) -> None:
    from core.plugins.service import _load_states

    view = host.view(store_id, plugins_version, lambda: _load_states(store_id))
    catch_all = view.implementations("on_event")
    if not view.impls:
        return
    now = utcnow()
    deliveries = []
    for row in rows:
        hook = event_hook_name(row["type"])
        for hook_name, impls in ((hook, view.implementations(hook)), ("on_event", catch_all)):
            for plugin_id, _impl in impls:
                deliveries.append({
                    "store_id": store_id, "event_id": row["id"], "event_type": row["type"],
                    "plugin_id": plugin_id, "hook": hook_name, "status": "pending",
                    "attempts": 0, "next_attempt_at": now, "last_error": "",
                    "created_at": now,
                })
    if deliveries:
        session.execute(sa.insert(EventDelivery), deliveries)


def _due(now: Any) -> Any:
    return sa.or_(
        sa.and_(EventDelivery.status == "pending", EventDelivery.next_attempt_at <= now),
        sa.and_(EventDelivery.status == "running", EventDelivery.lease_until < now),
    )


def due_delivery_ids(limit: int = 50) -> list[int]:
    """Due deliveries of plugins that are enabled now (others wait until re-enabled)."""
    now = utcnow()
    enabled = sa.exists().where(
        PluginInstallation.store_id == EventDelivery.store_id,
        PluginInstallation.plugin_id == EventDelivery.plugin_id,
        PluginInstallation.status == "enabled",
    )
    ids = list(db.session.scalars(
        sa.select(EventDelivery.id).where(_due(now), enabled)
        .order_by(EventDelivery.next_attempt_at, EventDelivery.id).limit(limit)
    ))
    db.session.rollback()
    return ids


def claim(delivery_id: int) -> bool:
    now = utcnow()
    result = db.session.execute(
        sa.update(EventDelivery)
        .where(EventDelivery.id == delivery_id, _due(now))
        .values(status="running", lease_until=now + lease(),
                attempts=EventDelivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def to_sdk_event(event: Event) -> SdkEvent:
    return SdkEvent(
        id=event.id, type=event.type, seq=event.seq, store_id=event.store_id,
        occurred_at=event.occurred_at, payload=event.payload, actor=event.actor,
        customer_id=event.customer_id, order_id=event.order_id,
    )


def deliver(delivery_id: int) -> str | None:
    """Claim and run one delivery. Returns its new status, or ``None`` if another process
    holds it or it is not due."""
    if not claim(delivery_id):
        return None
    delivery = db.session.get(EventDelivery, delivery_id)
    assert delivery is not None
    store = db.session.get(Store, delivery.store_id)
    from core.plugins.service import store_view

    view = store_view(store)
    started = time.perf_counter()
    state = view.installations.get(delivery.plugin_id)
    impl = host.impl_of(delivery.plugin_id, delivery.hook)
    if state is None or state.status != "enabled" or impl is None:
        # Disabled, suspended or gone since the delivery was made: it waits for re-enabling.
        _release(delivery_id, "plugin not enabled in this store")
        return "pending"
    event = to_sdk_event(db.session.get(Event, delivery.event_id))
    ctx = context_for(store, delivery.plugin_id, state)
    # End the read so no transaction (on SQLite: no write lock) is held into the plugin's
    # call; what the plugin writes starts a transaction of its own.
    db.session.commit()
    try:
        call_impl(impl, {"ctx": ctx, "event": event})
        db.session.execute(
            sa.update(EventDelivery).where(EventDelivery.id == delivery_id)
            .values(status="done", finished_at=utcnow(), lease_until=None, last_error="",
                    duration_ms=int((time.perf_counter() - started) * 1000))
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(PluginInstallation)
            .where(PluginInstallation.store_id == store.id,
                   PluginInstallation.plugin_id == delivery.plugin_id,
                   PluginInstallation.failure_count > 0)
            .values(failure_count=0)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return "done"
    except Exception as exc:
        db.session.rollback()
        message = describe(exc, ctx.secrets)
        log.warning("delivery %s of %s to %s failed: %s", delivery_id, delivery.event_type,
                    delivery.plugin_id, message)
        return _fail(delivery_id, message, int((time.perf_counter() - started) * 1000))


def _release(delivery_id: int, reason: str) -> None:
    db.session.execute(
        sa.update(EventDelivery).where(EventDelivery.id == delivery_id)
        .values(status="pending", lease_until=None, attempts=EventDelivery.attempts - 1,
                last_error=reason)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _fail(delivery_id: int, message: str, duration_ms: int) -> str:
    delivery = db.session.get(EventDelivery, delivery_id)
    assert delivery is not None
    final = delivery.attempts >= MAX_ATTEMPTS
    delivery.status = "failed" if final else "pending"
    delivery.next_attempt_at = utcnow() + backoff(delivery.attempts)
    delivery.lease_until = None
    delivery.last_error = message
    delivery.duration_ms = duration_ms
    if final:
        delivery.finished_at = utcnow()
    record_failure(Failure(delivery.store_id, delivery.plugin_id, delivery.hook, message))
    db.session.commit()
    return delivery.status


def run_due_deliveries(limit: int = 50) -> int:
    """Deliver what is due now; returns how many deliveries this call ran."""
    return sum(deliver(delivery_id) is not None for delivery_id in due_delivery_ids(limit))
