"""Order rules: placing, paying, fulfilling, cancelling and refunding (O-01 to O-03).

Money is integer minor units. Each transition records its event in the same transaction and
keeps the customer's ``orders_count`` / ``total_spent`` / ``last_order_at`` right: those count
orders that were paid (``paid``, ``fulfilled``, ``refunded``), and spend is net of refunds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from core.customers.models import Customer
from core.customers.service import ensure_not_blacklisted, get_customer
from core.db import db, utcnow
from core.errors import Conflict, NotFound, ValidationError
from core.events.service import record_event
from core.orders.models import Order, OrderLine, Refund
from core.orders.schemas import OrderSchema
from core.stores.models import Store

COUNTED_STATUSES = ("paid", "fulfilled", "refunded")


def get_order(store: Store, order_id: int) -> Order:
    order = db.session.scalar(
        sa.select(Order)
        .where(Order.store_id == store.id, Order.id == order_id)
        .options(selectinload(Order.lines), selectinload(Order.refunds))
    )
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def _snapshot(order: Order) -> dict[str, Any]:
    return OrderSchema().dump(order)


def _record(store: Store, order: Order, type: str, actor: str, **extra: Any) -> None:
    record_event(
        store.id,
        type,
        {"order": _snapshot(order), **extra},
        actor=actor,
        customer_id=order.customer_id,
        order_id=order.id,
    )


def _next_number(store: Store) -> int:
    return db.session.execute(
        sa.update(Store)
        .where(Store.id == store.id)
        .values(last_order_number=Store.last_order_number + 1)
        .returning(Store.last_order_number)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def create_order(
    store: Store,
    *,
    lines: Sequence[dict[str, Any]],
    customer_id: int | None = None,
    email: str | None = None,
    discount_total: int = 0,
    shipping_total: int = 0,
    note: str = "",
    placed_at: datetime | None = None,
    source: str = "admin",
    actor: str = "system",
    adjustments: Sequence[dict[str, Any]] = (),
) -> Order:
    """Place an order for a customer or a guest. Blacklisted customers cannot order."""
    if not lines:
        raise ValidationError("an order needs at least one line", field="lines")
    order_lines = []
    for index, line in enumerate(lines):
        where = f"lines.{index}"
        quantity, unit_price = line.get("quantity"), line.get("unit_price")
        if not isinstance(quantity, int) or quantity < 1:
            raise ValidationError(
                "quantity must be a whole number of at least 1", field=f"{where}.quantity"
            )
        if not isinstance(unit_price, int) or unit_price < 0:
            raise ValidationError(
                "unit_price must be a whole number of minor units, 0 or more",
                field=f"{where}.unit_price",
            )
        if not (line.get("title") or "").strip():
            raise ValidationError("a line needs a title", field=f"{where}.title")
        order_lines.append(
            OrderLine(
                store_id=store.id,
                product_id=line.get("product_id", ""),
                sku=line.get("sku", ""),
                title=line["title"].strip(),
                unit_price=unit_price,
                quantity=quantity,
            )
        )
    subtotal = sum(line.unit_price * line.quantity for line in order_lines)
    if discount_total < 0 or discount_total > subtotal:
        raise ValidationError(
            "the discount must be between 0 and the subtotal", field="discount_total"
        )
    if shipping_total < 0:
        raise ValidationError("shipping cannot be negative", field="shipping_total")
    customer = None
    if customer_id is not None:
        customer = get_customer(store, customer_id)
        ensure_not_blacklisted(customer)
        if customer.merged_into_id is not None:
            raise Conflict(
                f"customer {customer_id} was merged into {customer.merged_into_id}",
                field="customer_id",
            )
    order = Order(
        store_id=store.id,
        number=_next_number(store),
        customer_id=customer.id if customer else None,
        email=(email or (customer.email if customer else None)),
        currency=store.currency,
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping_total,
        total=subtotal - discount_total + shipping_total,
        note=note,
        source=source,
        adjustments=list(adjustments),
        placed_at=placed_at or utcnow(),
        lines=order_lines,
        refunds=[],
    )
    db.session.add(order)
    db.session.flush()
    _record(store, order, "order.created", actor)
    return order


def _require(order: Order, allowed: Sequence[str], action: str) -> None:
    if order.status not in allowed:
        raise Conflict(
            f"order #{order.number} is {order.status}; only {' or '.join(allowed)} orders can be "
            f"{action}",
            field="status",
        )


def mark_paid(
    store: Store, order: Order, *, paid_at: datetime | None = None, actor: str = "system"
) -> Order:
    _require(order, ("created",), "paid")
    if order.customer_id is not None:
        customer = get_customer(store, order.customer_id)
        ensure_not_blacklisted(customer)
    order.status = "paid"
    order.paid_at = paid_at or utcnow()
    db.session.flush()
    refresh_customer_stats(store, [order.customer_id])
    _record(store, order, "order.paid", actor)
    return order


def fulfil(store: Store, order: Order, *, actor: str = "system") -> Order:
    _require(order, ("paid",), "fulfilled")
    order.status = "fulfilled"
    order.fulfilled_at = utcnow()
    db.session.flush()
    _record(store, order, "order.fulfilled", actor)
    return order


def cancel(store: Store, order: Order, *, reason: str = "", actor: str = "system") -> Order:
    """Cancel an unfulfilled order; a paid one is refunded in full first (one event)."""
    _require(order, ("created", "paid"), "cancelled")
    refunded = 0
    if order.status == "paid" and order.refundable:
        refunded = order.refundable
        order.refunds.append(
            Refund(store_id=store.id, amount=refunded, reason=(reason or "cancelled")[:500])
        )
        order.refunded_total += refunded
    order.status = "cancelled"
    order.cancelled_at = utcnow()
    db.session.flush()
    refresh_customer_stats(store, [order.customer_id])
    _record(store, order, "order.cancelled", actor, reason=reason, refunded_amount=refunded)
    return order


def refund(
    store: Store, order: Order, amount: int, *, reason: str = "", actor: str = "system"
) -> Refund:
    """Refund part or all of a paid order. The last refund that reaches the total marks it
    ``refunded``."""
    _require(order, ("paid", "fulfilled"), "refunded")
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError(
            "the refund must be a positive whole number of minor units", field="amount"
        )
    if amount > order.refundable:
        raise ValidationError(
            f"at most {order.refundable} can still be refunded on order #{order.number}",
            field="amount",
        )
    entry = Refund(store_id=store.id, amount=amount, reason=reason.strip()[:500])
    order.refunds.append(entry)
    order.refunded_total += amount
    if order.refunded_total == order.total:
        order.status = "refunded"
    db.session.flush()
    refresh_customer_stats(store, [order.customer_id])
    _record(
        store,
        order,
        "order.refunded",
        actor,
        refund={"id": entry.id, "amount": amount, "reason": entry.reason},
        full=order.status == "refunded",
    )
    return entry


def attach_customer(
    store: Store, order: Order, customer_id: int, *, actor: str = "system"
) -> Order:
    """Attach a guest order to a customer (O-03), e.g. when the guest registers later."""
    customer = get_customer(store, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict(
            f"customer {customer_id} was merged into {customer.merged_into_id}", field="customer_id"
        )
    if order.customer_id == customer.id:
        return order
    if order.customer_id is not None:
        raise Conflict(
            f"order #{order.number} belongs to customer {order.customer_id}; move it from that "
            "customer's page instead",
            field="customer_id",
        )
    order.customer_id = customer.id
    if not order.email:
        order.email = customer.email
    db.session.flush()
    refresh_customer_stats(store, [customer.id])
    _record(store, order, "order.customer_attached", actor, previous_customer_id=None)
    return order


def refresh_customer_stats(store: Store, customer_ids: Sequence[int | None]) -> None:
    """Recompute order count, net spend and last order date from the orders themselves.

    The customer row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite has one writer) so
    two payments for the same customer at once cannot both write a total that misses the other.
    """
    ids = sorted({cid for cid in customer_ids if cid is not None})
    if not ids:
        return
    db.session.execute(
        sa.select(Customer.id)
        .where(Customer.store_id == store.id, Customer.id.in_(ids))
        .order_by(Customer.id)
        .with_for_update()
    ).all()
    counted = sa.and_(
        Order.store_id == store.id,
        Order.customer_id == Customer.id,
        Order.status.in_(COUNTED_STATUSES),
    )
    db.session.execute(
        sa.update(Customer)
        .where(Customer.store_id == store.id, Customer.id.in_(ids))
        .values(
            orders_count=sa.select(sa.func.count(Order.id)).where(counted).scalar_subquery(),
            total_spent=sa.select(
                sa.func.coalesce(sa.func.sum(Order.total - Order.refunded_total), 0)
            )
            .where(counted)
            .scalar_subquery(),
            last_order_at=sa.select(sa.func.max(Order.placed_at)).where(counted).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    for customer in db.session.identity_map.values():
        if isinstance(customer, Customer) and customer.id in ids:
            db.session.expire(customer, ["orders_count", "total_spent", "last_order_at"])


def list_orders(
    store: Store,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    q: str = "",
    page: int = 1,
    per_page: int = 50,
) -> Any:
    query = sa.select(Order).where(Order.store_id == store.id)
    if customer_id is not None:
        query = query.where(Order.customer_id == customer_id)
    if status == "partially_refunded":
        query = query.where(Order.refunded_total > 0, Order.status != "refunded")
    elif status:
        query = query.where(Order.status == status)
    if q.strip().lstrip("#").isdigit():
        query = query.where(Order.number == int(q.strip().lstrip("#")))
    elif q.strip():
        query = query.where(Order.email.like(f"%{q.strip().lower()}%"))
    query = query.order_by(Order.placed_at.desc(), Order.id.desc())
    return db.paginate(query, page=page, per_page=min(max(per_page, 1), 500), error_out=False)
