"""The customer timeline reads as sentences for every core event type (C-10); plugins' panels
and customer filters appear in the admin, and a failing plugin never breaks a page (P-04, P-05);
the list hands a selection to the export (C-02)."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import pytest
import sqlalchemy as sa

from core.customers import service as customers
from core.db import db
from core.events.service import record_event
from core.money import format_money
from core.orders import service as orders
from plugin_sdk import CustomerFilterSpec, Panel, Plugin, hookimpl
from tests.conftest import csrf_token
from tests.sdk.sample_plugins import Broken


def timeline(page) -> list[str]:
    """The timeline's lines, as text."""
    assert page.status_code == 200, page.text
    block = page.text.split('id="timeline"', 1)[1].split("</ol>", 1)[0]
    return [html.unescape(line).strip() for line in re.findall(r"<li>\s*<div>(.*?)</div>", block)]


def test_every_core_event_reads_as_a_sentence(admin, store, staff, customer):
    one = orders.create_order(
        store, customer_id=customer.id, lines=[{"title": "Tea", "unit_price": 5000, "quantity": 1}]
    )
    orders.mark_paid(store, one)
    orders.fulfil(store, one)
    orders.refund(store, one, 1500, reason="broken lid")
    two = orders.create_order(
        store, customer_id=customer.id, lines=[{"title": "Tea", "unit_price": 900, "quantity": 1}]
    )
    orders.mark_paid(store, two)
    orders.cancel(store, two, reason="out of stock")
    guest = orders.create_order(
        store, email="g@example.com", lines=[{"title": "Tea", "unit_price": 100, "quantity": 1}]
    )
    orders.attach_customer(store, guest, customer.id)
    old = customers.create_customer(store, {"email": "old@example.com"})
    customers.merge_customers(store, customer, old, actor=f"staff:{staff.id}")
    customers.update_customer(store, customer, {"note": "likes oolong"}, tags=["vip"])
    customers.blacklist(store, customer, "chargeback")
    customers.unblacklist(store, customer)
    record_event(
        store.id, "customer.birthday", {"customer_id": customer.id}, customer_id=customer.id
    )
    db.session.commit()
    n1, n2, n3 = one.number, two.number, guest.number

    lines = timeline(admin.get(f"/admin/customers/{customer.id}"))

    assert lines == [
        "Birthday",
        "Removed from the blacklist",
        "Blacklisted: chargeback",
        "Changed: note, tags",
        f"Customer #{old.id} (old@example.com) merged into this account; 0 orders moved",
        f"Guest order #{n3} attached to customer #{customer.id}",
        f"Order #{n2} cancelled · reason: out of stock · {format_money(900, 'MYR')} refunded",
        f"Order #{n2} paid: {format_money(900, 'MYR')}",
        f"Order #{n2} placed: {format_money(900, 'MYR')}",
        f"Refund of {format_money(1500, 'MYR')} on order #{n1} · reason: broken lid",
        f"Order #{n1} fulfilled",
        f"Order #{n1} paid: {format_money(5000, 'MYR')}",
        f"Order #{n1} placed: {format_money(5000, 'MYR')}",
        "Added by staff",
    ]
    page = admin.get(f"/admin/customers/{customer.id}")
    assert "Acme Tea owner" in page.text  # the merge's actor, by name


def test_moved_orders_and_erasure_read_as_sentences(admin, store, customer, paid_order):
    target = customers.create_customer(store, {"email": "partner@example.com"})
    customers.move_orders(store, customer, target, [paid_order.id])
    db.session.commit()

    assert timeline(admin.get(f"/admin/customers/{target.id}"))[0] == (
        f"Order #{paid_order.number} moved from customer #{customer.id} to customer #{target.id}"
    )

    customers.erase_customer(store, customer)
    db.session.commit()
    lines = timeline(admin.get(f"/admin/customers/{customer.id}"))
    assert lines[0] == "Personal data erased"
    assert "customer.created (details erased)" in lines


class Loyalty(Plugin):
    """Adds a panel to customer and order pages and a customer filter by email domain."""

    id = "loyalty_test"
    name = "Loyalty test"
    version = "1.0.0"
    category = "loyalty"
    permissions = ("customers:read",)

    @hookimpl
    def admin_panels(self, ctx: Any, page: str, customer: Any, order: Any) -> list[Panel]:
        if page == "customer":
            return [Panel(title="<b>Stamps</b>", html=f"<em>stamps of {customer['id']}</em>")]
        return [Panel(title="Order stamps", html=f"<em>order {order['number']}</em>")]

    @hookimpl
    def customer_filters(self, ctx: Any) -> list[CustomerFilterSpec]:
        people = sa.table("customers", sa.column("id"), sa.column("email"), sa.column("store_id"))

        def by_domain(value: str) -> Any:
            return sa.select(people.c.id).where(
                people.c.store_id == ctx.store.id, people.c.email.like(f"%@{value}")
            )

        return [
            CustomerFilterSpec(
                key="loyalty_test.domain",
                label="Email domain",
                customer_ids=by_domain,
                choices=(("example.com", "example.com"), ("corp.test", "corp.test")),
            )
        ]


@pytest.fixture
def loyalty(register_plugin, install):
    register_plugin(Loyalty)
    install("loyalty_test")


@pytest.mark.usefixtures("loyalty")
def test_plugin_panels_appear_on_customer_and_order_pages(admin, customer, paid_order):
    page = admin.get(f"/admin/customers/{customer.id}")

    assert f"<em>stamps of {customer.id}</em>" in page.text
    assert "&lt;b&gt;Stamps&lt;/b&gt;" in page.text  # a title is text
    order_page = admin.get(f"/admin/orders/{paid_order.id}")
    assert f"<em>order {paid_order.number}</em>" in order_page.text


@pytest.mark.usefixtures("loyalty")
def test_plugin_filters_narrow_the_list(admin, store, customer):
    customers.create_customer(store, {"email": "boss@corp.test", "first_name": "Boss"})
    db.session.commit()

    page = admin.get("/admin/customers/?plugin.loyalty_test.domain=corp.test")

    assert "Email domain" in page.text
    assert '<option value="corp.test" selected>corp.test</option>' in page.text
    assert re.findall(r'class="customer-name">([^<]*)</a>', page.text) == ["Boss"]


def test_a_failing_plugin_does_not_break_the_pages(
    admin, register_plugin, install, customer, paid_order
):
    register_plugin(Broken)
    install("broken")

    assert admin.get(f"/admin/customers/{customer.id}").status_code == 200
    assert admin.get(f"/admin/orders/{paid_order.id}").status_code == 200


def test_export_the_ticked_customers(admin, store, customer):
    other = customers.create_customer(store, {"email": "other@example.com"})
    customers.create_customer(store, {"email": "third@example.com"})
    db.session.commit()
    token = csrf_token(admin, "/admin/customers/")

    response = admin.post(
        "/admin/customers/bulk",
        data={
            "csrf_token": token,
            "action": "export_csv",
            "scope": "selected",
            "ids": [customer.id, other.id],
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/customers/export?")
    export = admin.get(response.headers["Location"])
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    emails = {cell for row in rows[1:] for cell in row if "@" in cell}
    assert emails == {"mei@example.com", "other@example.com"}
