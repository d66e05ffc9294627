"""Outgoing webhooks: endpoints per store, signed deliveries with retries for more than a day.

Deliveries are created in the event's own transaction (an outbox consumer), claimed from the
queue like plugin deliveries, signed per Standard Webhooks (``webhook-id`` is the event id,
stable across retries; ``webhook-timestamp``; ``webhook-signature`` = ``v1,<base64 HMAC>``)
and sent through the guarded outbound client. A 2xx answer is success; anything else is retried
on the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 hours).
An endpoint whose delivery used up every retry with no success since it started failing (at
least ``DISABLE_AFTER``) is disabled with a notice to the merchant;
``GET /api/v1/events?since=`` lets a receiver catch up on what it missed.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets as random
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from core import crypto
from core.db import db, utcnow
from core.errors import NotFound, ValidationError
from core.events.models import Event
from core.events.service import register_outbox_consumer
from core.queue import LeasedQueue
from core.stores.models import Store
from core.webhooks.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger("kedai.webhooks")

RETRY_SCHEDULE = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
                  timedelta(hours=2), timedelta(hours=5), timedelta(hours=10),
                  timedelta(hours=10)]
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
DISABLE_AFTER = timedelta(days=1)
LEASE = timedelta(minutes=2)
TIMEOUT_SECONDS = 15
queue = LeasedQueue(WebhookDelivery, WebhookDelivery.next_attempt_at)


def known_event_types() -> dict[str, Any]:
    """Core event types plus those every loaded plugin declares."""
    from core.events.types import CORE_EVENT_TYPES
    from core.plugins.manager import host

    types = dict(CORE_EVENT_TYPES)
    for plugin in host.plugins.values():
        types.update(plugin.event_types)
    return dict(sorted(types.items()))


def new_secret() -> str:
    return "whsec_" + base64.b64encode(random.token_bytes(24)).decode()


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValidationError(f"not a URL: {exc}", field="url") from exc
    if any(char.isspace() or ord(char) < 32 for char in url.strip()):
        raise ValidationError("the URL cannot contain spaces or control characters", field="url")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError("the URL must start with https:// (or http://) and name a host",
                              field="url")
    if parts.username or parts.password:
        raise ValidationError("put credentials in the receiver, not in the URL", field="url")
    return url.strip()


def _check_types(event_types: list[str]) -> list[str]:
    known = known_event_types()
    cleaned = sorted({t.strip() for t in event_types if t.strip()})
    if not cleaned:
        raise ValidationError("choose at least one event type", field="event_types")
    unknown = [t for t in cleaned if t not in known and t != "*"]
    if unknown:
        raise ValidationError(f"unknown event type {unknown[0]!r}", field="event_types")
    return cleaned


def create_endpoint(store: Store, url: str, event_types: list[str], *, description: str = "",
                    actor: str = "system") -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; returns it with its signing secret in plain text (shown once)."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        store_id=store.id, url=_check_url(url), event_types=_check_types(event_types),
        description=description.strip()[:200], secret=crypto.encrypt(secret), created_by=actor,
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def get_endpoint(store: Store, endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.scalar(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.store_id == store.id, WebhookEndpoint.id == endpoint_id))
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    return endpoint


def list_endpoints(store: Store) -> list[WebhookEndpoint]:
    return list(db.session.scalars(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.store_id == store.id).order_by(WebhookEndpoint.id)))


def update_endpoint(store: Store, endpoint: WebhookEndpoint, *, url: str | None = None,
                    event_types: list[str] | None = None, enabled: bool | None = None,
                    description: str | None = None) -> WebhookEndpoint:
    if url is not None:
        endpoint.url = _check_url(url)
    if event_types is not None:
        endpoint.event_types = _check_types(event_types)
    if description is not None:
        endpoint.description = description.strip()[:200]
    if enabled is not None:
        endpoint.enabled = enabled
        if enabled:
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
    db.session.flush()
    return endpoint


def delete_endpoint(store: Store, endpoint: WebhookEndpoint) -> None:
    db.session.delete(endpoint)
    db.session.flush()


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    return crypto.decrypt(endpoint.secret)


def deliveries(store: Store, endpoint_id: int | None = None, limit: int = 100
               ) -> list[WebhookDelivery]:
    query = sa.select(WebhookDelivery).where(WebhookDelivery.store_id == store.id)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    return list(db.session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def disabled_endpoints(store: Store) -> list[WebhookEndpoint]:
    """Endpoints Kedai disabled after sustained failure (the merchant is told until they act)."""
    return list(db.session.scalars(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.store_id == store.id, WebhookEndpoint.enabled.is_(False),
        WebhookEndpoint.disabled_reason != "").order_by(WebhookEndpoint.id)))


def last_deliveries(store: Store) -> dict[int, WebhookDelivery]:
    """Each endpoint's most recent delivery, by endpoint id."""
    latest = (sa.select(sa.func.max(WebhookDelivery.id))
              .where(WebhookDelivery.store_id == store.id)
              .group_by(WebhookDelivery.endpoint_id))
    rows = db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(latest)))
    return {row.endpoint_id: row for row in rows}


