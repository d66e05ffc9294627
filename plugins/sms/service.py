"""Sending, the message log, delivery status and opt-outs, for one store (``ctx``).

A send calls the provider first and writes the log row after, so no write transaction is held
open across the provider's HTTP call. Every query filters on ``ctx.store.id``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import phonenumbers
import sqlalchemy as sa
from flask import has_request_context, request

from plugin_sdk import PluginContext, PluginError
from plugin_sdk.db import utcnow
from plugins.sms.models import SmsBatch, SmsMessage, SmsOptOut
from plugins.sms.providers import FINAL, STATUSES, ProviderError, provider_for
from plugins.sms.text import measure

MAX_LENGTH = 1000  # characters: about 7 GSM or 15 UCS-2 segments, a sane ceiling for a message
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP"}


class OptedOut(PluginError):
    """The number asked for no more messages; nothing was sent."""


def normalise(ctx: PluginContext, raw: str) -> str:
    """``raw`` as E.164 (``+60123456789``), reading national input in the store's region."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    region = None if text.startswith("+") else (ctx.store.default_phone_region or None)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise PluginError(ctx.gettext("%(number)s is not a phone number", number=raw or "“”")
                          ) from None
    if not phonenumbers.is_valid_number(number):
        raise PluginError(ctx.gettext("%(number)s is not a valid phone number", number=raw))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_body(ctx: PluginContext, body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise PluginError(ctx.gettext("Write a message first."))
    if len(body) > MAX_LENGTH:
        raise PluginError(ctx.gettext("A message has at most %(num)d characters.",
                                      num=MAX_LENGTH))
    return body


# --- opt-outs ----------------------------------------------------------------------------------


def is_opted_out(ctx: PluginContext, e164: str) -> bool:
    return ctx.session.scalar(sa.select(SmsOptOut.id).where(
        SmsOptOut.store_id == ctx.store.id, SmsOptOut.phone == e164)) is not None


def opt_out(ctx: PluginContext, e164: str, source: str) -> None:
    if not is_opted_out(ctx, e164):
        ctx.session.add(SmsOptOut(store_id=ctx.store.id, phone=e164, source=source[:40]))
        ctx.session.flush()


def opt_in(ctx: PluginContext, e164: str) -> bool:
    deleted = ctx.session.execute(sa.delete(SmsOptOut).where(
        SmsOptOut.store_id == ctx.store.id, SmsOptOut.phone == e164))
    return bool(deleted.rowcount)


def opt_outs(ctx: PluginContext) -> list[SmsOptOut]:
    return list(ctx.session.scalars(sa.select(SmsOptOut).where(
        SmsOptOut.store_id == ctx.store.id).order_by(SmsOptOut.created_at.desc())))


# --- sending -----------------------------------------------------------------------------------


def status_callback_url(ctx: PluginContext) -> str | None:
    """Where Twilio should post delivery reports: the public address from the settings, else
    the address this request came in on; none outside a request (statuses are then polled)."""
    base = ctx.settings.get("public_url") or (request.url_root if has_request_context() else "")
    if not base:
        return None
    return f"{base.rstrip('/')}/hooks/{ctx.store.slug}/sms/twilio/status"


def send(ctx: PluginContext, to: str, body: str, *, source: str, customer_id: int | None = None,
         transactional: bool = False, message: SmsMessage | None = None) -> SmsMessage:
    """Send ``body`` to ``to`` and log it. Raises ``OptedOut`` (logged as skipped) or
    ``ProviderError`` (logged as failed) with a message for the merchant.

    ``transactional`` messages (one-time codes the shopper just asked for) go to opted-out
    numbers too; everything else respects the opt-out.
    """
    body = check_body(ctx, body)
    e164 = normalise(ctx, to)
    provider = provider_for(ctx.settings, ctx.http)
    row = message or SmsMessage(store_id=ctx.store.id, customer_id=customer_id, to=e164,
                                body=body, source=source[:80])
    row.to, row.provider = e164, provider.name
    measured = measure(body)
    row.encoding, row.segments = measured.encoding, measured.segments
    if not transactional and is_opted_out(ctx, e164):
        _finish(ctx, row, "skipped", ctx.gettext("This number opted out of SMS (STOP)."),
                "opted_out")
        raise OptedOut(row.error)
    try:
        sent = provider.send(e164, body, status_callback=status_callback_url(ctx)
                             if provider.name == "twilio" else None)
    except ProviderError as error:
        if error.opted_out:
            opt_out(ctx, e164, f"{provider.name}:{error.code}")
        _finish(ctx, row, "failed", error.message, error.code)
        ctx.log.warning("SMS to %s failed: %s (%s)", mask(e164), error.message, error.code)
        raise
    row.provider_id = sent.provider_id
    row.segments, row.encoding = sent.segments, sent.encoding
    _finish(ctx, row, sent.status, "", "")
    return row


def _finish(ctx: PluginContext, row: SmsMessage, status: str, error: str, code: str) -> None:
    row.status, row.error, row.error_code = status, error[:300], code[:20]
    row.updated_at = utcnow()
    if row.id is None:
        ctx.session.add(row)
    ctx.session.flush()


def mask(e164: str) -> str:
    """``+60123456789`` → ``+6012****789``: enough for a log line, not a phone book."""
    return e164[:5] + "*" * max(len(e164) - 8, 0) + e164[-3:] if len(e164) > 8 else "***"


def channel_send(ctx: PluginContext, to: str, body: str, **options: Any) -> dict[str, Any]:
    """The ``sms`` message channel: what other plugins call through ``ctx.send_message``."""
    row = send(ctx, to, body, source=str(options.get("source") or "channel"),
               customer_id=options.get("customer_id"),
               transactional=bool(options.get("transactional")))
    return {"id": str(row.id), "status": row.status, "to": row.to, "segments": row.segments,
            "provider": row.provider}


# --- delivery status ---------------------------------------------------------------------------


def advance(row: SmsMessage, status: str | None, error_code: str = "") -> bool:
    """Move ``row`` to ``status`` unless it is already final or further along."""
    if status is None or status not in STATUSES or row.status in FINAL:
        return False
    if row.status in STATUSES and STATUSES.index(status) < STATUSES.index(row.status):
        return False
    changed = row.status != status
    row.status = status
    if error_code:
        row.error_code = error_code[:20]
        row.error = f"delivery failed ({error_code})"
    row.updated_at = utcnow()
    return changed


def record_status(ctx: PluginContext, provider: str, provider_id: str, status: str | None,
                  error_code: str = "") -> SmsMessage | None:
    row = ctx.session.scalar(sa.select(SmsMessage).where(
        SmsMessage.store_id == ctx.store.id, SmsMessage.provider == provider,
        SmsMessage.provider_id == provider_id))
    if row is not None:
        advance(row, status, error_code)
        ctx.session.flush()
    return row


def refresh_statuses(ctx: PluginContext, *, limit: int = 200, days: int = 3) -> int:
    """Ask the provider about messages not yet final (OneWaySMS's ``bulktrx.aspx``, Twilio's
    message resource). Returns how many changed."""
    provider = provider_for(ctx.settings, ctx.http)
    rows = ctx.session.scalars(
        sa.select(SmsMessage).where(
            SmsMessage.store_id == ctx.store.id, SmsMessage.provider == provider.name,
            SmsMessage.status.in_(("queued", "sent")), SmsMessage.provider_id.is_not(None),
            SmsMessage.created_at >= utcnow() - timedelta(days=days))
        .order_by(SmsMessage.id).limit(limit)).all()
    changed = 0
    for row in rows:
        changed += advance(row, provider.status(row.provider_id or ""))
    ctx.session.flush()
    return changed


def balance(ctx: PluginContext) -> str:
    return provider_for(ctx.settings, ctx.http).balance()


# --- the log -----------------------------------------------------------------------------------


def messages(ctx: PluginContext, *, status: str = "", customer_id: int | None = None,
             batch_id: int | None = None, limit: int = 50, before_id: int | None = None
             ) -> list[SmsMessage]:
    query = sa.select(SmsMessage).where(SmsMessage.store_id == ctx.store.id)
    if status:
        query = query.where(SmsMessage.status == status)
    if customer_id is not None:
        query = query.where(SmsMessage.customer_id == customer_id)
    if batch_id is not None:
        query = query.where(SmsMessage.batch_id == batch_id)
    if before_id:
        query = query.where(SmsMessage.id < before_id)
    return list(ctx.session.scalars(query.order_by(SmsMessage.id.desc()).limit(limit)))


# --- bulk sends --------------------------------------------------------------------------------

BATCH_CHUNK = 50


def create_batch(ctx: PluginContext, customer_ids: Iterable[int], body: str, *,
                 created_by: str) -> SmsBatch:
    """A bulk send to ``customer_ids``: one pending row per recipient, sent in the background
    (the ``sms.batch_queued`` event's delivery) in chunks. Customers without a usable number
    or who opted out are logged as skipped straight away."""
    body = check_body(ctx, body)
    ids = sorted(set(customer_ids))
    if not ids:
        raise PluginError(ctx.gettext("Choose at least one customer."))
    batch = SmsBatch(store_id=ctx.store.id, body=body, total=len(ids), created_by=created_by)
    ctx.session.add(batch)
    ctx.session.flush()
    provider = ctx.settings["provider"]
    measured = measure(body)
    for customer_id in ids:
        customer = ctx.customers.get(customer_id)
        row = SmsMessage(store_id=ctx.store.id, customer_id=customer_id, batch_id=batch.id,
                         body=body, provider=provider, source=f"batch:{batch.id}",
                         encoding=measured.encoding, segments=measured.segments,
                         status="pending", to="")
        phone = (customer or {}).get("phone")
        if not phone:
            row.status, row.error, row.error_code = "skipped", ctx.gettext(
                "No phone number."), "no_phone"
        else:
            try:
                row.to = normalise(ctx, phone)
            except PluginError as error:
                row.status, row.error, row.error_code = "skipped", str(error)[:300], "bad_number"
            else:
                if is_opted_out(ctx, row.to):
                    row.status, row.error, row.error_code = "skipped", ctx.gettext(
                        "This number opted out of SMS (STOP)."), "opted_out"
        ctx.session.add(row)
    ctx.session.flush()
    ctx.emit("sms.batch_queued", {"batch_id": batch.id, "total": batch.total})
    return batch


def send_batch_chunk(ctx: PluginContext, batch_id: int) -> bool:
    """Send up to ``BATCH_CHUNK`` pending messages of a batch; ``True`` if more are left.

    Each row leaves ``pending`` in the same transaction as its send is recorded, so a retried
    delivery never sends a row twice once its chunk committed. A provider failure that is worth
    retrying (unreachable, throttled) stops the chunk and raises, so the delivery is retried
    with backoff; other failures are logged on the row and the batch goes on.
    """
    batch = ctx.session.scalar(sa.select(SmsBatch).where(
        SmsBatch.store_id == ctx.store.id, SmsBatch.id == batch_id))
    if batch is None:
        return False
    rows = ctx.session.scalars(sa.select(SmsMessage).where(
        SmsMessage.store_id == ctx.store.id, SmsMessage.batch_id == batch.id,
        SmsMessage.status == "pending").order_by(SmsMessage.id).limit(BATCH_CHUNK)).all()
    for done, row in enumerate(rows):
        try:
            send(ctx, row.to, row.body, source=row.source, customer_id=row.customer_id,
                 message=row)
        except ProviderError as error:
            if error.retryable:
                row.status, row.error, row.error_code = "pending", "", ""
                if not done:
                    raise  # nothing sent in this delivery yet: retry it later, with backoff
                break  # keep what was sent; the next delivery meets the error first
        except PluginError:
            pass  # logged on the row (opted out since the batch was made, or a bad number)
        else:
            if row.customer_id is not None:
                ctx.emit("sms.message_sent", {"message_id": row.id, "status": row.status,
                                              "segments": row.segments, "batch_id": batch.id},
                         customer_id=row.customer_id)
    left = ctx.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage).where(
        SmsMessage.store_id == ctx.store.id, SmsMessage.batch_id == batch.id,
        SmsMessage.status == "pending"))
    if not left and batch.finished_at is None:
        batch.finished_at = utcnow()
    ctx.session.flush()
    return bool(left)


def batch_progress(ctx: PluginContext, batch: SmsBatch) -> dict[str, Any]:
    counts = dict(ctx.session.execute(
        sa.select(SmsMessage.status, sa.func.count()).where(
            SmsMessage.store_id == ctx.store.id, SmsMessage.batch_id == batch.id)
        .group_by(SmsMessage.status)).all())
    done = batch.total - counts.get("pending", 0)
    return {"id": batch.id, "total": batch.total, "done": done,
            "percent": round(100 * done / batch.total) if batch.total else 100,
            "finished": batch.finished_at is not None, "counts": counts}


def get_batch(ctx: PluginContext, batch_id: int) -> SmsBatch | None:
    return ctx.session.scalar(sa.select(SmsBatch).where(
        SmsBatch.store_id == ctx.store.id, SmsBatch.id == batch_id))


def batches(ctx: PluginContext, limit: int = 20) -> list[SmsBatch]:
    return list(ctx.session.scalars(sa.select(SmsBatch).where(
        SmsBatch.store_id == ctx.store.id).order_by(SmsBatch.id.desc()).limit(limit)))
