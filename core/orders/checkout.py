"""Checkout: turning a cart into an order, with the discounts plugins grant.

``quote`` asks every enabled plugin's ``checkout_adjustments`` hook what it grants for the cart
(e.g. points redeemed, tier discount, store credit) and adds them up in priority order; together
they never take the total below shipping (a discount larger than what is left of the subtotal
is trimmed). ``place`` creates the order with the same adjustments, stored on the order, so each
plugin settles its own on ``order.created`` (deducting the points it granted, for instance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.customers.service import ensure_not_blacklisted, get_customer
from core.errors import ValidationError
from core.orders.models import Order
from core.orders.service import create_order
from core.plugins.dispatch import contributions
from core.stores.models import Store
from plugin_sdk.context import Checkout, CheckoutLine


@dataclass
class Quote:
    currency: str
    subtotal: int
    shipping_total: int
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def discount_total(self) -> int:
        return -sum(a["amount"] for a in self.adjustments)

    @property
    def total(self) -> int:
        return self.subtotal - self.discount_total + self.shipping_total


def _lines(lines: Sequence[dict[str, Any]]) -> tuple[CheckoutLine, ...]:
    result = []
    for index, line in enumerate(lines):
        try:
            result.append(CheckoutLine(
                product_id=str(line.get("product_id", "")), sku=str(line.get("sku", "")),
                title=str(line["title"]), unit_price=int(line["unit_price"]),
                quantity=int(line["quantity"]),
            ))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"line {index + 1} needs title, unit_price and quantity",
                                  field=f"lines.{index}") from exc
    return tuple(result)


def quote(store: Store, *, lines: Sequence[dict[str, Any]], customer_id: int | None = None,
          shipping_total: int = 0, requests: dict[str, dict[str, Any]] | None = None) -> Quote:
    """What the order would cost, with every discount plugins grant."""
    if customer_id is not None:
        ensure_not_blacklisted(get_customer(store, customer_id))
    checkout_lines = _lines(lines)
    subtotal = sum(line.unit_price * line.quantity for line in checkout_lines)
    checkout = Checkout(currency=store.currency, lines=checkout_lines, subtotal=subtotal,
                        shipping_total=shipping_total, customer_id=customer_id,
                        requests=requests or {})
    result = Quote(currency=store.currency, subtotal=subtotal, shipping_total=shipping_total)
    room = subtotal
    for adjustment in contributions(store, "checkout_adjustments", checkout=checkout):
        if not isinstance(adjustment.amount, int) or adjustment.amount > 0:
            continue  # a plugin may only take money off, in whole minor units
        amount = -min(-adjustment.amount, room)
        if amount == 0:
            continue
        room += amount
        result.adjustments.append({
            "plugin_id": adjustment.plugin_id, "code": adjustment.code,
            "label": adjustment.label, "amount": amount, "data": dict(adjustment.data),
            "trimmed": amount != adjustment.amount,
        })
    return result


def place(store: Store, *, lines: Sequence[dict[str, Any]], customer_id: int | None = None,
          email: str | None = None, shipping_total: int = 0,
          requests: dict[str, dict[str, Any]] | None = None, source: str = "storefront",
          actor: str = "system") -> Order:
    """Create the order for a cart with the adjustments of a fresh quote."""
    priced = quote(store, lines=lines, customer_id=customer_id, shipping_total=shipping_total,
                   requests=requests)
    order = create_order(
        store, lines=lines, customer_id=customer_id, email=email,
        discount_total=priced.discount_total, shipping_total=shipping_total, source=source,
        actor=actor, adjustments=priced.adjustments,
    )
    return order
