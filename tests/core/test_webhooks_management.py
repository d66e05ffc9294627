"""Managing webhooks from the API, the admin and the command line, and receiving them: a local
receiver verifies every delivery with the reference ``standardwebhooks`` package and checks it
against the JSON Schema the API publishes (P-07)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from jsonschema import Draft202012Validator
from standardwebhooks.webhooks import Webhook
from werkzeug import Response
from werkzeug.datastructures import Headers

from core.cli import main
from core.customers import service as customers
from core.db import db
from core.executor import work_once
from core.webhooks import service as webhooks
from core.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import csrf_token, events_of, make_staff


@pytest.fixture
def receiver(httpserver):
    """A receiver that verifies each delivery; ``state["fail"]`` answers 503 that many times."""
    state = {"fail": 0, "secret": None, "received": [], "refused": 0}

    def handle(request):
        if state["fail"]:
            state["fail"] -= 1
            state["refused"] += 1
            return Response("busy", status=503)
        payload = Webhook(state["secret"]).verify(request.get_data(), dict(request.headers))
        state["received"].append((Headers(request.headers), payload))
        return Response("ok", status=200)

    httpserver.expect_request("/hooks", method="POST").respond_with_handler(handle)
    state["url"] = httpserver.url_for("/hooks")
    return state


def run_executor() -> int:
    """What a worker does, until nothing is due now."""
    total = 0
    while done := work_once(schedule=False):
        total += done
    return total


# --- the API ---------------------------------------------------------------------------------


def test_api_creates_an_endpoint_and_shows_its_secret_once(api, store):
    created = api.post("/webhooks", json={"url": "https://hooks.example.com/kedai",
                                          "event_types": ["order.paid", "customer.created"]})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["customer.created", "order.paid"]
    assert body["enabled"] is True and body["disabled_reason"] == ""
    endpoint = db.session.get(WebhookEndpoint, body["id"])
    assert webhooks.endpoint_secret(endpoint) == body["secret"]
    assert endpoint.secret != body["secret"]  # encrypted at rest
    assert endpoint.created_by.startswith("api:")

    listed = api.get("/webhooks").json["items"]
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    assert "secret" not in api.get(f"/webhooks/{body['id']}").json


def test_api_changes_and_deletes_endpoints(api, store):
    endpoint_id = api.post("/webhooks", json={"url": "https://hooks.example.com/a",
                                              "event_types": ["*"]}).json["id"]
    changed = api.patch(f"/webhooks/{endpoint_id}",
                        json={"event_types": ["order.refunded"], "enabled": False,
                              "description": "Accounting"})
    assert changed.status_code == 200
    assert changed.json["event_types"] == ["order.refunded"]
    assert (changed.json["enabled"], changed.json["description"]) == (False, "Accounting")
    assert api.delete(f"/webhooks/{endpoint_id}").status_code == 204
    assert api.get(f"/webhooks/{endpoint_id}").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://hooks.example.com", "event_types": ["order.paid"]}, "url"),
    ({"url": "https://[::1", "event_types": ["order.paid"]}, "url"),
    ({"url": "https://user:pw@hooks.example.com", "event_types": ["order.paid"]}, "url"),
    ({"url": "https://hooks.example.com", "event_types": ["order.shipped_by_owl"]}, "event_types"),
    ({"url": "https://hooks.example.com", "event_types": []}, "event_types"),
    ({"url": "https://hooks.example.com"}, "event_types"),
])
def test_api_names_the_invalid_field(api, store, body, field):
    response = api.post("/webhooks", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field


def test_api_lists_event_types_and_publishes_their_schemas(api):
    types = {t["type"]: t for t in api.get("/webhooks/event-types").json["items"]}
    assert types["order.paid"]["schema_published"] is True
    assert types["order.paid"]["description"] == "An order was paid."
    schema = api.get("/webhooks/schemas/order.paid").json
    assert schema["properties"]["type"] == {"const": "order.paid"}
    Draft202012Validator.check_schema(schema)
    assert api.get("/webhooks/schemas/order.shipped_by_owl").status_code == 404


def test_delivery_log_and_redelivery_through_the_api(api, store, receiver):
    created = api.post("/webhooks", json={"url": receiver["url"],
                                          "event_types": ["customer.created"]}).json
    receiver["secret"] = created["secret"]
    api.post("/customers", json={"email": "mei@example.com", "first_name": "美玲"})
    run_executor()
    [entry] = api.get(f"/webhooks/{created['id']}/deliveries").json["items"]
    assert (entry["status"], entry["attempts"], entry["response_status"]) == ("done", 1, 200)
    assert isinstance(entry["response_ms"], int) and entry["delivered_at"]
    assert entry["event_type"] == "customer.created"

    again = api.post(f"/webhooks/{created['id']}/deliveries/{entry['id']}/redeliver")
    assert again.status_code == 200 and again.json["status"] == "pending"
    run_executor()
    first, second = receiver["received"]
    assert first[0]["webhook-id"] == second[0]["webhook-id"] == entry["event_id"]
    other = api.post("/webhooks", json={"url": "https://hooks.example.com/b",
                                        "event_types": ["order.paid"]}).json
    wrong_endpoint = api.post(f"/webhooks/{other['id']}/deliveries/{entry['id']}/redeliver")
    assert wrong_endpoint.status_code == 404


# --- receiving: every delivery verified, nothing lost --------------------------------------------


def test_a_receiver_that_fails_for_a_while_then_recovers_gets_every_event(api, store, receiver):
    """Created through the API, sent by the executor on its backoff schedule while the receiver
    answers 503 for over half an hour: afterwards it has every event once, each verified with
    ``standardwebhooks`` and valid against the published schema; the event feed agrees."""
    created = api.post("/webhooks", json={"url": receiver["url"], "event_types": ["*"]}).json
    receiver["secret"] = created["secret"]
    receiver["fail"] = 12
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        for n in range(3):
            customer = api.post("/customers", json={"email": f"c{n}@example.com"}).json
            order = api.post("/orders", json={"customer_id": customer["id"], "lines": [
                {"title": "Tea", "unit_price": 3800, "quantity": 1}]}).json
            api.post(f"/orders/{order['id']}/pay")
        first_round = run_executor()
        assert first_round == 9 and receiver["received"] == []
        for _ in range(12):  # the schedule: 5 s, 5 min, 30 min, …
            clock.shift(timedelta(minutes=10))
            run_executor()
    assert receiver["refused"] == 12

    sent_types = {e.type for e in events_of(store)}
    assert sent_types == {"customer.created", "order.created", "order.paid"}
    ids = [headers["webhook-id"] for headers, _ in receiver["received"]]
    assert sorted(ids) == sorted(e.id for e in events_of(store))  # each once, none missing
    schemas = {}
    for headers, payload in receiver["received"]:
        kind = payload["type"]
        assert headers["kedai-event-type"] == kind
        assert int(headers["kedai-attempt"]) >= 1
        assert headers["kedai-occurred-at"].startswith(str(start.year))
        if kind not in schemas:
            schemas[kind] = api.get(f"/webhooks/schemas/{kind}").json
        errors = [e.message for e in Draft202012Validator(schemas[kind]).iter_errors(payload)]
        assert not errors, (kind, errors)
    retried = db.session.scalars(sa.select(WebhookDelivery.attempts)).all()
    assert max(retried) > 1 and all(
        s == "done" for s in db.session.scalars(sa.select(WebhookDelivery.status)))

    feed = api.get("/events?since=0").json
    assert [e["id"] for e in feed["items"]] == [e.id for e in events_of(store)]
    by_seq = sorted(receiver["received"], key=lambda item: item[1]["seq"])
    assert [p["seq"] for _, p in by_seq] == [e["seq"] for e in feed["items"]]


# --- the command line -----------------------------------------------------------------------


def test_kedai_webhooks_create_prints_id_and_secret(app, store):
    result = app.test_cli_runner().invoke(main, [
        "webhooks", "create", "--store", store.slug, "--url", "https://hooks.example.com/k",
        "--events", "order.paid customer.created"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    endpoint = webhooks.get_endpoint(store, printed["id"])
    assert printed["secret"].startswith("whsec_")
    assert webhooks.endpoint_secret(endpoint) == printed["secret"]
    assert endpoint.event_types == ["customer.created", "order.paid"]
    bad = app.test_cli_runner().invoke(main, [
        "webhooks", "create", "--store", store.slug, "--url", "https://hooks.example.com/k",
        "--events", "order.teleported"])
    assert bad.exit_code == 1 and "unknown event type 'order.teleported'" in bad.output


# --- the admin ------------------------------------------------------------------------------


def test_owner_adds_a_webhook_in_the_admin_and_sees_the_secret_once(admin, store):
    token = csrf_token(admin, "/admin/webhooks/new")
    page = admin.post("/admin/webhooks/new", data={
        "csrf_token": token, "url": "https://hooks.example.com/admin",
        "event_types": ["order.paid", "order.refunded"], "enabled": "y"})
    assert page.status_code == 200
    secret = re.search(r'id="secret">([^<]+)<', page.text).group(1)
    [endpoint] = webhooks.list_endpoints(store)
    assert webhooks.endpoint_secret(endpoint) == secret
    assert endpoint.event_types == ["order.paid", "order.refunded"] and endpoint.enabled
    listing = admin.get("/admin/webhooks/").text
    assert "https://hooks.example.com/admin" in listing and secret not in listing
    assert secret not in admin.get(f"/admin/webhooks/{endpoint.id}").text


def test_admin_form_errors_stay_in_place(admin, store):
    token = csrf_token(admin, "/admin/webhooks/new")
    page = admin.post("/admin/webhooks/new", data={
        "csrf_token": token, "url": "ftp://hooks.example.com", "event_types": ["order.paid"]})
    assert page.status_code == 200
    assert "the URL must start with https://" in page.text
    assert webhooks.list_endpoints(store) == []


def test_owner_edits_events_and_sees_the_delivery_log(admin, store, receiver):
    endpoint, secret = webhooks.create_endpoint(store, receiver["url"], ["customer.created"])
    receiver["secret"] = secret
    db.session.commit()
    customers.create_customer(store, {"email": "x@example.com"})
    db.session.commit()
    receiver["fail"] = 1
    run_executor()
    page = admin.get(f"/admin/webhooks/{endpoint.id}").text
    row = page.split('id="deliveries"')[1]
    assert "Waiting to retry" in row and "503" in row and " ms" in row and "busy" in row

    [delivery] = webhooks.deliveries(store, endpoint.id)
    token = csrf_token(admin, f"/admin/webhooks/{endpoint.id}")
    answer = admin.post(f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/redeliver",
                        data={"csrf_token": token})
    assert answer.status_code == 302
    run_executor()
    page = admin.get(f"/admin/webhooks/{endpoint.id}").text
    assert "Delivered" in page.split('id="deliveries"')[1]
    assert len(receiver["received"]) == 1

    saved = admin.post(f"/admin/webhooks/{endpoint.id}", data={
        "csrf_token": token, "url": receiver["url"], "description": "CRM",
        "event_types": ["customer.created", "customer.updated"], "enabled": "y"})
    assert saved.status_code == 302
    db.session.refresh(endpoint)
    assert endpoint.event_types == ["customer.created", "customer.updated"]
    assert endpoint.description == "CRM"


def test_staff_see_webhooks_but_only_the_owner_changes_them(client, store):
    from tests.conftest import STAFF_PASSWORD

    endpoint, _ = webhooks.create_endpoint(store, "https://hooks.example.com/s", ["order.paid"])
    db.session.commit()
    clerk = make_staff(store, role="staff")
    token = csrf_token(client, "/admin/login")
    client.post("/admin/login", data={"email": clerk.email, "password": STAFF_PASSWORD,
                                      "csrf_token": token})
    assert client.get(f"/admin/webhooks/{endpoint.id}").status_code == 200
    token = csrf_token(client, "/admin/webhooks/")
    assert client.post(f"/admin/webhooks/{endpoint.id}/delete",
                       data={"csrf_token": token}).status_code == 403
    assert client.post(f"/admin/webhooks/{endpoint.id}", data={
        "csrf_token": token, "url": "https://evil.example", "event_types": ["*"]}
    ).status_code == 403
    assert webhooks.get_endpoint(store, endpoint.id).url == "https://hooks.example.com/s"


def test_the_merchant_is_told_when_kedai_disabled_an_endpoint(admin, store, receiver):
    endpoint, _ = webhooks.create_endpoint(store, receiver["url"], ["customer.created"])
    db.session.commit()
    customers.create_customer(store, {"email": "x@example.com"})
    db.session.commit()
    receiver["fail"] = 1000
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        for _ in range(12):
            run_executor()
            clock.shift(timedelta(hours=10))
    db.session.refresh(endpoint)
    assert endpoint.enabled is False
    notice = admin.get("/admin/customers/").text
    assert "Kedai stopped sending webhooks to" in notice and receiver["url"] in notice
    page = admin.get("/admin/webhooks/").text
    assert "It kept failing for more than a day." in page and "without a success" in page

    token = csrf_token(admin, f"/admin/webhooks/{endpoint.id}")
    admin.post(f"/admin/webhooks/{endpoint.id}", data={
        "csrf_token": token, "url": receiver["url"], "event_types": ["customer.created"],
        "enabled": "y"})
    db.session.refresh(endpoint)
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert "Kedai stopped sending" not in admin.get("/admin/customers/").text
