"""Outgoing webhook endpoints and their deliveries (Standard Webhooks)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, StoreScoped, utcnow


class WebhookEndpoint(StoreScoped, Base):
    """Where a store's events are sent. ``secret`` is the ``whsec_…`` signing secret,
    encrypted at rest."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    secret: Mapped[str] = mapped_column(sa.String(500))
    enabled: Mapped[bool] = mapped_column(default=True)
    #: Why Kedai disabled it (sustained failure); empty when the merchant did or it is on.
    disabled_reason: Mapped[str] = mapped_column(sa.Text, default="")
    #: Start of the current run of failures; ``None`` after a success.
    failing_since: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(sa.String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(StoreScoped, Base):
    """One event sent to one endpoint. ``event_id`` doubles as the ``webhook-id`` header, the
    same on every retry so receivers can drop duplicates."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(sa.String(40))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    response_status: Mapped[int | None]
    response_ms: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.CheckConstraint("status in ('pending', 'running', 'done', 'failed')", name="status"),
    )
