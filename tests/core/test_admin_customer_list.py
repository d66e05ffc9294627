"""The customer list (C-01) and its bulk actions (C-02): search, every filter, sorting,
pagination, and tagging or blacklisting the ticked rows or everyone a filter matches."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from core.customers import service
from core.customers.models import Customer
from core.db import db
from core.money import format_money
from core.orders.service import create_order, mark_paid
from tests.conftest import csrf_token, events_of, make_staff


def at(year: int, month: int, day: int) -> datetime:
    """Noon in Kuala Lumpur (the store's timezone) on that day, in UTC."""
    return datetime(year, month, day, 4, tzinfo=UTC)


def listed(page) -> list[str]:
    """The customer names in the list, in the order shown."""
    assert page.status_code == 200, page.text
    return [
        html.unescape(name) for name in re.findall(r'class="customer-name">([^<]*)</a>', page.text)
    ]


def input_value(page, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page.text).group(0)
    return html.unescape(re.search(r'value="([^"]*)"', tag).group(1))


def total(page) -> int:
    return int(re.search(r'id="customer-total">(\d+)<', page.text).group(1))


@pytest.fixture
def shoppers(store):
    """Four customers who differ in every way the list can filter on."""
    service.define_field(
        store, key="city", label="City", field_type="dropdown", options=["Penang", "Ipoh"]
    )

    def add(first, last, email, *, created, orders=(), tags=(), fields=None, **profile):
        customer = service.create_customer(
            store,
            {"email": email, "first_name": first, "last_name": last, **profile},
            tags=tags,
            custom_fields=fields,
        )
        customer.created_at = created
        for placed_at, amount in orders:
            order = create_order(
                store,
                customer_id=customer.id,
                lines=[{"title": "Tea", "unit_price": amount, "quantity": 1}],
                placed_at=placed_at,
            )
            mark_paid(store, order)
        return customer

    people = {
        "ali": add(
            "Ali",
            "Hassan",
            "ali@example.com",
            created=at(2024, 1, 5),
            orders=[(at(2024, 2, 1), 12000), (at(2024, 3, 1), 8000)],
            tags=["vip"],
            fields={"city": "Penang"},
        ),
        "bee": add(
            "Bee",
            "Lim",
            "bee@example.com",
            created=at(2024, 2, 10),
            orders=[(at(2024, 6, 1), 2500)],
            fields={"city": "Ipoh"},
            accepts_marketing=True,
        ),
        "chen": add(
            "Chen",
            "Wei",
            "chen@example.com",
            created=at(2024, 3, 15),
            tags=["wholesale"],
            phone="012-888 7777",
        ),
        "dina": add(
            "Dina",
            "Tan",
            "dina@example.com",
            created=at(2024, 4, 20),
            orders=[(at(2024, 5, 5), 50000)],
            tags=["vip"],
        ),
    }
    service.blacklist(store, people["dina"], "chargebacks")
    db.session.commit()
    return people


ALL = {"Ali Hassan", "Bee Lim", "Chen Wei", "Dina Tan"}


def test_the_list_shows_everyone_with_their_totals(admin, shoppers):
    page = admin.get("/admin/customers/")

    assert set(listed(page)) == ALL
    assert total(page) == 4
    assert format_money(20000, "MYR") in page.text
    assert "2024-03-01" in page.text  # Ali's last order, as a store-local date
    assert "vip" in page.text and "wholesale" in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=lim", {"Bee Lim"}),
        ("q=ALI%40EXAMPLE", {"Ali Hassan"}),
        ("q=888+7777", {"Chen Wei"}),
        ("q=hassan+ali", set()),
        ("created_from=2024-02-01&created_to=2024-03-31", {"Bee Lim", "Chen Wei"}),
        ("created_to=2024-01-05", {"Ali Hassan"}),
        ("orders_min=1", {"Ali Hassan", "Bee Lim", "Dina Tan"}),
        ("orders_min=2", {"Ali Hassan"}),
        ("orders_max=0", {"Chen Wei"}),
        ("spent_min=100", {"Ali Hassan", "Dina Tan"}),
        ("spent_min=200.01", {"Dina Tan"}),
        ("spent_max=25", {"Bee Lim", "Chen Wei"}),
        ("spent_min=25&spent_max=200", {"Ali Hassan", "Bee Lim"}),
        ("last_order_after=2024-04-30", {"Bee Lim", "Dina Tan"}),
        ("last_order_before=2024-04-01", {"Ali Hassan"}),
        ("blacklisted=yes", {"Dina Tan"}),
        ("blacklisted=no", {"Ali Hassan", "Bee Lim", "Chen Wei"}),
        ("accepts_marketing=yes", {"Bee Lim"}),
        ("field_key=city&field_value=Ipoh", {"Bee Lim"}),
        ("field_key=city", {"Ali Hassan", "Bee Lim"}),
        ("blacklisted=no&orders_min=1&spent_max=100", {"Bee Lim"}),
    ],
)
def test_filters_narrow_the_list(admin, shoppers, query, expected):
    page = admin.get(f"/admin/customers/?{query}")

    assert set(listed(page)) == expected
    assert total(page) == len(expected)


