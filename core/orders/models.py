"""Orders, their lines and refunds. Money is integer minor units of the order's currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, StoreScoped, utcnow

ORDER_STATUSES = ("created", "paid", "fulfilled", "cancelled", "refunded")


class Order(StoreScoped, Base):
    """An order, a guest's (``customer_id`` is ``None``) or a customer's.

    Lifecycle: ``created`` → ``paid`` → ``fulfilled``; ``created`` or ``paid`` → ``cancelled``;
    ``paid``/``fulfilled`` → ``refunded`` once refunds reach the total. A partial refund keeps the
    status and raises ``refunded_total``.
    """

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int]
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL")
    )
    email: Mapped[str | None] = mapped_column(sa.String(254))
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(16), default="created")
    subtotal: Mapped[int] = mapped_column(sa.BigInteger)
    discount_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    shipping_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total: Mapped[int] = mapped_column(sa.BigInteger)
    refunded_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Discounts plugins granted at checkout (``checkout_adjustments``), included in
    #: ``discount_total``: ``[{"plugin_id", "code", "label", "amount", "data"}]``.
    adjustments: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    source: Mapped[str] = mapped_column(sa.String(20), default="admin")
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Refund.id"
    )

    __table_args__ = (
        sa.UniqueConstraint("store_id", "number"),
        sa.Index("ix_orders_store_customer", "store_id", "customer_id"),
        sa.Index("ix_orders_store_placed", "store_id", "placed_at"),
        sa.CheckConstraint(
            "status in ('created', 'paid', 'fulfilled', 'cancelled', 'refunded')", name="status"
        ),
        sa.CheckConstraint("total >= 0 and refunded_total >= 0", name="money"),
    )

    @property
    def refundable(self) -> int:
        return self.total - self.refunded_total

    @property
    def financial_status(self) -> str:
        """What a merchant reads in the list: adds ``partially_refunded`` to the lifecycle."""
        if self.refunded_total and self.status != "refunded":
            return "partially_refunded"
        return self.status


class OrderLine(StoreScoped, Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[str] = mapped_column(sa.String(64), default="")
    sku: Mapped[str] = mapped_column(sa.String(64), default="")
    title: Mapped[str] = mapped_column(sa.String(300))
    unit_price: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="lines")

    __table_args__ = (sa.CheckConstraint("quantity > 0 and unit_price >= 0", name="line"),)

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


class Refund(StoreScoped, Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds")

    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount"),)
