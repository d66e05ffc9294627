"""The order admin: list with status filter and search, the order page with lines, totals,
refunds and timeline, and the actions (pay, fulfil, cancel, refund in major units, attach a
guest order), with the service's refusals shown as messages, never a server error."""

from __future__ import annotations

import html
import re

import pytest

from core.customers import service as customers
from core.customers.models import Customer
from core.db import db
from core.money import format_money
from core.orders import service
from core.orders.models import Order
from tests.conftest import csrf_token, events_of


def numbers(page) -> list[int]:
    assert page.status_code == 200, page.text
    return [int(n) for n in re.findall(r'href="/admin/orders/\d+">#(\d+)</a>', page.text)]


def post(admin, path, **data):
    token = csrf_token(admin, "/admin/orders/")
    return admin.post(path, data={"csrf_token": token, **data})


def fresh(order: Order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def text_of(page) -> str:
    return html.unescape(page.text)


def place(store, customer_id=None, amount=1000, email=None):
    return service.create_order(
        store,
        customer_id=customer_id,
        email=email,
        lines=[{"sku": "GRN", "title": "Green tea", "unit_price": amount, "quantity": 1}],
    )


@pytest.fixture
def orders(store, customer):
    """Orders in every state: created, paid, fulfilled, partly refunded, refunded, cancelled."""
    made = {
        name: place(store, customer.id, amount)
        for name, amount in (
            ("created", 1000),
            ("paid", 2000),
            ("fulfilled", 3000),
            ("partial", 4000),
            ("refunded", 5000),
            ("cancelled", 6000),
        )
    }
    for name in ("paid", "fulfilled", "partial", "refunded"):
        service.mark_paid(store, made[name])
    service.fulfil(store, made["fulfilled"])
    service.refund(store, made["partial"], 1000)
    service.refund(store, made["refunded"], 5000)
    service.cancel(store, made["cancelled"], reason="changed mind")
    made["guest"] = place(store, email="guest@example.com", amount=700)
    db.session.commit()
    return made


def test_the_list_shows_every_order_newest_first(admin, orders, customer):
    page = admin.get("/admin/orders/")

    assert numbers(page) == sorted((o.number for o in orders.values()), reverse=True)
    text = text_of(page)
    assert format_money(4000, "MYR") in text
    assert "Partially refunded" in text and "Cancelled" in text
    assert "Guest" in text and "guest@example.com" in text
    assert f'href="/admin/customers/{customer.id}"' in page.text


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("created", ["created", "guest"]),
        ("paid", ["paid", "partial"]),
        ("fulfilled", ["fulfilled"]),
        ("partially_refunded", ["partial"]),
        ("refunded", ["refunded"]),
        ("cancelled", ["cancelled"]),
    ],
)
def test_filter_by_status(admin, orders, status, expected):
    page = admin.get(f"/admin/orders/?status={status}")

    assert sorted(numbers(page)) == sorted(orders[name].number for name in expected)


def test_search_by_number_or_email(admin, orders):
    paid = orders["paid"].number

    assert numbers(admin.get(f"/admin/orders/?q=%23{paid}")) == [paid]
    assert numbers(admin.get("/admin/orders/?q=GUEST@")) == [orders["guest"].number]


def test_orders_of_one_customer(admin, orders, customer):
    page = admin.get(f"/admin/orders/?customer={customer.id}")

    assert orders["guest"].number not in numbers(page)
    assert len(numbers(page)) == 6
    assert "Orders of 美玲 陳" in html.unescape(page.text)


def test_pages_of_orders(admin, store):
    for _ in range(55):
        place(store, email="bulk@example.com")
    db.session.commit()

    first, second = admin.get("/admin/orders/"), admin.get("/admin/orders/?page=2")

    assert len(numbers(first)) == 50 and len(numbers(second)) == 5
    assert 'id="order-total">55<' in first.text


def test_the_order_page_shows_lines_totals_refunds_and_timeline(admin, store, paid_order):
    service.refund(store, paid_order, 1250, reason="one tin dented")
    db.session.commit()

    page = admin.get(f"/admin/orders/{paid_order.id}")
    text = text_of(page)

    assert page.status_code == 200
    assert "Oolong" in text and "TEA" in text
    for amount in (3800, 7600, 800, 8400, 1250, 7150):
        assert format_money(amount, "MYR") in text
    assert "one tin dented" in text
    assert "Partially refunded" in text
    assert f"Order #{paid_order.number} paid" in text
    refund = format_money(1250, "MYR")
    assert f"Refund of {refund} on order #{paid_order.number} · reason: one tin dented" in text
    assert f"Up to {format_money(7150, 'MYR')} can still be refunded." in text


