"""Order lifecycle and exact money (O-01 to O-03)."""

from __future__ import annotations

import pytest

from core.db import db
from core.errors import Conflict, ValidationError
from core.orders import service
from tests.conftest import events_of

LINES = [
    {"sku": "OOLONG", "title": "凍頂烏龍茶", "unit_price": 3_850, "quantity": 3},
    {"sku": "MUG", "title": "Clay mug", "unit_price": 5_900, "quantity": 1},
]


def place(store, **kwargs):
    order = service.create_order(store, lines=kwargs.pop("lines", LINES), **kwargs)
    db.session.commit()
    return order


def test_totals_are_exact_minor_units(store, customer):
    order = place(store, customer_id=customer.id, discount_total=1_000, shipping_total=800)
    assert (order.subtotal, order.total) == (17_450, 17_250)
    assert order.currency == "MYR"
    assert order.email == "mei@example.com"
    [event] = events_of(store, "order.created")
    assert event.payload["order"]["total"] == 17_250
    assert event.order_id == order.id and event.customer_id == customer.id


def test_order_numbers_count_up_per_store(store, other_store):
    first, second = place(store), place(store)
    elsewhere = place(other_store)
    assert second.number == first.number + 1
    assert elsewhere.number == first.number


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([{"title": "x", "unit_price": 10, "quantity": 0}], "lines.0.quantity"),
        ([{"title": "x", "unit_price": 1.5, "quantity": 1}], "lines.0.unit_price"),
        ([{"title": " ", "unit_price": 10, "quantity": 1}], "lines.0.title"),
    ],
)
def test_bad_lines_name_the_field(store, lines, field):
    with pytest.raises(ValidationError) as info:
        service.create_order(store, lines=lines)
    assert info.value.field == field


def test_discount_cannot_exceed_subtotal(store):
    with pytest.raises(ValidationError) as info:
        service.create_order(store, lines=LINES, discount_total=20_000)
    assert info.value.field == "discount_total"


def test_lifecycle_paid_fulfilled_and_customer_totals(store, customer):
    order = place(store, customer_id=customer.id)
    assert customer.orders_count == 0
    service.mark_paid(store, order)
    db.session.commit()
    assert (customer.orders_count, customer.total_spent) == (1, 17_450)
    assert customer.last_order_at == order.placed_at
    service.fulfil(store, order)
    db.session.commit()
    assert order.status == "fulfilled"
    with pytest.raises(Conflict) as info:
        service.mark_paid(store, order)
    assert "fulfilled" in info.value.message
    assert [e.type for e in events_of(store) if e.order_id == order.id] == [
        "order.created", "order.paid", "order.fulfilled"]


def test_partial_then_final_refund(store, customer):
    order = place(store, customer_id=customer.id)
    service.mark_paid(store, order)
    service.refund(store, order, 5_000, reason="broken mug")
    db.session.commit()
    assert order.financial_status == "partially_refunded"
    assert customer.total_spent == 12_450
    with pytest.raises(ValidationError) as info:
        service.refund(store, order, 12_451)
    assert "12450" in info.value.message
    service.refund(store, order, 12_450)
    db.session.commit()
    assert order.status == "refunded" and order.refunded_total == order.total
    assert (customer.orders_count, customer.total_spent) == (1, 0)
    refunds = events_of(store, "order.refunded")
    assert [(e.payload["refund"]["amount"], e.payload["full"]) for e in refunds] == [
        (5_000, False), (12_450, True)]


def test_cancel_a_paid_order_refunds_the_rest(store, customer):
    order = place(store, customer_id=customer.id)
    service.mark_paid(store, order)
    service.refund(store, order, 450)
    service.cancel(store, order, reason="out of stock")
    db.session.commit()
    assert order.status == "cancelled" and order.refunded_total == order.total
    assert (customer.orders_count, customer.total_spent) == (0, 0)
    [event] = events_of(store, "order.cancelled")
    assert event.payload["refunded_amount"] == 17_000


def test_cannot_refund_unpaid_or_cancel_fulfilled(store):
    order = place(store)
    with pytest.raises(Conflict):
        service.refund(store, order, 100)
    service.mark_paid(store, order)
    service.fulfil(store, order)
    with pytest.raises(Conflict):
        service.cancel(store, order)


def test_guest_order_attached_later(store, customer):
    order = place(store, email="guest@example.net")
    service.mark_paid(store, order)
    db.session.commit()
    assert order.customer_id is None
    service.attach_customer(store, order, customer.id)
    db.session.commit()
    assert order.customer_id == customer.id and order.email == "guest@example.net"
    assert (customer.orders_count, customer.total_spent) == (1, 17_450)
    [event] = events_of(store, "order.customer_attached")
    assert event.customer_id == customer.id


def test_attach_refuses_an_order_of_someone_else(store, customer):
    order = place(store, customer_id=customer.id)
    from core.customers.service import create_customer

    someone = create_customer(store, {"email": "else@example.com"})
    with pytest.raises(Conflict):
        service.attach_customer(store, order, someone.id)


def test_customer_of_another_store_cannot_be_used(store, other_store, customer):
    from core.errors import NotFound

    with pytest.raises(NotFound):
        service.create_order(other_store, customer_id=customer.id, lines=LINES)
