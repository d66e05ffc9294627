"""Stores and the staff who run them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow


class Store(Base):
    """A merchant's store: the scope of every other row."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    currency: Mapped[str] = mapped_column(sa.String(3), default="MYR")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Kuala_Lumpur")
    default_phone_region: Mapped[str] = mapped_column(sa.String(2), default="MY")
    locale: Mapped[str] = mapped_column(sa.String(16), default="en")
    #: Customers may set their own birthday only when the merchant allows it (C-06).
    customers_can_edit_birthday: Mapped[bool] = mapped_column(default=True)
    #: Test mode: the storefront may pay orders with a test payment (the demo store).
    test_payments: Mapped[bool] = mapped_column(default=False)
    #: Counters taken with ``UPDATE … RETURNING`` inside the transaction that needs the number.
    last_event_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_order_number: Mapped[int] = mapped_column(default=1000)
    #: Bumped whenever a plugin installation of this store changes (status, settings,
    #: permissions): every process compares it to drop its cached per-store plugin view.
    plugins_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Store {self.slug}>"


class StaffUser(UserMixin, Base):
    """Someone who works in a store's admin. Owners manage staff and plugins."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(
        sa.ForeignKey("stores.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default="staff")
    #: The staff member's own language; ``None`` follows the store, then the browser.
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    store: Mapped[Store] = relationship(lazy="joined")

    __table_args__ = (sa.CheckConstraint("role in ('owner', 'staff')", name="role"),)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"
