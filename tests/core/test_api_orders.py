"""The order part of the admin API (O-01 to O-03) and the event feed with its catch-up cursor
(O-04)."""

from __future__ import annotations

import pytest

from core.auth.models import ApiToken
from core.customers import service as customers
from core.db import db
from core.events.service import record_event
from tests.conftest import api_token, events_of

TEA = {"sku": "TEA", "title": "Oolong", "unit_price": 3800, "quantity": 2}
CAKE = {"sku": "CAKE", "title": "Pineapple cake", "unit_price": 1250, "quantity": 3}


def actor_of(store) -> str:
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.store_id == store.id))
    return f"api:{token.id}"


def place(api, **body):
    response = api.post("/orders", json={"lines": [TEA], **body})
    assert response.status_code == 201, response.json
    return response.json


# --- placing and reading ----------------------------------------------------------------------


def test_place_an_order_for_a_customer(api, store, customer):
    response = api.post(
        "/orders",
        json={
            "customer_id": customer.id,
            "lines": [TEA, CAKE],
            "discount_total": 500,
            "shipping_total": 800,
            "note": "Gift wrap",
        },
    )
    assert response.status_code == 201, response.json
    order = response.json
    assert order["number"] == 1001
    assert (order["customer_id"], order["email"]) == (customer.id, "mei@example.com")
    assert order["currency"] == "MYR"
    assert (order["status"], order["financial_status"]) == ("created", "created")
    assert order["subtotal"] == 3800 * 2 + 1250 * 3
    assert order["total"] == 11350 - 500 + 800
    assert order["refunded_total"] == 0 and order["refunds"] == []
    assert [(line["sku"], line["line_total"]) for line in order["lines"]] == [
        ("TEA", 7600),
        ("CAKE", 3750),
    ]
    assert order["source"] == "api" and order["paid_at"] is None
    [created] = events_of(store, "order.created")
    assert (created.order_id, created.customer_id) == (order["id"], customer.id)
    assert created.actor == actor_of(store)
    assert created.payload["order"]["total"] == 11650
    assert api.get(f"/orders/{order['id']}").json == order


