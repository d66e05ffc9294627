"""Per-store plugin installations, event deliveries, and what the host keeps for plugins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, StoreScoped, utcnow

INSTALLATION_STATUSES = ("enabled", "disabled", "suspended")
DELIVERY_STATUSES = ("pending", "running", "done", "failed")


class PluginInstallation(StoreScoped, Base):
    """One plugin installed in one store.

    ``settings`` holds the validated settings with secret fields encrypted (``fernet:…``).
    ``pending_permissions`` is set when an upgrade asks for more than the merchant granted:
    the plugin keeps running with ``granted_permissions`` until the merchant consents.
    """

    __tablename__ = "plugin_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    plugin_id: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="disabled")
    granted_permissions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    pending_permissions: Mapped[list[str] | None] = mapped_column(sa.JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    settings_version: Mapped[int] = mapped_column(default=1)
    #: Consecutive failures (deliveries and request-time errors); reset by a success.
    failure_count: Mapped[int] = mapped_column(default=0)
    suspended_reason: Mapped[str] = mapped_column(sa.Text, default="")
    installed_by: Mapped[str] = mapped_column(sa.String(100), default="system")
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("store_id", "plugin_id"),
        sa.CheckConstraint("status in ('enabled', 'disabled', 'suspended')", name="status"),
    )


class EventDelivery(StoreScoped, Base):
    """One event handed to one plugin's hook: created in the event's own transaction, claimed
    with a lease, retried with backoff, kept as the plugin's health record."""

    __tablename__ = "plugin_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(40))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    plugin_id: Mapped[str] = mapped_column(sa.String(64))
    hook: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    duration_ms: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("event_id", "plugin_id", "hook"),
        sa.Index("ix_plugin_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_plugin_deliveries_store_plugin", "store_id", "plugin_id", "id"),
        sa.CheckConstraint("status in ('pending', 'running', 'done', 'failed')", name="status"),
    )


class PluginError(StoreScoped, Base):
    """A request-time hook that raised: shown on the plugin's health page."""

    __tablename__ = "plugin_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    plugin_id: Mapped[str] = mapped_column(sa.String(64))
    hook: Mapped[str] = mapped_column(sa.String(100))
    message: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.Index("ix_plugin_errors_store_plugin", "store_id", "plugin_id", "id"),)


class PluginKeyValue(StoreScoped, Base):
    __tablename__ = "plugin_kv"

    id: Mapped[int] = mapped_column(primary_key=True)
    plugin_id: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(200))
    value: Mapped[Any] = mapped_column(sa.JSON)

    __table_args__ = (sa.UniqueConstraint("store_id", "plugin_id", "key"),)


class PluginProcessedKey(StoreScoped, Base):
    """Keys a plugin has applied (``ctx.once``): the idempotency record."""

    __tablename__ = "plugin_processed_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    plugin_id: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("store_id", "plugin_id", "key"),)


class ScheduledRun(Base):
    """One run of a daily job for one store and store-local day: the row is the claim."""

    __tablename__ = "scheduled_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(sa.String(150))
    day: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    error: Mapped[str] = mapped_column(sa.Text, default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    __table_args__ = (sa.UniqueConstraint("store_id", "job", "day"),)
