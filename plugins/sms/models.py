"""The SMS plugin's tables: every message sent (the log), opt-outs, and bulk sends."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from plugin_sdk.db import StoreScoped, model_base, utcnow

Base = model_base("sms")


class SmsMessage(StoreScoped, Base):
    """One message to one number. ``status``: queued, sent, delivered, undelivered, failed,
    or skipped (opted out / not sendable: never reached the provider)."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        sa.Index("ix_sms_messages_provider_ref", "store_id", "provider", "provider_id"),
        sa.Index("ix_sms_messages_store_created", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(index=True)
    batch_id: Mapped[int | None] = mapped_column(index=True)
    to: Mapped[str] = mapped_column(sa.String(20))
    body: Mapped[str] = mapped_column(sa.Text)
    encoding: Mapped[str] = mapped_column(sa.String(8), default="gsm")
    segments: Mapped[int] = mapped_column(default=1)
    provider: Mapped[str] = mapped_column(sa.String(20))
    provider_id: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    error: Mapped[str] = mapped_column(sa.String(300), default="")
    error_code: Mapped[str] = mapped_column(sa.String(20), default="")
    #: Who asked: ``admin:<staff id>``, ``plugin:<id>`` (through the channel), ``batch``.
    source: Mapped[str] = mapped_column(sa.String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsOptOut(StoreScoped, Base):
    """A number that asked for no more messages (STOP), or that staff opted out."""

    __tablename__ = "sms_opt_outs"
    __table_args__ = (sa.UniqueConstraint("store_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20))
    source: Mapped[str] = mapped_column(sa.String(40), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsBatch(StoreScoped, Base):
    """A bulk send: one message to many customers, sent in the background."""

    __tablename__ = "sms_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.Text)
    total: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(sa.String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