def test_mark_paid_then_fulfil(admin, store, customer, staff):
    order = place(store, customer.id, 2500)
    db.session.commit()

    response = post(admin, f"/admin/orders/{order.id}/pay")
    assert response.status_code == 302
    assert fresh(order).status == "paid"
    assert db.session.get(Customer, customer.id).total_spent == 2500
    assert events_of(store, "order.paid")[-1].actor == f"staff:{staff.id}"

    post(admin, f"/admin/orders/{order.id}/fulfil")
    assert fresh(order).status == "fulfilled"
    page = admin.get(f"/admin/orders/{order.id}")
    assert f"Order #{order.number} fulfilled" in page.text


def test_an_action_the_order_does_not_allow_is_a_message(admin, paid_order):
    response = post(admin, f"/admin/orders/{paid_order.id}/pay")

    assert response.status_code == 302
    page = admin.get(response.headers["Location"])
    assert "only created orders can be paid" in page.text
    assert 'class="alert alert-danger' in page.text


def test_paying_for_a_blacklisted_customer_is_refused_on_the_page(admin, store, customer):
    order = place(store, customer.id)
    customers.blacklist(store, customer, "fraud")
    db.session.commit()

    page = admin.get(post(admin, f"/admin/orders/{order.id}/pay").headers["Location"])

    assert "this account is blocked by the store" in page.text
    assert fresh(order).status == "created"


def test_cancel_with_a_reason(admin, store, paid_order):
    response = post(admin, f"/admin/orders/{paid_order.id}/cancel", cancel_reason="out of stock")

    assert response.status_code == 302
    cancelled = fresh(paid_order)
    assert cancelled.status == "cancelled"
    assert cancelled.refunded_total == cancelled.total
    assert events_of(store, "order.cancelled")[-1].payload["reason"] == "out of stock"


def test_refund_an_amount_in_major_units(admin, store, paid_order):
    response = post(
        admin,
        f"/admin/orders/{paid_order.id}/refund",
        amount="10.50",
        refund_reason="late delivery",
    )

    assert response.status_code == 302
    refunded = fresh(paid_order)
    assert refunded.refunded_total == 1050
    assert refunded.financial_status == "partially_refunded"
    assert refunded.refunds[-1].reason == "late delivery"
    assert db.session.get(Customer, paid_order.customer_id).total_spent == 8400 - 1050


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("84.01", "at most 8400 can still be refunded"),
        ("1.005", "MYR amounts cannot have that many decimals."),
        ("0", "Enter an amount above zero."),
        ("lots", "Not a valid decimal value."),
        ("", "This field is required."),
    ],
)
def test_a_refund_the_order_cannot_take_is_shown_next_to_the_amount(
    admin, paid_order, amount, message
):
    page = post(admin, f"/admin/orders/{paid_order.id}/refund", amount=amount)

    assert page.status_code == 200
    assert re.search(
        r'id="amount"[^>]*>\s*<div class="invalid-feedback[^"]*">' + re.escape(message),
        page.text,
    ), page.text
    assert fresh(paid_order).refunded_total == 0


def test_refunding_in_full_marks_the_order_refunded(admin, paid_order):
    post(admin, f"/admin/orders/{paid_order.id}/refund", amount="84")

    assert fresh(paid_order).status == "refunded"


def test_attach_a_guest_order_by_email(admin, store, customer):
    order = place(store, email="mei@example.com")
    db.session.commit()

    page = admin.get(f"/admin/orders/{order.id}")
    assert "Guest order" in page.text

    response = post(admin, f"/admin/orders/{order.id}/attach", attach_ref="Mei@Example.com")

    assert response.status_code == 302
    assert fresh(order).customer_id == customer.id
    page = admin.get(f"/admin/orders/{order.id}")
    assert 'id="order-customer"' in page.text
    assert f"Guest order #{order.number} attached to customer #{customer.id}" in page.text


def test_attach_to_an_unknown_customer_is_shown_next_to_the_field(admin, store):
    order = place(store, email="guest@example.com")
    db.session.commit()

    page = post(admin, f"/admin/orders/{order.id}/attach", attach_ref="nobody@example.com")

    assert page.status_code == 200
    assert re.search(
        r'id="attach_ref"[^>]*>\s*<div class="invalid-feedback[^"]*">No customer '
        r"nobody@example.com in this store.",
        page.text,
    )
    assert fresh(order).customer_id is None


def test_unknown_order_is_404(admin, store):
    assert admin.get("/admin/orders/424242").status_code == 404
    assert post(admin, "/admin/orders/424242/pay").status_code == 404


def test_hostile_order_text_is_escaped(admin, store):
    order = service.create_order(
        store,
        email="guest@example.com",
        note="<script>alert(1)</script>",
        lines=[
            {
                "sku": "<b>",
                "title": "<img src=x onerror=alert(1)>",
                "unit_price": 100,
                "quantity": 1,
            }
        ],
    )
    db.session.commit()

    page = admin.get(f"/admin/orders/{order.id}")

    assert "<script>alert(1)</script>" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