def test_tag_filter(admin, store, shoppers):
    vip = next(t for t in service.list_tags(store) if t.name == "vip")

    page = admin.get(f"/admin/customers/?tag_ids={vip.id}")

    assert set(listed(page)) == {"Ali Hassan", "Dina Tan"}
    assert f'<option selected value="{vip.id}">vip</option>' in page.text


def test_filters_stay_in_the_form_and_in_the_links(admin, shoppers):
    page = admin.get("/admin/customers/?q=a&orders_min=1&sort=spent&dir=asc")

    assert input_value(page, "q") == "a"
    assert input_value(page, "orders_min") == "1"
    export = re.search(r'href="(/admin/customers/export\?[^"]*format=csv[^"]*)"', page.text)
    assert export and "q=a" in export.group(1) and "orders_min=1" in export.group(1)
    sort_link = re.search(r'href="([^"]*sort=name[^"]*)"', page.text).group(1)
    assert "orders_min=1" in html.unescape(sort_link)


def test_a_bad_filter_is_shown_next_to_its_field(admin, shoppers):
    page = admin.get("/admin/customers/?spent_min=lots")

    assert page.status_code == 200
    assert listed(page) == []
    assert re.search(
        r'id="spent_min"[^>]*>\s*<div class="invalid-feedback[^"]*">[^<]*lots', page.text
    )


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("spent", "desc", ["Dina Tan", "Ali Hassan", "Bee Lim", "Chen Wei"]),
        ("spent", "asc", ["Chen Wei", "Bee Lim", "Ali Hassan", "Dina Tan"]),
        ("orders", "desc", ["Ali Hassan", "Dina Tan", "Bee Lim", "Chen Wei"]),
        ("name", "asc", ["Ali Hassan", "Bee Lim", "Dina Tan", "Chen Wei"]),
        ("created", "desc", ["Dina Tan", "Chen Wei", "Bee Lim", "Ali Hassan"]),
        ("last_order", "desc", ["Bee Lim", "Dina Tan", "Ali Hassan", "Chen Wei"]),
    ],
)
def test_columns_sort_the_list(admin, shoppers, sort, direction, expected):
    page = admin.get(f"/admin/customers/?sort={sort}&dir={direction}")

    assert listed(page) == expected


def test_pages_of_customers(admin, store):
    for number in range(30):
        service.create_customer(
            store, {"email": f"p{number:02d}@example.com", "first_name": f"Person{number:02d}"}
        )
    db.session.commit()

    first = admin.get("/admin/customers/?per_page=25&sort=name&dir=asc")
    second = admin.get("/admin/customers/?per_page=25&sort=name&dir=asc&page=2")

    assert total(first) == 30
    assert len(listed(first)) == 25 and len(listed(second)) == 5
    assert set(listed(first)).isdisjoint(listed(second))
    assert "page=2" in first.text


# --- bulk actions (C-02) -----------------------------------------------------------------------


def bulk(admin, query="", **data):
    token = csrf_token(admin, "/admin/customers/")
    return admin.post(f"/admin/customers/bulk?{query}", data={"csrf_token": token, **data})


def tags_of(customer: Customer) -> set[str]:
    db.session.expire_all()
    return {tag.name for tag in db.session.get(Customer, customer.id).tags}


