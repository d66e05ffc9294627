"""The admin API's doors: bearer tokens and scopes, store isolation, the OpenAPI description
and the one error shape (P-07)."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate as validate_spec

from core.auth.models import ApiToken
from core.auth.tokens import SCOPES, revoke
from core.customers import service as customers
from core.db import db
from core.events.service import record_event
from core.orders import service as orders
from core.webhooks import service as webhooks
from core.webhooks.models import WebhookDelivery
from tests.conftest import api_token, events_of

#: Every operation of the API with the scope it needs. Ids are filled in per test.
OPERATIONS = [
    ("get", "/customers", "customers:read"),
    ("post", "/customers", "customers:write"),
    ("get", "/customers/{customer}", "customers:read"),
    ("patch", "/customers/{customer}", "customers:write"),
    ("post", "/customers/{customer}/blacklist", "customers:write"),
    ("delete", "/customers/{customer}/blacklist", "customers:write"),
    ("post", "/customers/{customer}/merge", "customers:write"),
    ("post", "/customers/{customer}/move-orders", "customers:write"),
    ("get", "/customers/{customer}/timeline", "customers:read"),
    ("get", "/customers/{customer}/export", "customers:read"),
    ("post", "/customers/{customer}/erase", "customers:write"),
    ("post", "/customers/bulk/tags", "customers:write"),
    ("get", "/tags", "customers:read"),
    ("post", "/tags", "customers:write"),
    ("patch", "/tags/{tag}", "customers:write"),
    ("delete", "/tags/{tag}", "customers:write"),
    ("get", "/custom-fields", "customers:read"),
    ("post", "/custom-fields", "customers:write"),
    ("patch", "/custom-fields/{field}", "customers:write"),
    ("delete", "/custom-fields/{field}", "customers:write"),
    ("get", "/orders", "orders:read"),
    ("post", "/orders", "orders:write"),
    ("get", "/orders/{order}", "orders:read"),
    ("post", "/orders/{order}/pay", "orders:write"),
    ("post", "/orders/{order}/fulfil", "orders:write"),
    ("post", "/orders/{order}/cancel", "orders:write"),
    ("post", "/orders/{order}/refunds", "orders:write"),
    ("post", "/orders/{order}/attach-customer", "orders:write"),
    ("get", "/events", "events:read"),
    ("get", "/webhooks", "webhooks:read"),
    ("post", "/webhooks", "webhooks:write"),
    ("get", "/webhooks/event-types", "webhooks:read"),
    ("get", "/webhooks/schemas/order.paid", "webhooks:read"),
    ("get", "/webhooks/{webhook}", "webhooks:read"),
    ("patch", "/webhooks/{webhook}", "webhooks:write"),
    ("delete", "/webhooks/{webhook}", "webhooks:write"),
    ("get", "/webhooks/{webhook}/deliveries", "webhooks:read"),
    ("post", "/webhooks/{webhook}/deliveries/{delivery}/redeliver", "webhooks:write"),
    ("get", "/plugins", "plugins:read"),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def things(store, customer, paid_order):
    """One resource of each kind in ``store``, by the placeholder names of ``OPERATIONS``."""
    tag = customers.create_tag(store, "VIP")
    field = customers.define_field(store, key="branch", label="Branch", field_type="text")
    endpoint, _ = webhooks.create_endpoint(store, "https://example.com/hooks", ["*"])
    customers.create_customer(store, {"email": "after-webhook@example.com"})
    db.session.commit()
    delivery = db.session.scalar(db.select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id))
    return {"customer": customer.id, "tag": tag.id, "field": field.id, "order": paid_order.id,
            "webhook": endpoint.id, "delivery": delivery.id}


def call(client, method, path, things, token=None):
    url = "/api/v1" + path.format(**things)
    headers = bearer(token) if token else {}
    return getattr(client, method)(url, headers=headers, json={} if method != "get" else None)


# --- tokens -----------------------------------------------------------------------------------


def test_no_token_is_401_in_the_api_error_shape(client, things):
    response = client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "missing_authorization"
    assert "Authorization" in response.json["error"]["message"]


def test_unknown_and_malformed_tokens_are_401(client, things):
    unknown = client.get("/api/v1/customers", headers=bearer("kd_not-a-token"))
    assert unknown.status_code == 401
    assert unknown.json["error"]["code"] == "invalid_token"
    assert 'error="invalid_token"' in unknown.headers["WWW-Authenticate"]
    basic = client.get("/api/v1/customers", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    assert basic.json["error"]["code"] == "unsupported_token_type"


def test_revoked_token_is_401(client, store, customer):
    token = api_token(store, "customers:read")
    assert client.get("/api/v1/customers", headers=bearer(token)).status_code == 200
    row = db.session.scalar(db.select(ApiToken).where(ApiToken.store_id == store.id))
    revoke(row)
    db.session.commit()
    response = client.get("/api/v1/customers", headers=bearer(token))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_token_use_is_recorded(client, store):
    token = api_token(store, "customers:read")
    row = db.session.scalar(db.select(ApiToken).where(ApiToken.store_id == store.id))
    assert row.last_used_at is None
    client.get("/api/v1/tags", headers=bearer(token))
    db.session.refresh(row)
    assert row.last_used_at is not None


@pytest.mark.parametrize(("method", "path", "scope"), OPERATIONS)
def test_every_operation_needs_its_scope(client, store, things, method, path, scope):
    assert call(client, method, path, things).status_code == 401
    others = [s for s in SCOPES if s != scope]
    denied = call(client, method, path, things, api_token(store, *others))
    assert denied.status_code == 403, denied.json
    assert denied.json["error"]["code"] == "insufficient_scope"
    allowed = call(client, method, path, things, api_token(store, scope))
    assert allowed.status_code not in (401, 403), allowed.json


# --- store isolation --------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "scope"), [op for op in OPERATIONS if "{" in op[1]])
def test_another_stores_resources_are_404(client, other_store, things, method, path, scope):
    """A token of the rival store names Acme's ids: every one is unknown to it."""
    token = api_token(other_store, *SCOPES)
    body = {
        "merge_id": things["customer"],
        "target_id": things["customer"],
        "customer_id": things["customer"],
        "amount": 100,
        "name": "Renamed",
        "label": "Renamed",
    }
    url = "/api/v1" + path.format(**things)
    wanted = {k: v for k, v in body.items() if k in _BODY_KEYS.get(path.split("/")[-1], ())}
    response = getattr(client, method)(
        url, headers=bearer(token), json=wanted if method != "get" else None
    )
    assert response.status_code == 404, response.json
    assert response.json["error"]["code"] == "not_found"


