"""One customer's admin page: profile and custom fields with errors next to the field, tags,
orders, timeline, quick contact, blacklist, merge, moving orders, privacy export and erasure;
the new-customer page; and hostile text shown as text."""

from __future__ import annotations

import html
import json
import re

import pytest

from core.customers import service
from core.customers.models import Customer
from core.db import db
from core.errors import Forbidden
from core.money import format_money
from core.orders.models import Order
from core.orders.service import create_order
from tests.conftest import csrf_token, events_of

PROFILE = {
    "first_name": "美玲",
    "last_name": "陳",
    "email": "mei@example.com",
    "phone": "012-345 6789",
    "birthday": "",
    "location": "",
    "salesperson": "",
    "note": "",
    "tags": "",
}


def post(admin, path, **data):
    token = csrf_token(admin, "/admin/customers/")
    return admin.post(path, data={"csrf_token": token, **data})


def field_error(page, field_id: str) -> str:
    """The error shown right under the input with this id ('' when there is none)."""
    match = re.search(
        rf'<(?:input|select|textarea)[^>]*id="{field_id}"[^>]*>(?:</(?:select|textarea)>)?'
        r'(?:(?!<(?:input|select|textarea)).)*?<div class="invalid-feedback[^"]*">([^<]*)</div>',
        page.text,
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else ""


def fresh(customer: Customer) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer.id)


@pytest.fixture
def city(store):
    definition = service.define_field(
        store, key="city", label="City", field_type="dropdown", options=["Penang", "Ipoh"]
    )
    service.define_field(store, key="member_since", label="Member since", field_type="date")
    db.session.commit()
    return definition


def test_the_page_shows_profile_orders_timeline_and_contact_links(admin, customer, paid_order):
    page = admin.get(f"/admin/customers/{customer.id}")
    text = html.unescape(page.text)

    assert page.status_code == 200
    assert "美玲 陳" in text
    assert "+60123456789" in text
    assert f'href="/admin/orders/{paid_order.id}"' in page.text
    assert f"#{paid_order.number}" in text
    assert "Added by staff" in text
    assert f"Order #{paid_order.number} placed: {format_money(8400, 'MYR')}" in text
    assert f"Order #{paid_order.number} paid" in text
    assert 'href="mailto:mei@example.com?subject=Acme%20Tea&amp;body=Hello%20' in page.text
    assert 'href="https://wa.me/60123456789?text=Hello%20' in page.text


def test_edit_the_profile(admin, customer, staff, store):
    response = post(
        admin,
        f"/admin/customers/{customer.id}",
        **{
            **PROFILE,
            "first_name": "Mei Ling",
            "birthday": "1990-05-17",
            "accepts_marketing": "y",
            "location": "Penang outlet",
            "note": "prefers oolong",
        },
    )

    assert response.status_code == 302
    saved = fresh(customer)
    assert saved.first_name == "Mei Ling"
    assert saved.birthday.isoformat() == "1990-05-17"
    assert saved.accepts_marketing is True
    assert saved.location == "Penang outlet"
    update = events_of(store, "customer.updated")[-1]
    assert update.actor == f"staff:{staff.id}"
    assert {"first_name", "birthday", "accepts_marketing", "location", "note"} <= set(
        update.payload["changed"]
    )


def test_a_bad_email_is_shown_next_to_the_email_field(admin, customer):
    page = post(
        admin,
        f"/admin/customers/{customer.id}",
        **{**PROFILE, "email": "not-an-email", "first_name": "Changed"},
    )

    assert page.status_code == 200
    assert "is not an email address" in field_error(page, "email")
    assert field_error(page, "first_name") == ""
    assert 'value="not-an-email"' in page.text
    saved = fresh(customer)
    assert saved.email == "mei@example.com" and saved.first_name == "美玲"


def test_an_email_taken_by_another_customer_is_refused(admin, store, customer):
    service.create_customer(store, {"email": "taken@example.com"})
    db.session.commit()

    page = post(
        admin, f"/admin/customers/{customer.id}", **{**PROFILE, "email": "taken@example.com"}
    )

    assert "already exists" in field_error(page, "email")


def test_a_bad_phone_is_shown_next_to_the_phone_field(admin, customer):
    page = post(admin, f"/admin/customers/{customer.id}", **{**PROFILE, "phone": "12"})

    assert "not a" in field_error(page, "phone")


def test_custom_fields_are_saved_and_validated_by_the_service(admin, customer, city):
    page = admin.get(f"/admin/customers/{customer.id}")
    assert '<option value="Ipoh">Ipoh</option>' in page.text

    post(
        admin,
        f"/admin/customers/{customer.id}",
        **PROFILE,
        cf_city="Ipoh",
        cf_member_since="2020-02-29",
    )
    assert fresh(customer).field_value_map() == {"city": "Ipoh", "member_since": "2020-02-29"}

    page = post(
        admin,
        f"/admin/customers/{customer.id}",
        **PROFILE,
        cf_city="Atlantis",
        cf_member_since="2020-02-29",
    )
    assert page.status_code == 200
    assert "'Atlantis' is not one of the options of 'City'" in field_error(page, "cf_city")
    assert field_error(page, "cf_member_since") == ""

    page = post(
        admin,
        f"/admin/customers/{customer.id}",
        **PROFILE,
        cf_city="Ipoh",
        cf_member_since="2021-02-30",
    )
    assert "is not a date" in field_error(page, "cf_member_since")
    assert fresh(customer).field_value_map() == {"city": "Ipoh", "member_since": "2020-02-29"}


