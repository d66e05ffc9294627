"""Checkout adjustments: plugins grant discounts, the core keeps the total sane (P-04)."""

from __future__ import annotations

from typing import Any

import pytest

from core.db import db
from core.errors import Forbidden
from core.orders.checkout import place, quote
from plugin_sdk import Adjustment, Plugin, hookimpl
from tests.conftest import events_of

CART = [{"sku": "TEA", "title": "Oolong", "unit_price": 3000, "quantity": 2}]


class Coupons(Plugin):
    id = "coupons"
    name = "Coupons"
    version = "1.0.0"
    category = "marketing"

    @hookimpl
    def checkout_adjustments(self, ctx: Any, checkout: Any) -> list[Adjustment]:
        code = checkout.requests.get("coupons", {}).get("code")
        if code == "WELCOME":
            return [Adjustment(code="WELCOME", label="Welcome 5.00 off", amount=-500,
                               data={"code": code}, priority=10)]
        return []


class Generous(Plugin):
    id = "generous"
    name = "Generous"
    version = "1.0.0"
    category = "marketing"

    @hookimpl
    def checkout_adjustments(self, ctx: Any) -> list[Adjustment]:
        return [Adjustment(code="ALL", label="Everything free", amount=-100_000, priority=20),
                Adjustment(code="BAD", label="Adds money", amount=300, priority=30)]


@pytest.fixture
def plugins(register_plugin, install):
    register_plugin(Coupons)
    register_plugin(Generous)
    install("coupons")


def test_quote_applies_a_plugins_discount(store, plugins):
    priced = quote(store, lines=CART, shipping_total=800, requests={"coupons": {"code": "WELCOME"}})
    assert (priced.subtotal, priced.discount_total, priced.total) == (6000, 500, 6300)
    assert priced.adjustments[0]["plugin_id"] == "coupons"
    assert quote(store, lines=CART).discount_total == 0


def test_discounts_never_exceed_the_subtotal_and_never_add_money(store, plugins, install):
    install("generous")
    priced = quote(store, lines=CART, shipping_total=800, requests={"coupons": {"code": "WELCOME"}})
    assert [a["code"] for a in priced.adjustments] == ["WELCOME", "ALL"]
    assert priced.adjustments[1]["amount"] == -5500 and priced.adjustments[1]["trimmed"]
    assert priced.total == 800


def test_placed_order_keeps_its_adjustments(store, customer, plugins):
    order = place(store, lines=CART, customer_id=customer.id,
                  requests={"coupons": {"code": "WELCOME"}})
    db.session.commit()
    assert (order.discount_total, order.total) == (500, 5500)
    [created] = events_of(store, "order.created")
    assert created.payload["order"]["adjustments"][0]["code"] == "WELCOME"


def test_blacklisted_customer_cannot_check_out(store, customer, plugins):
    from core.customers.service import blacklist

    blacklist(store, customer, "fraud")
    db.session.commit()
    with pytest.raises(Forbidden):
        quote(store, lines=CART, customer_id=customer.id)
