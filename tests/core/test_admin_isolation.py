"""Two stores never meet in the admin: staff of one store get 404 for the other's customers,
orders, tags and fields, pages and actions alike, and cannot reach them by email or id."""

from __future__ import annotations

import pytest

from core.customers import service as customers
from core.customers.models import Customer, CustomFieldDefinition, Tag
from core.db import db
from core.orders import service as orders
from core.orders.models import Order
from tests.conftest import csrf_token, events_of


@pytest.fixture
def rival(other_store):
    """A customer with a tag, a field value and orders (one guest) in the other store."""
    field = customers.define_field(other_store, key="city", label="City", field_type="text")
    shopper = customers.create_customer(
        other_store,
        {"email": "rival@example.com", "first_name": "Rival", "last_name": "Shopper"},
        tags=["rival-vip"],
        custom_fields={"city": "Ipoh"},
    )
    order = orders.create_order(
        other_store,
        customer_id=shopper.id,
        lines=[{"title": "Rival tea", "unit_price": 5000, "quantity": 1}],
    )
    orders.mark_paid(other_store, order)
    guest = orders.create_order(
        other_store,
        email="walkin@example.com",
        lines=[{"title": "Rival tea", "unit_price": 5000, "quantity": 1}],
    )
    db.session.commit()
    return {
        "customer": shopper,
        "order": order,
        "guest": guest,
        "tag": shopper.tags[0],
        "field": field,
    }


def test_pages_of_another_store_are_404(admin, rival):
    c, o = rival["customer"].id, rival["order"].id
    for path in (
        f"/admin/customers/{c}",
        f"/admin/customers/{c}/privacy-export.json",
        f"/admin/orders/{o}",
        f"/admin/orders/?customer={c}",
        f"/admin/customers/tags/{rival['tag'].id}",
        f"/admin/customers/tags/{rival['tag'].id}/delete",
        f"/admin/customers/fields/{rival['field'].id}",
        f"/admin/customers/fields/{rival['field'].id}/delete",
    ):
        assert admin.get(path).status_code == 404, path


def test_actions_on_another_store_are_404_and_change_nothing(admin, rival, other_store):
    token = csrf_token(admin, "/admin/customers/")
    c, o = rival["customer"].id, rival["order"].id
    before = len(events_of(other_store))
    actions = {
        f"/admin/customers/{c}": {"first_name": "Hacked", "email": "rival@example.com"},
        f"/admin/customers/{c}/blacklist": {"blacklist_reason": "x"},
        f"/admin/customers/{c}/unblacklist": {},
        f"/admin/customers/{c}/merge": {"merge_ref": "x@example.com", "merge_confirm": "y"},
        f"/admin/customers/{c}/move-orders": {"order_ids": o, "move_target": "1"},
        f"/admin/customers/{c}/erase": {"erase_confirmation": "rival@example.com"},
        f"/admin/orders/{o}/pay": {},
        f"/admin/orders/{o}/fulfil": {},
        f"/admin/orders/{o}/cancel": {"cancel_reason": "x"},
        f"/admin/orders/{o}/refund": {"amount": "1"},
        f"/admin/orders/{rival['guest'].id}/attach": {"attach_ref": "rival@example.com"},
        f"/admin/customers/tags/{rival['tag'].id}": {"name": "mine"},
        f"/admin/customers/tags/{rival['tag'].id}/delete": {},
        f"/admin/customers/fields/{rival['field'].id}": {
            "label": "mine",
            "position": "0",
            "visibility": "staff",
        },
        f"/admin/customers/fields/{rival['field'].id}/delete": {},
    }

    for path, data in actions.items():
        assert admin.post(path, data={"csrf_token": token, **data}).status_code == 404, path

    db.session.expire_all()
    shopper = db.session.get(Customer, c)
    assert (shopper.first_name, shopper.blacklisted, shopper.erased_at) == ("Rival", False, None)
    assert db.session.get(Order, o).status == "paid"
    assert db.session.get(Order, rival["guest"].id).customer_id is None
    assert db.session.get(Tag, rival["tag"].id).name == "rival-vip"
    assert db.session.get(CustomFieldDefinition, rival["field"].id).label == "City"
    assert len(events_of(other_store)) == before


def test_another_store_s_customers_cannot_be_reached_by_email_or_id(admin, store, customer, rival):
    token = csrf_token(admin, "/admin/customers/")
    guest = orders.create_order(
        store, email="g@example.com", lines=[{"title": "Tea", "unit_price": 100, "quantity": 1}]
    )
    db.session.commit()
    rival_id = rival["customer"].id

    merge = admin.post(
        f"/admin/customers/{customer.id}/merge",
        data={"csrf_token": token, "merge_ref": "rival@example.com", "merge_confirm": "y"},
    )
    by_id = admin.post(
        f"/admin/customers/{customer.id}/merge",
        data={"csrf_token": token, "merge_ref": f"#{rival_id}", "merge_confirm": "y"},
    )
    attach = admin.post(
        f"/admin/orders/{guest.id}/attach",
        data={"csrf_token": token, "attach_ref": str(rival_id)},
    )

    assert "No customer rival@example.com in this store." in merge.text
    assert f"No customer #{rival_id} in this store." in by_id.text
    assert f"No customer {rival_id} in this store." in attach.text
    db.session.expire_all()
    assert db.session.get(Customer, rival_id).merged_into_id is None
    assert db.session.get(Order, guest.id).customer_id is None


def test_lists_show_only_the_own_store(admin, customer, paid_order, rival):
    customers_page = admin.get("/admin/customers/")
    orders_page = admin.get("/admin/orders/")
    tags_page = admin.get("/admin/customers/tags")
    fields_page = admin.get("/admin/customers/fields")

    assert "Rival" not in customers_page.text and "rival@example.com" not in customers_page.text
    assert 'id="customer-total">1<' in customers_page.text
    assert f'/admin/orders/{rival["order"].id}"' not in orders_page.text
    assert 'id="order-total">1<' in orders_page.text
    assert "rival-vip" not in tags_page.text and "rival-vip" not in customers_page.text
    assert "City" not in fields_page.text
    filtered = admin.get(f"/admin/customers/?tag_ids={rival['tag'].id}")
    assert 'id="customer-total">0<' in filtered.text