def test_place_a_guest_order(api, store):
    order = place(api, email="guest@example.com")
    assert (order["customer_id"], order["email"], order["total"]) == (
        None,
        "guest@example.com",
        7600,
    )
    assert events_of(store, "order.created")[0].customer_id is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({}, "lines"),
        ({"lines": [{"unit_price": 100, "quantity": 1}]}, "lines.0.title"),
        ({"lines": [TEA, {"title": "", "unit_price": 1, "quantity": 1}]}, "lines.1.title"),
        ({"lines": [{**TEA, "quantity": 0}]}, "lines.0.quantity"),
        ({"lines": [{**TEA, "quantity": 1.5}]}, "lines.0.quantity"),
        ({"lines": [{**TEA, "unit_price": -1}]}, "lines.0.unit_price"),
        ({"lines": [{**TEA, "unit_price": "38.00"}]}, "lines.0.unit_price"),
        ({"lines": [{**TEA, "unit_price": 10**13, "quantity": 2}]}, "lines"),
        ({"lines": [TEA], "discount_total": 7601}, "discount_total"),
        ({"lines": [TEA], "email": "nope"}, "email"),
        ({"lines": [TEA], "customer_id": 0}, "customer_id"),
        ({"lines": [TEA], "total": 1}, "total"),
    ],
)
def test_place_refuses_bad_input_naming_the_field(api, store, body, field):
    response = api.post("/orders", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid"
    assert response.json["error"]["field"] == field
    assert events_of(store, "order.created") == []


def test_unknown_customer_or_order_is_404(api, customer):
    missing = api.post("/orders", json={"customer_id": customer.id + 1, "lines": [TEA]})
    assert missing.status_code == 404
    assert missing.json["error"]["message"] == f"customer {customer.id + 1} not found"
    assert api.get("/orders/424242").status_code == 404


def test_list_filters_and_pages(api, store, customer, paid_order):
    guest = place(api, email="walk-in@example.com")
    refunded = place(api, customer_id=customer.id)
    api.post(f"/orders/{refunded['id']}/pay")
    api.post(f"/orders/{refunded['id']}/refunds", json={"amount": 100})

    def numbers(query=""):
        response = api.get(f"/orders{query}")
        assert response.status_code == 200, response.json
        return [o["number"] for o in response.json["items"]]

    assert numbers() == [1003, 1002, 1001]
    assert numbers(f"?customer_id={customer.id}") == [1003, 1001]
    assert numbers("?status=created") == [1002]
    assert numbers("?status=paid") == [1003, 1001]
    assert numbers("?status=partially_refunded") == [1003]
    assert numbers("?q=%231002") == [1002]
    assert numbers("?q=walk-in") == [1002]
    page = api.get("/orders?per_page=2&page=2").json
    assert [o["number"] for o in page["items"]] == [1001]
    assert {k: v for k, v in page.items() if k != "items"} == {
        "page": 2,
        "per_page": 2,
        "total": 3,
        "pages": 2,
    }
    assert guest["id"] not in [o["id"] for o in api.get("/orders?status=paid").json["items"]]
    bad = api.get("/orders?status=lost")
    assert bad.status_code == 422 and bad.json["error"]["field"] == "status"


# --- the lifecycle ----------------------------------------------------------------------------


def test_pay_fulfil_and_refund_in_parts(api, store, customer):
    order = place(api, customer_id=customer.id, shipping_total=800)
    paid = api.post(f"/orders/{order['id']}/pay")
    assert paid.status_code == 200
    assert paid.json["status"] == "paid" and paid.json["paid_at"] is not None
    assert api.get(f"/customers/{customer.id}").json["total_spent"] == 8400

    fulfilled = api.post(f"/orders/{order['id']}/fulfil")
    assert fulfilled.json["status"] == "fulfilled"

    part = api.post(f"/orders/{order['id']}/refunds", json={"amount": 3000, "reason": "Broken"})
    assert part.status_code == 201
    assert (part.json["status"], part.json["financial_status"]) == (
        "fulfilled",
        "partially_refunded",
    )
    assert [(r["amount"], r["reason"]) for r in part.json["refunds"]] == [(3000, "Broken")]
    too_much = api.post(f"/orders/{order['id']}/refunds", json={"amount": 5401})
    assert too_much.status_code == 422 and too_much.json["error"]["field"] == "amount"
    rest = api.post(f"/orders/{order['id']}/refunds", json={"amount": 5400})
    assert (rest.json["status"], rest.json["refunded_total"]) == ("refunded", 8400)
    assert api.get(f"/customers/{customer.id}").json["total_spent"] == 0

    types = [e.type for e in events_of(store) if e.order_id == order["id"]]
    assert types == [
        "order.created",
        "order.paid",
        "order.fulfilled",
        "order.refunded",
        "order.refunded",
    ]
    first_refund, last_refund = events_of(store, "order.refunded")
    assert first_refund.payload["refund"]["amount"] == 3000
    assert (first_refund.payload["full"], last_refund.payload["full"]) == (False, True)
    assert {e.actor for e in events_of(store) if e.order_id == order["id"]} == {actor_of(store)}


def test_transitions_out_of_order_are_409(api, store):
    order = place(api)
    fulfil = api.post(f"/orders/{order['id']}/fulfil")
    assert fulfil.status_code == 409
    assert fulfil.json["error"]["field"] == "status"
    assert "only paid orders can be fulfilled" in fulfil.json["error"]["message"]
    refund = api.post(f"/orders/{order['id']}/refunds", json={"amount": 1})
    assert refund.status_code == 409
    api.post(f"/orders/{order['id']}/pay")
    again = api.post(f"/orders/{order['id']}/pay")
    assert again.status_code == 409
    assert [e.type for e in events_of(store)] == ["order.created", "order.paid"]


def test_cancel_a_paid_order_refunds_it(api, store, customer, paid_order):
    response = api.post(f"/orders/{paid_order.id}/cancel", json={"reason": "Out of stock"})
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["refunded_total"]) == ("cancelled", 8400)
    assert body["cancelled_at"] is not None
    [event] = events_of(store, "order.cancelled")
    assert (event.payload["reason"], event.payload["refunded_amount"]) == ("Out of stock", 8400)
    assert api.get(f"/customers/{customer.id}").json["orders_count"] == 0
    unpaid = place(api)
    assert api.post(f"/orders/{unpaid['id']}/cancel").json["status"] == "cancelled"
    long_reason = api.post(f"/orders/{unpaid['id']}/cancel", json={"reason": "x" * 501})
    assert long_reason.status_code == 422 and long_reason.json["error"]["field"] == "reason"