def test_tag_the_ticked_customers(admin, shoppers, store, staff):
    ali, chen = shoppers["ali"], shoppers["chen"]

    response = bulk(
        admin, action="add_tag", tag="spring promo", scope="selected", ids=[ali.id, chen.id]
    )

    assert response.status_code == 302
    assert "spring promo" in tags_of(ali) and "spring promo" in tags_of(chen)
    assert "spring promo" not in tags_of(shoppers["bee"])
    page = admin.get(response.headers["Location"])
    assert "Tag “spring promo” added to 2 customers." in html.unescape(page.text)
    updates = events_of(store, "customer.updated")
    assert {e.customer_id for e in updates[-2:]} == {ali.id, chen.id}
    assert all(e.actor == f"staff:{staff.id}" for e in updates[-2:])


def test_tag_everyone_the_filter_matches(admin, shoppers):
    response = bulk(
        admin, "orders_min=1&blacklisted=no", action="add_tag", tag="buyer", scope="all"
    )

    assert response.headers["Location"] == "/admin/customers/?orders_min=1&blacklisted=no"
    assert "buyer" in tags_of(shoppers["ali"]) and "buyer" in tags_of(shoppers["bee"])
    assert "buyer" not in tags_of(shoppers["chen"]) and "buyer" not in tags_of(shoppers["dina"])
    page = admin.get(response.headers["Location"])
    assert "Tag “buyer” added to 2 customers." in html.unescape(page.text)


def test_the_page_offers_the_whole_filter_with_its_count(admin, shoppers):
    page = admin.get("/admin/customers/?tag_ids=&blacklisted=no")

    assert "Apply to all 3 customers matching this filter" in page.text
    assert 'action="/admin/customers/bulk?tag_ids=&amp;blacklisted=no"' in page.text


def test_remove_a_tag_from_the_ticked_customers(admin, shoppers):
    ali, dina = shoppers["ali"], shoppers["dina"]

    bulk(admin, action="remove_tag", tag="vip", scope="selected", ids=[ali.id])

    assert "vip" not in tags_of(ali)
    assert "vip" in tags_of(dina)


def test_blacklist_everyone_the_filter_matches(admin, shoppers, store):
    response = bulk(
        admin, "q=example.com&orders_max=0", action="blacklist", reason="fake accounts", scope="all"
    )

    page = admin.get(response.headers["Location"])
    assert "1 customer blacklisted." in page.text
    chen = db.session.get(Customer, shoppers["chen"].id)
    db.session.refresh(chen)
    assert chen.blacklisted and chen.blacklist_reason == "fake accounts"
    assert not db.session.get(Customer, shoppers["ali"].id).blacklisted


def test_blacklisting_needs_a_reason(admin, shoppers):
    response = bulk(
        admin, action="blacklist", reason=" ", scope="selected", ids=[shoppers["ali"].id]
    )

    page = admin.get(response.headers["Location"])
    assert "Say why the customers are blacklisted." in page.text
    db.session.expire_all()
    assert not db.session.get(Customer, shoppers["ali"].id).blacklisted


def test_nothing_ticked_changes_nobody(admin, shoppers, store):
    before = len(events_of(store))

    response = bulk(admin, action="add_tag", tag="oops", scope="selected")

    page = admin.get(response.headers["Location"])
    assert "Tick at least one customer" in page.text
    assert len(events_of(store)) == before
    assert all("oops" not in tags_of(c) for c in shoppers.values())


def test_bulk_actions_never_reach_another_store(admin, shoppers, other_store):
    make_staff(other_store)
    stranger = service.create_customer(other_store, {"email": "s@rival.test"})
    db.session.commit()

    bulk(admin, action="add_tag", tag="mine", scope="selected", ids=[stranger.id])
    bulk(admin, action="blacklist", reason="x", scope="selected", ids=[stranger.id])

    assert tags_of(stranger) == set()
    assert not db.session.get(Customer, stranger.id).blacklisted
    assert "mine" not in {t.name for t in service.list_tags(other_store)}


def test_bulk_needs_csrf(admin, shoppers):
    response = admin.post(
        "/admin/customers/bulk",
        data={"action": "add_tag", "tag": "x", "scope": "selected", "ids": shoppers["ali"].id},
    )

    assert response.status_code == 400
    assert "x" not in tags_of(shoppers["ali"])
