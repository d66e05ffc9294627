"""The storefront account and checkout API that any theme uses (P-08, C-04, C-05, C-06)."""

from __future__ import annotations

from datetime import date

import pytest

from core.customers import service as customers
from core.db import db
from tests.conftest import events_of

CART = {"lines": [{"sku": "TEA", "title": "Oolong", "unit_price": 3800, "quantity": 2}],
        "shipping_total": 800}


def register(storefront, **extra):
    body = {"email": "mei@example.com", "password": "s3cret-pass", "first_name": "美玲",
            **extra}
    return storefront.post("/api/register", json=body)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_register_returns_a_private_session(storefront, store):
    response = register(storefront, accepts_marketing=True)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.json["customer"]["first_name"] == "美玲"
    [created] = events_of(store, "customer.created")
    assert created.payload["source"] == "storefront"
    me = storefront.get("/api/me", headers=bearer(response.json["token"]))
    assert me.json["customer"]["email"] == "mei@example.com"


def test_register_enforces_required_signup_fields(storefront, store):
    customers.define_field(store, key="branch", label="Branch", field_type="dropdown",
                           options=["Penang", "Taipei"], required=True, visibility="signup")
    customers.define_field(store, key="vip_note", label="Note", field_type="text")
    db.session.commit()
    missing = register(storefront)
    assert missing.status_code == 422 and missing.json["error"]["field"] == "fields.branch"
    staff_only = register(storefront, fields={"branch": "Penang", "vip_note": "x"})
    assert staff_only.json["error"]["field"] == "fields.vip_note"
    ok = register(storefront, fields={"branch": "Penang"})
    assert ok.status_code == 201 and ok.json["customer"]["fields"] == {"branch": "Penang"}


def test_bad_input_names_the_field(storefront):
    response = register(storefront, email="nope")
    assert response.status_code == 422 and response.json["error"]["field"] == "email"
    assert storefront.post("/api/register", data="x").json["error"]["field"] == "body"


def test_login_and_blacklist(storefront, store):
    register(storefront)
    response = storefront.post("/api/login", json={"email": "MEI@example.com",
                                                   "password": "s3cret-pass"})
    assert response.status_code == 200
    token = response.json["token"]
    wrong = storefront.post("/api/login", json={"email": "mei@example.com", "password": "x"})
    assert wrong.status_code == 403
    customers.blacklist(store, customers.find_by_email(store, "mei@example.com"), "fraud")
    db.session.commit()
    blocked = storefront.post("/api/login", json={"email": "mei@example.com",
                                                  "password": "s3cret-pass"})
    assert blocked.status_code == 403 and "blocked" in blocked.json["error"]["message"]
    assert storefront.get("/api/me", headers=bearer(token)).status_code == 403


def test_birthday_change_follows_the_store_rule(storefront, store):
    token = register(storefront).json["token"]
    first = storefront.patch("/api/me", json={"birthday": "1990-05-17"}, headers=bearer(token))
    assert first.json["customer"]["birthday"] == "1990-05-17"
    again = storefront.patch("/api/me", json={"birthday": "1990-05-18"}, headers=bearer(token))
    assert again.status_code == 403 and again.json["error"]["field"] == "birthday"
    assert customers.find_by_email(store, "mei@example.com").birthday == date(1990, 5, 17)


def test_a_token_of_one_store_does_not_open_another(storefront, client, other_store):
    token = register(storefront).json["token"]
    response = client.get(f"/storefront/{other_store.slug}/api/me", headers=bearer(token))
    assert response.status_code == 403


def test_checkout_quote_place_and_test_payment(storefront, store):
    token = register(storefront).json["token"]
    quote = storefront.post("/api/checkout/quote", json=CART, headers=bearer(token))
    assert (quote.json["subtotal"], quote.json["total"]) == (7600, 8400)
    refused = storefront.post("/api/checkout", json={**CART, "pay": True}, headers=bearer(token))
    assert refused.status_code == 403 and refused.json["error"]["field"] == "pay"
    store.test_payments = True
    db.session.commit()
    placed = storefront.post("/api/checkout", json={**CART, "pay": True}, headers=bearer(token))
    assert placed.status_code == 201
    assert placed.json["order"]["status"] == "paid" and placed.json["order"]["total"] == 8400
    assert customers.find_by_email(store, "mei@example.com").total_spent == 8400


def test_guest_checkout_needs_an_email(storefront):
    assert storefront.post("/api/checkout", json=CART).json["error"]["field"] == "email"
    guest = storefront.post("/api/checkout", json={**CART, "email": "g@example.net"})
    assert guest.status_code == 201 and guest.json["order"]["customer_id"] is None


@pytest.mark.parametrize("bad", [
    {"lines": []},
    {"lines": [{"title": "x", "unit_price": -1, "quantity": 1}]},
    {"lines": [{"title": "x", "unit_price": 1, "quantity": 1}], "shipping_total": "free"},
])
def test_bad_carts_are_refused_with_a_field(storefront, bad):
    response = storefront.post("/api/checkout/quote", json=bad)
    assert response.status_code == 422
    assert response.json["error"]["field"].split(".")[0] in {"lines", "shipping_total"}


def test_login_methods_lists_password(storefront):
    assert storefront.get("/api/login-methods").json["methods"][0]["key"] == "password"
    assert storefront.post("/api/login/phone_code", json={}).status_code == 403