def test_attach_a_guest_order(api, store, customer):
    guest = place(api)
    response = api.post(f"/orders/{guest['id']}/attach-customer", json={"customer_id": customer.id})
    assert response.status_code == 200
    assert (response.json["customer_id"], response.json["email"]) == (
        customer.id,
        "mei@example.com",
    )
    [event] = events_of(store, "order.customer_attached")
    assert (event.customer_id, event.payload["previous_customer_id"]) == (customer.id, None)
    other = customers.create_customer(store, {"email": "other@example.com"})
    db.session.commit()
    taken = api.post(f"/orders/{guest['id']}/attach-customer", json={"customer_id": other.id})
    assert taken.status_code == 409 and taken.json["error"]["field"] == "customer_id"
    missing = api.post(f"/orders/{guest['id']}/attach-customer", json={})
    assert missing.status_code == 422 and missing.json["error"]["field"] == "customer_id"


def test_blacklisted_customers_cannot_order(api, store, customer):
    customers.blacklist(store, customer, "fraud")
    db.session.commit()
    response = api.post("/orders", json={"customer_id": customer.id, "lines": [TEA]})
    assert response.status_code == 403
    assert response.json["error"]["details"] == {"reason": "blacklisted"}


# --- the event feed ---------------------------------------------------------------------------


def test_event_feed_oldest_first_with_a_cursor(api, store, customer, paid_order):
    first = api.get("/events?limit=2")
    assert first.status_code == 200
    feed = first.json
    assert [(e["seq"], e["type"]) for e in feed["items"]] == [
        (1, "customer.created"),
        (2, "order.created"),
    ]
    assert feed["next_since"] == 2
    event = feed["items"][1]
    stored = events_of(store, "order.created")[0]
    assert event == {
        "id": stored.id,
        "seq": 2,
        "type": "order.created",
        "actor": "system",
        "occurred_at": stored.occurred_at.isoformat(),
        "customer_id": customer.id,
        "order_id": paid_order.id,
        "payload": stored.payload,
    }
    rest = api.get(f"/events?since={feed['next_since']}&limit=2").json
    assert [e["type"] for e in rest["items"]] == ["order.paid"]
    assert rest["next_since"] == 3
    caught_up = api.get("/events?since=3").json
    assert caught_up == {"items": [], "next_since": 3}

    api.post(f"/orders/{paid_order.id}/fulfil")
    news = api.get("/events?since=3").json
    assert [(e["seq"], e["type"]) for e in news["items"]] == [(4, "order.fulfilled")]
    assert news["items"][0]["actor"] == actor_of(store)


def test_event_feed_filters_types(api, store, customer, paid_order):
    record_event(store.id, "rewards.points_earned", {"points": 84}, customer_id=customer.id)
    db.session.commit()
    feed = api.get("/events?types=order.paid,rewards.points_earned").json
    assert [(e["seq"], e["type"]) for e in feed["items"]] == [
        (3, "order.paid"),
        (4, "rewards.points_earned"),
    ]
    assert feed["items"][1]["payload"] == {"points": 84}
    assert feed["next_since"] == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=-1", "since"),
        ("since=abc", "since"),
        ("types=", "types"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
    ],
)
def test_event_feed_refuses_bad_arguments(api, query, field):
    response = api.get(f"/events?{query}")
    assert response.status_code == 422
    assert response.json["error"]["field"] == field


def test_event_feed_needs_events_read(client, store, paid_order):
    token = api_token(store, "orders:read", "customers:read")
    response = client.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