def test_tags_are_edited_as_a_comma_list(admin, customer, store):
    post(
        admin,
        f"/admin/customers/{customer.id}",
        **{**PROFILE, "tags": "vip, 批發\uff0cwholesale ,"},
    )

    assert {t.name for t in fresh(customer).tags} == {"vip", "批發", "wholesale"}
    page = admin.get(f"/admin/customers/{customer.id}")
    assert (
        'value="vip, wholesale, 批發"' in page.text or 'value="vip, 批發, wholesale"' in page.text
    )

    post(admin, f"/admin/customers/{customer.id}", **{**PROFILE, "tags": "vip"})
    assert [t.name for t in fresh(customer).tags] == ["vip"]


def test_blacklist_from_the_page_stops_orders_until_lifted(admin, customer, store):
    page = post(admin, f"/admin/customers/{customer.id}/blacklist", blacklist_reason="")
    assert page.status_code == 200
    assert field_error(page, "blacklist_reason")
    assert not fresh(customer).blacklisted

    response = post(
        admin, f"/admin/customers/{customer.id}/blacklist", blacklist_reason="chargeback on #1001"
    )
    assert response.status_code == 302
    page = admin.get(response.headers["Location"])
    assert "chargeback on #1001" in page.text
    assert "Remove from blacklist" in page.text
    assert events_of(store, "customer.blacklisted")[-1].payload["reason"] == "chargeback on #1001"
    with pytest.raises(Forbidden):
        create_order(
            store,
            customer_id=customer.id,
            lines=[{"title": "Tea", "unit_price": 100, "quantity": 1}],
        )
    db.session.rollback()

    post(admin, f"/admin/customers/{customer.id}/unblacklist")
    assert not fresh(customer).blacklisted
    create_order(
        store, customer_id=customer.id, lines=[{"title": "Tea", "unit_price": 100, "quantity": 1}]
    )


def test_merge_another_account_by_email(admin, store, customer, paid_order):
    other = service.create_customer(
        store, {"email": "mei.old@example.com", "location": "Ipoh"}, tags=["old-shop"]
    )
    db.session.commit()
    order = create_order(
        store, customer_id=other.id, lines=[{"title": "Pu-erh", "unit_price": 5000, "quantity": 1}]
    )
    db.session.commit()

    response = post(
        admin,
        f"/admin/customers/{customer.id}/merge",
        merge_ref="MEI.OLD@example.com",
        merge_confirm="y",
    )

    assert response.status_code == 302
    kept = fresh(customer)
    assert {t.name for t in kept.tags} == {"old-shop"}
    assert kept.location == "Ipoh"
    assert db.session.get(Order, order.id).customer_id == customer.id
    assert db.session.get(Customer, other.id).merged_into_id == customer.id
    page = admin.get(f"/admin/customers/{customer.id}")
    assert (
        f"Customer #{other.id} (mei.old@example.com) merged into this account; 1 orders moved"
        in html.unescape(page.text)
    )
    merged_page = admin.get(f"/admin/customers/{other.id}")
    assert "This account was merged into" in merged_page.text
    assert 'id="profile-form"' not in merged_page.text


def test_merge_errors_are_shown_and_change_nothing(admin, store, customer):
    page = post(
        admin, f"/admin/customers/{customer.id}/merge", merge_ref="#999999", merge_confirm="y"
    )
    assert "No customer #999999 in this store." in field_error(page, "merge_ref")

    page = post(
        admin,
        f"/admin/customers/{customer.id}/merge",
        merge_ref=str(customer.id),
        merge_confirm="y",
    )
    assert page.status_code == 200
    assert "choose two different customers" in page.text

    other = service.create_customer(store, {"email": "x@example.com"})
    db.session.commit()
    page = post(admin, f"/admin/customers/{customer.id}/merge", merge_ref=str(other.id))
    assert field_error(page, "merge_confirm")
    assert fresh(other).merged_into_id is None


def test_move_ticked_orders_to_another_customer(admin, store, customer, paid_order):
    second = create_order(
        store,
        customer_id=customer.id,
        lines=[{"title": "Green", "unit_price": 1000, "quantity": 1}],
    )
    target = service.create_customer(store, {"email": "partner@example.com"})
    db.session.commit()

    response = post(
        admin,
        f"/admin/customers/{customer.id}/move-orders",
        order_ids=[paid_order.id],
        move_target=f"#{target.id}",
    )

    assert response.status_code == 302
    assert db.session.get(Order, paid_order.id).customer_id == target.id
    assert db.session.get(Order, second.id).customer_id == customer.id
    assert fresh(target).orders_count == 1
    assert fresh(customer).orders_count == 0
    page = admin.get(response.headers["Location"])
    assert "1 order moved to partner@example.com." in page.text