def redeliver(store: Store, delivery_id: int, *, endpoint_id: int | None = None
              ) -> WebhookDelivery:
    """Send a delivery again now (a merchant's manual redelivery), whatever its status.
    ``endpoint_id`` (from a URL) must be the delivery's own."""
    query = sa.select(WebhookDelivery).where(
        WebhookDelivery.store_id == store.id, WebhookDelivery.id == delivery_id)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    delivery = db.session.scalar(query)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.attempts = 0
    delivery.lease_until = None
    db.session.flush()
    return delivery


# --- fan-out in the event's transaction -----------------------------------------------------


@register_outbox_consumer
def fan_out(session: Session, store_id: int, plugins_version: int,
            rows: list[dict[str, Any]]) -> None:
    endpoints = session.execute(
        sa.select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.store_id == store_id, WebhookEndpoint.enabled.is_(True))
    ).all()
    if not endpoints:
        return
    now = utcnow()
    new = [
        {"store_id": store_id, "endpoint_id": endpoint_id, "event_id": row["id"],
         "event_type": row["type"], "status": "pending", "attempts": 0,
         "next_attempt_at": now, "last_error": "", "created_at": now}
        for row in rows
        for endpoint_id, types in endpoints
        if row["type"] in types or "*" in types
    ]
    if new:
        session.execute(sa.insert(WebhookDelivery), new)


# --- sending --------------------------------------------------------------------------------


def message_body(event: Event, store_slug: str) -> str:
    """The JSON body: ``{"type", "timestamp", "data"}`` as Standard Webhooks suggests, plus the
    event's id and per-store sequence so a receiver can order and catch up."""
    return json.dumps({
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "id": event.id,
        "seq": event.seq,
        "store": store_slug,
        "data": event.payload,
    }, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def send(delivery_id: int) -> str | None:
    """Claim and send one delivery; returns its new status, or ``None`` if not ours."""
    if not queue.claim(delivery_id, LEASE):
        return None
    delivery = db.session.get(WebhookDelivery, delivery_id)
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    event = db.session.get(Event, delivery.event_id)
    store = db.session.get(Store, delivery.store_id)
    body = message_body(event, store.slug)
    timestamp = utcnow()
    signature = Webhook(endpoint_secret(endpoint)).sign(event.id, timestamp, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": event.id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "kedai-event-type": event.type,
        "kedai-event-seq": str(event.seq),
        "kedai-attempt": str(delivery.attempts),
        "kedai-occurred-at": event.occurred_at.isoformat(),
    }
    url, enabled = endpoint.url, endpoint.enabled
    db.session.commit()  # no transaction held open across the HTTP request
    if not enabled:
        return _finish(delivery_id, ok=False, error="the endpoint is disabled", final=True)
    started = time.perf_counter()
    status_code: int | None = None
    error = ""
    from core.outbound import client

    try:
        with client(timeout=TIMEOUT_SECONDS) as http:
            response = http.post(url, content=body.encode(), headers=headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:300]}"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
    elapsed = int((time.perf_counter() - started) * 1000)
    return _finish(delivery_id, ok=not error, error=error, status_code=status_code,
                   elapsed_ms=elapsed)


def _finish(delivery_id: int, *, ok: bool, error: str = "", status_code: int | None = None,
            elapsed_ms: int | None = None, final: bool = False) -> str:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    delivery.response_status = status_code
    delivery.response_ms = elapsed_ms
    delivery.lease_until = None
    now = utcnow()
    if ok:
        delivery.status = "done"
        delivery.delivered_at = now
        delivery.last_error = ""
        endpoint.failing_since = None
    else:
        delivery.last_error = error
        final = final or delivery.attempts >= MAX_ATTEMPTS
        delivery.status = "failed" if final else "pending"
        if not final:
            delivery.next_attempt_at = now + RETRY_SCHEDULE[delivery.attempts - 1]
        endpoint.failing_since = endpoint.failing_since or now
        # Sustained: a delivery used up every retry (about 28 hours) and nothing got through
        # in between.
        if final and endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
            endpoint.enabled = False
            endpoint.disabled_reason = (
                f"disabled after failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC "
                f"without a success; last error: {error}"
            )
            log.warning("webhook endpoint %s disabled: %s", endpoint.id, error)
    db.session.commit()
    return delivery.status


def run_due_webhooks(limit: int = 50) -> int:
    return sum(send(delivery_id) is not None for delivery_id in queue.due_ids(limit=limit))
