"""Tags (C-03) and custom field definitions (C-04) in the admin: create, rename, describe,
delete after confirming, counts; define, edit and delete fields, with the service's errors
next to the field."""

from __future__ import annotations

import html
import re

from core.customers import service
from core.customers.models import Customer, CustomFieldDefinition, Tag
from core.db import db
from tests.conftest import csrf_token


def post(admin, path, **data):
    token = csrf_token(admin, "/admin/customers/tags")
    return admin.post(path, data={"csrf_token": token, **data})


def row_of(page, text: str) -> str:
    """The table row holding ``text``."""
    return next(row for row in re.findall(r"<tr>.*?</tr>", page.text, re.S) if text in row)


def test_tags_page_lists_tags_with_their_customer_counts(admin, store, customer):
    service.update_customer(store, customer, {}, tags=["vip", "wholesale"])
    service.create_customer(store, {"email": "b@example.com"}, tags=["vip"])
    service.create_tag(store, "dormant", "no order in a year")
    db.session.commit()

    page = admin.get("/admin/customers/tags")

    assert page.status_code == 200
    vip = next(t for t in service.list_tags(store) if t.name == "vip")
    assert re.search(r">2</td>", row_of(page, ">vip</a>"))
    assert re.search(r">1</td>", row_of(page, ">wholesale</a>"))
    assert re.search(r">0</td>", row_of(page, ">dormant</a>"))
    assert "no order in a year" in page.text
    assert f'href="/admin/customers/?tag_ids={vip.id}"' in page.text


def test_create_a_tag_and_refuse_a_duplicate(admin, store):
    response = post(admin, "/admin/customers/tags", name="  Gold  member ", description="spent 1k")

    assert response.status_code == 302
    tag = db.session.query(Tag).filter_by(store_id=store.id).one()
    assert (tag.name, tag.description) == ("Gold member", "spent 1k")

    page = post(admin, "/admin/customers/tags", name="Gold member")
    assert page.status_code == 200
    assert "already exists" in html.unescape(page.text)
    assert db.session.query(Tag).filter_by(store_id=store.id).count() == 1


def test_rename_and_describe_a_tag(admin, store, customer):
    service.update_customer(store, customer, {}, tags=["vip"])
    service.create_tag(store, "gold")
    db.session.commit()
    vip = next(t for t in service.list_tags(store) if t.name == "vip")

    page = admin.get(f"/admin/customers/tags/{vip.id}")
    assert "1 customer has this tag." in page.text

    clash = post(admin, f"/admin/customers/tags/{vip.id}", name="gold", description="")
    assert "already exists" in html.unescape(clash.text)

    response = post(
        admin, f"/admin/customers/tags/{vip.id}", name="VIP 貴賓", description="top spenders"
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [t.name for t in db.session.get(Customer, customer.id).tags] == ["VIP 貴賓"]
    assert db.session.get(Tag, vip.id).description == "top spenders"


def test_delete_a_tag_after_confirming(admin, store, customer):
    service.update_customer(store, customer, {}, tags=["vip"])
    db.session.commit()
    vip = service.list_tags(store)[0]

    confirm = admin.get(f"/admin/customers/tags/{vip.id}/delete")
    assert confirm.status_code == 200
    assert "Delete the tag “vip”?" in html.unescape(confirm.text)
    assert "1 customer has this tag" in confirm.text
    assert db.session.get(Tag, vip.id) is not None

    response = post(admin, f"/admin/customers/tags/{vip.id}/delete")

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Tag, vip.id) is None
    assert db.session.get(Customer, customer.id).tags == []


def test_define_a_dropdown_field(admin, store):
    response = post(
        admin,
        "/admin/customers/fields",
        key="skin_type",
        label="Skin type",
        field_type="dropdown",
        options="Dry\nOily\n\n Combination \n",
        required="y",
        visibility="signup",
        position="2",
    )

    assert response.status_code == 302
    field = db.session.query(CustomFieldDefinition).filter_by(store_id=store.id).one()
    assert (field.key, field.label, field.field_type) == ("skin_type", "Skin type", "dropdown")
    assert field.options == ["Dry", "Oily", "Combination"]
    assert (field.required, field.visibility, field.position) == (True, "signup", 2)
    page = admin.get("/admin/customers/fields")
    assert "Dry · Oily · Combination" in page.text
    assert "Signup and account page" in page.text


def test_field_definition_errors_are_next_to_the_field(admin, store):
    page = post(
        admin,
        "/admin/customers/fields",
        key="Skin Type",
        label="Skin",
        field_type="text",
        visibility="staff",
        position="0",
    )
    assert page.status_code == 200
    assert re.search(
        r'id="key"[^>]*>\s*<div class="invalid-feedback[^"]*">use lowercase', page.text
    )

    page = post(
        admin,
        "/admin/customers/fields",
        key="skin",
        label="Skin",
        field_type="dropdown",
        options="",
        visibility="staff",
        position="0",
    )
    assert re.search(
        r'id="options"[^>]*>[^<]*</textarea>\s*<div class="invalid-feedback[^"]*">'
        r"a dropdown needs at least one option",
        page.text,
    )
    assert db.session.query(CustomFieldDefinition).filter_by(store_id=store.id).count() == 0

    service.define_field(store, key="skin", label="Skin", field_type="text")
    db.session.commit()
    page = post(
        admin,
        "/admin/customers/fields",
        key="skin",
        label="Skin again",
        field_type="text",
        visibility="staff",
        position="0",
    )
    assert "already exists" in html.unescape(page.text)


def test_edit_a_field(admin, store):
    field = service.define_field(
        store, key="city", label="City", field_type="dropdown", options=["Penang"]
    )
    db.session.commit()

    page = admin.get(f"/admin/customers/fields/{field.id}")
    assert page.status_code == 200
    assert 'name="key"' not in page.text

    response = post(
        admin,
        f"/admin/customers/fields/{field.id}",
        label="城市",
        options="Penang\nIpoh",
        visibility="account",
        position="5",
    )

    assert response.status_code == 302
    db.session.expire_all()
    field = db.session.get(CustomFieldDefinition, field.id)
    assert (field.label, field.options, field.visibility, field.position, field.required) == (
        "城市",
        ["Penang", "Ipoh"],
        "account",
        5,
        False,
    )


def test_delete_a_field_with_its_values(admin, store, customer):
    field = service.define_field(store, key="city", label="City", field_type="text")
    service.update_customer(store, customer, {}, custom_fields={"city": "Ipoh"})
    db.session.commit()

    confirm = admin.get(f"/admin/customers/fields/{field.id}/delete")
    assert "Every customer's value" in html.unescape(confirm.text)
    response = post(admin, f"/admin/customers/fields/{field.id}/delete")

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(CustomFieldDefinition, field.id) is None
    assert db.session.get(Customer, customer.id).field_value_map() == {}
