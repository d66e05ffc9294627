"""Customers, their tags and the custom fields a merchant defines."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, StoreScoped, Timestamps, utcnow

customer_tags = sa.Table(
    "customer_tags",
    Base.metadata,
    sa.Column("customer_id", sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Customer(StoreScoped, Timestamps, Base):
    """Someone who registered or ordered in a store.

    ``orders_count``, ``total_spent`` and ``last_order_at`` are kept by the order service in the
    same transaction as the order change, so the list can filter and sort on them with an index
    instead of aggregating orders on every page view. ``total_spent`` is in the store currency's
    minor units and counts paid orders less refunds.
    """

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    first_name: Mapped[str] = mapped_column(sa.String(100), default="")
    last_name: Mapped[str] = mapped_column(sa.String(100), default="")
    birthday: Mapped[date | None]
    #: When the customer last changed their own birthday (C-06: at most once a year).
    birthday_changed_at: Mapped[datetime | None]
    accepts_marketing: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    location: Mapped[str] = mapped_column(sa.String(100), default="")
    salesperson: Mapped[str] = mapped_column(sa.String(100), default="")
    source: Mapped[str] = mapped_column(sa.String(20), default="admin")
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))

    blacklisted: Mapped[bool] = mapped_column(default=False)
    blacklisted_at: Mapped[datetime | None]
    blacklist_reason: Mapped[str] = mapped_column(sa.String(500), default="")

    orders_count: Mapped[int] = mapped_column(default=0)
    total_spent: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_order_at: Mapped[datetime | None]

    #: Set when this account was merged into another; merged accounts leave the list.
    merged_into_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL")
    )
    erased_at: Mapped[datetime | None]

    tags: Mapped[list[Tag]] = relationship(
        secondary=customer_tags, back_populates="customers", order_by="Tag.name"
    )
    field_values: Mapped[list[CustomFieldValue]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint("store_id", "email"),
        sa.Index("ix_customers_store_phone", "store_id", "phone"),
        sa.Index("ix_customers_store_created", "store_id", "created_at"),
        # The list's default sort and its money/orders/recency filters: live customers only,
        # with the filtered columns included so PostgreSQL counts a filter's matches from the
        # index alone (an index-only scan) instead of reading every customer row.
        sa.Index(
            "ix_customers_store_list",
            "store_id",
            "total_spent",
            postgresql_include=["orders_count", "last_order_at"],
            postgresql_where=sa.text("merged_into_id IS NULL AND erased_at IS NULL"),
            sqlite_where=sa.text("merged_into_id IS NULL AND erased_at IS NULL"),
        ),
        sa.Index("ix_customers_store_orders", "store_id", "orders_count"),
        sa.Index("ix_customers_store_last_order", "store_id", "last_order_at"),
    )

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or f"#{self.id}"

    def field_value_map(self) -> dict[str, Any]:
        return {value.field.key: value.value for value in self.field_values}


class Tag(StoreScoped, Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customers: Mapped[list[Customer]] = relationship(
        secondary=customer_tags, back_populates="tags", lazy="raise"
    )

    __table_args__ = (sa.UniqueConstraint("store_id", "name"),)


FIELD_TYPES = ("text", "date", "dropdown")
FIELD_VISIBILITY = ("signup", "account", "staff")


class CustomFieldDefinition(StoreScoped, Base):
    """A field the merchant adds to customer profiles (C-04).

    ``visibility``: ``signup`` shows it at signup and on the account page, ``account`` only on
    the account page, ``staff`` only in the admin.
    """

    __tablename__ = "custom_field_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64))
    label: Mapped[str] = mapped_column(sa.String(200))
    field_type: Mapped[str] = mapped_column(sa.String(16))
    options: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    visibility: Mapped[str] = mapped_column(sa.String(16), default="staff")
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        sa.UniqueConstraint("store_id", "key"),
        sa.CheckConstraint("field_type in ('text', 'date', 'dropdown')", name="field_type"),
        sa.CheckConstraint("visibility in ('signup', 'account', 'staff')", name="visibility"),
    )


class CustomFieldValue(Base):
    __tablename__ = "custom_field_values"

    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    field_id: Mapped[int] = mapped_column(
        sa.ForeignKey("custom_field_definitions.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(sa.String(1000))

    customer: Mapped[Customer] = relationship(back_populates="field_values")
    field: Mapped[CustomFieldDefinition] = relationship(lazy="joined")

    __table_args__ = (sa.Index("ix_custom_field_values_field_value", "field_id", "value"),)