def test_moving_nothing_ticked_is_refused(admin, store, customer, paid_order):
    target = service.create_customer(store, {"email": "partner@example.com"})
    db.session.commit()

    page = post(admin, f"/admin/customers/{customer.id}/move-orders", move_target=str(target.id))

    assert page.status_code == 200
    assert field_error(page, "move_target") == "Tick the orders to move."
    assert db.session.get(Order, paid_order.id).customer_id == customer.id


def test_download_everything_held_about_the_customer(admin, customer, paid_order):
    response = admin.get(f"/admin/customers/{customer.id}/privacy-export.json")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="customer-{customer.id}.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.data)
    assert data["customer"]["email"] == "mei@example.com"
    assert data["customer"]["first_name"] == "美玲"
    assert [o["number"] for o in data["orders"]] == [paid_order.number]
    assert {e["type"] for e in data["events"]} >= {"customer.created", "order.paid"}


def test_erase_needs_the_email_typed(admin, customer, paid_order, store):
    page = post(admin, f"/admin/customers/{customer.id}/erase", erase_confirmation="ERASE")

    assert page.status_code == 200
    assert field_error(page, "erase_confirmation") == "Type mei@example.com to confirm."
    assert fresh(customer).erased_at is None

    response = post(
        admin, f"/admin/customers/{customer.id}/erase", erase_confirmation=" Mei@Example.com "
    )

    assert response.status_code == 302
    erased = fresh(customer)
    assert erased.erased_at is not None
    assert erased.email is None and erased.first_name == "" and erased.phone is None
    assert db.session.get(Order, paid_order.id).email is None
    page = admin.get(f"/admin/customers/{customer.id}")
    assert "personal data was erased" in page.text
    assert "mei@example.com" not in page.text
    assert "美玲" not in html.unescape(page.text)
    assert events_of(store, "customer.erased")


def test_a_customer_without_email_is_erased_by_typing_erase(admin, store):
    phone_only = service.create_customer(store, {"phone": "+60129998888"})
    db.session.commit()

    post(admin, f"/admin/customers/{phone_only.id}/erase", erase_confirmation="erase")

    assert fresh(phone_only).erased_at is not None


def test_add_a_customer(admin, store, city):
    page = admin.get("/admin/customers/new")
    assert page.status_code == 200
    assert "City" in page.text

    response = post(
        admin,
        "/admin/customers/new",
        **{
            **PROFILE,
            "email": "new@example.com",
            "first_name": "Nur",
            "tags": "walk-in",
            "cf_city": "Penang",
        },
    )

    assert response.status_code == 302
    created = service.find_by_email(store, "new@example.com")
    assert response.headers["Location"] == f"/admin/customers/{created.id}"
    assert created.first_name == "Nur" and created.phone == "+60123456789"
    assert [t.name for t in created.tags] == ["walk-in"]
    assert created.field_value_map() == {"city": "Penang"}
    assert events_of(store, "customer.created")[-1].payload["source"] == "admin"


def test_a_new_customer_needs_an_email_or_a_phone(admin, store):
    page = post(admin, "/admin/customers/new", **{**PROFILE, "email": "", "phone": ""})

    assert page.status_code == 200
    assert "needs an email or a phone number" in field_error(page, "email")
    assert db.session.query(Customer).filter_by(store_id=store.id).count() == 0


HOSTILE = '<script>alert("x")</script>'


def test_hostile_text_is_shown_as_text(admin, store, city):
    evil = service.create_customer(
        store,
        {
            "email": "evil@example.com",
            "first_name": HOSTILE,
            "note": HOSTILE,
            "location": '"><img src=x onerror=alert(1)>',
        },
        tags=["<b>tag</b>"],
    )
    service.blacklist(store, evil, HOSTILE)
    service.update_field(store, city, {"label": "<i>City</i>"})
    db.session.commit()

    for path in (
        "/admin/customers/",
        f"/admin/customers/{evil.id}",
        "/admin/customers/?q=%3Cscript%3E",
        "/admin/customers/tags",
        "/admin/customers/fields",
    ):
        page = admin.get(path)
        assert page.status_code == 200
        assert HOSTILE not in page.text, path
        assert "<b>tag</b>" not in page.text and "<i>City</i>" not in page.text, path
        assert "<img src=x" not in page.text, path
    page = admin.get(f"/admin/customers/{evil.id}")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;tag&lt;/b&gt;" in page.text


def test_unknown_customer_is_404(admin, store):
    assert admin.get("/admin/customers/424242").status_code == 404
    assert post(admin, "/admin/customers/424242/blacklist", blacklist_reason="x").status_code == 404