_BODY_KEYS = {
    "merge": ("merge_id",),
    "move-orders": ("target_id",),
    "refunds": ("amount",),
    "attach-customer": ("customer_id",),
    "{tag}": ("name",),
    "{field}": ("label",),
}


def test_ids_of_another_store_in_a_body_are_404(client, store, other_store, things):
    """Bodies that name another store's customer: as unknown as a path id."""
    rival = api_token(other_store, *SCOPES)
    own = customers.create_customer(other_store, {"email": "own@rival.test"})
    orders.create_order(
        other_store, customer_id=own.id, lines=[{"title": "Tea", "unit_price": 1, "quantity": 1}]
    )
    guest = orders.create_order(
        other_store, lines=[{"title": "Tea", "unit_price": 1, "quantity": 1}]
    )
    db.session.commit()
    acme_customer = things["customer"]
    for path, body in [
        (f"/customers/{own.id}/merge", {"merge_id": acme_customer}),
        (f"/customers/{own.id}/move-orders", {"target_id": acme_customer}),
        (f"/orders/{guest.id}/attach-customer", {"customer_id": acme_customer}),
        (
            "/orders",
            {
                "customer_id": acme_customer,
                "lines": [{"title": "Tea", "unit_price": 1, "quantity": 1}],
            },
        ),
    ]:
        response = client.post("/api/v1" + path, headers=bearer(rival), json=body)
        assert response.status_code == 404, (path, response.json)
        assert response.json["error"]["message"] == f"customer {acme_customer} not found"
    customer = customers.get_customer(store, acme_customer)
    assert customer.merged_into_id is None and customer.orders_count == 1


