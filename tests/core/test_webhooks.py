"""Outgoing webhooks, verified with the reference ``standardwebhooks`` package (P-07)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Response

from core.customers.service import create_customer
from core.db import db
from core.errors import ValidationError
from core.orders import service as orders
from core.webhooks import service as webhooks
from core.webhooks.models import WebhookDelivery


@pytest.fixture
def receiver(httpserver):
    """A local receiver that verifies every delivery like a real integration would."""
    received = []
    state = {"fail": 0}

    def handle(request):
        if state["fail"]:
            state["fail"] -= 1
            return Response("down for maintenance", status=503)
        received.append(request)
        return Response("ok", status=200)

    httpserver.expect_request("/hooks", method="POST").respond_with_handler(handle)
    return httpserver.url_for("/hooks"), received, state


def endpoint_for(store, url, types=("customer.created", "order.paid")):
    endpoint, secret = webhooks.create_endpoint(store, url, list(types))
    db.session.commit()
    return endpoint, secret


def send_all():
    total = 0
    while True:
        ran = webhooks.run_due_webhooks()
        total += ran
        if not ran:
            return total


def test_deliveries_are_signed_per_standard_webhooks(store, receiver):
    url, received, _ = receiver
    _, secret = endpoint_for(store, url)
    customer = create_customer(store, {"email": "mei@example.com", "first_name": "美玲"})
    db.session.commit()
    assert send_all() == 1
    [request] = received
    payload = Webhook(secret).verify(request.get_data(), dict(request.headers))
    assert payload["type"] == "customer.created"
    assert payload["data"]["customer"]["first_name"] == "美玲"
    assert request.headers["webhook-id"] == payload["id"]
    assert request.headers["kedai-event-type"] == "customer.created"
    assert request.headers["kedai-attempt"] == "1"
    assert int(request.headers["kedai-event-seq"]) == payload["seq"] == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(request.get_data(), dict(request.headers))
    assert customer.id == payload["data"]["customer"]["id"]


def test_only_subscribed_event_types_are_sent(store, receiver):
    url, received, _ = receiver
    endpoint_for(store, url, types=["order.paid"])
    customer = create_customer(store, {"email": "a@example.com"})
    order = orders.create_order(store, customer_id=customer.id,
                                lines=[{"title": "Tea", "unit_price": 100, "quantity": 1}])
    orders.mark_paid(store, order)
    db.session.commit()
    send_all()
    assert [json.loads(r.get_data())["type"] for r in received] == ["order.paid"]


def test_a_receiver_that_fails_for_a_while_then_recovers_gets_every_event(store, receiver):
    url, received, state = receiver
    endpoint_for(store, url)
    for n in range(3):
        create_customer(store, {"email": f"c{n}@example.com"})
    db.session.commit()
    state["fail"] = 4
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(10):
            send_all()
            clock.shift(timedelta(minutes=40))
    ids = [r.headers["webhook-id"] for r in received]
    assert len(ids) == 3 and len(set(ids)) == 3
    statuses = db.session.scalars(sa.select(WebhookDelivery.status)).all()
    assert statuses == ["done"] * 3
    retried = db.session.scalars(sa.select(WebhookDelivery.attempts)).all()
    assert max(retried) > 1


def test_the_webhook_id_is_stable_across_retries(store, receiver):
    url, received, state = receiver
    endpoint_for(store, url)
    create_customer(store, {"email": "x@example.com"})
    db.session.commit()
    state["fail"] = 1
    send_all()
    [delivery] = db.session.scalars(sa.select(WebhookDelivery)).all()
    assert (delivery.status, delivery.response_status) == ("pending", 503)
    assert "down for maintenance" in delivery.last_error
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=10)):
        send_all()
    [request] = received
    assert request.headers["webhook-id"] == delivery.event_id
    assert request.headers["kedai-attempt"] == "2"


def test_manual_redelivery_sends_again(store, receiver):
    url, received, _ = receiver
    endpoint_for(store, url)
    create_customer(store, {"email": "x@example.com"})
    db.session.commit()
    send_all()
    [delivery] = db.session.scalars(sa.select(WebhookDelivery)).all()
    webhooks.redeliver(store, delivery.id)
    db.session.commit()
    send_all()
    assert len(received) == 2
    assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]


def test_endpoint_is_disabled_after_sustained_failure(store, receiver):
    url, _, state = receiver
    endpoint, _ = endpoint_for(store, url)
    create_customer(store, {"email": "x@example.com"})
    db.session.commit()
    state["fail"] = 1000
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(12):
            send_all()
            clock.shift(timedelta(hours=10))
    db.session.refresh(endpoint)
    assert endpoint.enabled is False
    assert "without a success" in endpoint.disabled_reason
    [delivery] = db.session.scalars(sa.select(WebhookDelivery)).all()
    assert delivery.status == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS
    create_customer(store, {"email": "later@example.com"})
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 1


def test_private_addresses_are_refused_unless_allowed(store, receiver, monkeypatch):
    url, received, _ = receiver
    endpoint_for(store, url)
    create_customer(store, {"email": "x@example.com"})
    db.session.commit()
    monkeypatch.setenv("KEDAI_OUTBOUND_ALLOW", "")
    send_all()
    [delivery] = db.session.scalars(sa.select(WebhookDelivery)).all()
    assert received == [] and "loopback" in delivery.last_error


def test_bad_endpoint_settings_name_the_field(store):
    with pytest.raises(ValidationError) as info:
        webhooks.create_endpoint(store, "ftp://example.com", ["order.paid"])
    assert info.value.field == "url"
    with pytest.raises(ValidationError) as info:
        webhooks.create_endpoint(store, "https://example.com/h", ["order.shipped_by_owl"])
    assert info.value.field == "event_types"


def test_endpoints_of_another_store_are_not_found(store, other_store):
    from core.errors import NotFound

    endpoint, _ = endpoint_for(store, "https://example.com/hooks")
    with pytest.raises(NotFound):
        webhooks.get_endpoint(other_store, endpoint.id)


def test_every_core_event_payload_matches_its_published_json_schema(store, receiver):
    from datetime import date

    from jsonschema import Draft202012Validator

    from core.customers import service as customers
    from core.customers.jobs import emit_birthdays
    from core.events.payloads import PAYLOADS, json_schema

    url, received, _ = receiver
    endpoint_for(store, url, types=["*"])
    mei = customers.create_customer(store, {"email": "mei@example.com", "first_name": "美玲",
                                            "birthday": date(1990, 5, 17)}, tags=["VIP"])
    other = customers.create_customer(store, {"email": "old@example.com", "phone": "0123456789"})
    db.session.commit()
    customers.update_customer(store, mei, {"last_name": "陳"})
    first = orders.create_order(store, customer_id=other.id,
                                lines=[{"title": "Tea", "unit_price": 3800, "quantity": 2}])
    orders.mark_paid(store, first)
    orders.fulfil(store, first)
    orders.refund(store, first, 1000, reason="broken")
    second = orders.create_order(store, lines=[{"title": "Mug", "unit_price": 5900,
                                                "quantity": 1}], email="g@example.net")
    orders.mark_paid(store, second)
    orders.attach_customer(store, second, mei.id)
    third = orders.create_order(store, customer_id=mei.id,
                                lines=[{"title": "Cake", "unit_price": 4500, "quantity": 1}])
    orders.mark_paid(store, third)
    orders.cancel(store, third, reason="out of stock")
    customers.merge_customers(store, mei, other)
    emit_birthdays(store, date(2026, 5, 17))
    customers.blacklist(store, mei, "chargebacks")
    db.session.commit()
    customers.erase_customer(store, mei)
    db.session.commit()
    send_all()

    seen = set()
    for request in received:
        body = json.loads(request.get_data())
        errors = list(Draft202012Validator(json_schema(body["type"])).iter_errors(body))
        assert not errors, (body["type"], [e.message for e in errors])
        seen.add(body["type"])
    assert seen == set(PAYLOADS)