def test_lists_and_feeds_show_only_the_tokens_store(client, store, other_store, things):
    rival = bearer(api_token(other_store, *SCOPES))
    customers.create_customer(other_store, {"email": "own@rival.test"})
    customers.create_tag(other_store, "Rival tag")
    record_event(other_store.id, "rival.thing", {"x": 1})
    db.session.commit()
    emails = [c["email"] for c in client.get("/api/v1/customers", headers=rival).json["items"]]
    assert emails == ["own@rival.test"]
    tags = client.get("/api/v1/tags", headers=rival).json["items"]
    assert [t["name"] for t in tags] == ["Rival tag"]
    assert client.get("/api/v1/custom-fields", headers=rival).json["items"] == []
    assert client.get("/api/v1/orders", headers=rival).json["total"] == 0
    feed = client.get("/api/v1/events", headers=rival).json
    assert {e["type"] for e in feed["items"]} == {"customer.created", "rival.thing"}
    by_customer = client.get(f"/api/v1/orders?customer_id={things['customer']}", headers=rival).json
    assert by_customer["items"] == []


def test_bulk_tags_never_touch_another_store(client, store, other_store, things):
    rival = bearer(api_token(other_store, *SCOPES))
    response = client.post(
        "/api/v1/customers/bulk/tags",
        headers=rival,
        json={"ids": [things["customer"]], "add": ["Stolen"]},
    )
    assert response.status_code == 200
    assert response.json == {"added": 0, "removed": 0}
    assert [t.name for t in customers.get_customer(store, things["customer"]).tags] == []


# --- the description --------------------------------------------------------------------------


def test_openapi_is_valid_and_describes_every_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    validate_spec(spec)
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (kd_…) or an app's OAuth access token (kdo_…)",
    }
    documented = {
        (method, path.removeprefix("/api/v1"))
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "delete")
    }
    expected = {
        (
            method,
            path.replace("{customer}", "{customer_id}")
            .replace("{tag}", "{tag_id}")
            .replace("{field}", "{field_id}")
            .replace("{order}", "{order_id}")
            .replace("{webhook}", "{endpoint_id}")
            .replace("{delivery}", "{delivery_id}")
            .replace("schemas/order.paid", "schemas/{event_type}"),
        )
        for method, path, _ in OPERATIONS
    }
    assert documented == expected
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            scope = operation["x-required-scope"]
            assert operation["security"] == [{"bearer": []}, {"oauth2": [scope]}], (method, path)
            assert {"401", "403", "default"} <= set(operation["responses"]), (method, path)
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert len(success) == 1, (method, path)
            if success != ["204"]:
                assert (
                    "schema" in operation["responses"][success[0]]["content"]["application/json"]
                ), (method, path)
            if method in ("post", "patch") and operation.get("requestBody"):
                assert "schema" in operation["requestBody"]["content"]["application/json"]
    flows = spec["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["authorizationCode"]["tokenUrl"] == "/oauth/token"
    assert set(flows["clientCredentials"]["scopes"]) == set(SCOPES)
    error = spec["components"]["schemas"]["ApiError"]
    assert error["properties"]["error"] == {"$ref": "#/components/schemas/ApiErrorDetail"}


def test_routing_errors_share_the_error_shape(api, things):
    response = api.get("/customers/99999999999")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    wrong_method = api.put("/customers")
    assert wrong_method.status_code == 405
    assert wrong_method.json["error"]["code"] == "method_not_allowed"
    assert set(wrong_method.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_a_required_body_must_be_present_and_json(api, store, things):
    customer = f"/customers/{things['customer']}"
    absent = api.patch(customer)
    assert absent.status_code == 422
    assert absent.json["error"] == {
        "code": "invalid",
        "message": "body: A JSON body is required.",
        "field": "body",
        "errors": {"body": "A JSON body is required."},
    }
    form = api.patch(customer, data={"first_name": "Form"})
    assert form.status_code == 415
    assert form.json["error"]["message"] == "Send the body as application/json."
    broken = api.patch(customer, data="{", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json["error"]["code"] == "bad_request"
    assert events_of(store, "customer.updated") == []


def test_text_no_database_can_store_is_422_naming_the_input(api, store, things):
    query = api.get("/customers?q=a%00b")
    assert query.status_code == 422
    assert query.json["error"]["field"] == "q"
    body = api.post(
        "/orders",
        json={"lines": [{"title": "Tea\u0000", "unit_price": 1, "quantity": 1}]},
    )
    assert body.status_code == 422
    assert body.json["error"]["field"] == "lines.0.title"
    surrogate = api.post(
        "/customers",
        data='{"email": "a@example.com", "first_name": "\\ud800"}',
        content_type="application/json",
    )
    assert surrogate.status_code == 422
    assert surrogate.json["error"]["field"] == "first_name"
