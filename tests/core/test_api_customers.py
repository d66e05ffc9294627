"""The customer part of the admin API: list with filters and pages, profiles, tags, custom
fields, blacklist, merge, moving orders, timeline, privacy export and erasure, bulk tags
(C-01 to C-05, C-09, C-10, C-13)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.auth.models import ApiToken
from core.customers import service as customers
from core.db import db
from core.orders import service as orders
from tests.conftest import events_of

TEA = [{"sku": "TEA", "title": "Oolong", "unit_price": 3800, "quantity": 2}]


def actor_of(store) -> str:
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.store_id == store.id))
    return f"api:{token.id}"


def make(store, email, *, created=None, spent=0, placed=None, **profile):
    customer = customers.create_customer(store, {"email": email, **profile})
    if created:
        customer.created_at = created
    if spent:
        order = orders.create_order(
            store,
            customer_id=customer.id,
            lines=[{"title": "Tea", "unit_price": spent, "quantity": 1}],
            placed_at=placed,
        )
        orders.mark_paid(store, order)
    db.session.commit()
    return customer


def emails(response):
    assert response.status_code == 200, response.json
    return [c["email"] for c in response.json["items"]]


# --- the list ---------------------------------------------------------------------------------


def test_list_is_a_page_envelope_newest_first(api, store):
    for day in (1, 2, 3):
        make(store, f"c{day}@example.com", created=datetime(2024, 5, day, 4, tzinfo=UTC))
    first = api.get("/customers?per_page=2")
    assert emails(first) == ["c3@example.com", "c2@example.com"]
    assert {k: v for k, v in first.json.items() if k != "items"} == {
        "page": 1,
        "per_page": 2,
        "total": 3,
        "pages": 2,
    }
    assert emails(api.get("/customers?per_page=2&page=2")) == ["c1@example.com"]
    far = api.get("/customers?page=2147483647&per_page=500")
    assert far.json["items"] == [] and far.json["total"] == 3
    assert emails(api.get("/customers?order=asc")) == [
        "c1@example.com",
        "c2@example.com",
        "c3@example.com",
    ]


def test_list_shows_the_whole_customer(api, store, customer, paid_order):
    customers.define_field(store, key="branch", label="Branch", field_type="text")
    customers.update_customer(store, customer, {}, tags=["VIP"], custom_fields={"branch": "KL"})
    db.session.commit()
    [item] = api.get("/customers").json["items"]
    assert item["id"] == customer.id
    assert item["email"] == "mei@example.com"
    assert item["phone"] == "+60123456789"
    assert (item["first_name"], item["last_name"]) == ("美玲", "陳")
    assert item["tags"] == ["VIP"]
    assert item["fields"] == {"branch": "KL"}
    assert item["orders_count"] == 1
    assert item["total_spent"] == 8400
    assert item["blacklisted"] is False and item["merged_into_id"] is None
    assert item["last_order_at"] == paid_order.placed_at.isoformat()


def test_list_search_and_filters(api, store):
    tea = make(
        store,
        "tea@example.com",
        first_name="Ah",
        last_name="Tan",
        created=datetime(2024, 1, 10, 4, tzinfo=UTC),
        spent=5000,
        placed=datetime(2024, 2, 1, 4, tzinfo=UTC),
        accepts_marketing=True,
    )
    cake = make(
        store,
        "cake@example.com",
        first_name="Siew",
        last_name="Lim",
        created=datetime(2024, 3, 10, 4, tzinfo=UTC),
        spent=20000,
        placed=datetime(2024, 4, 1, 4, tzinfo=UTC),
    )
    make(store, "idle@example.com", created=datetime(2024, 6, 1, 4, tzinfo=UTC))
    customers.define_field(store, key="branch", label="Branch", field_type="text")
    customers.update_customer(store, cake, {}, tags=["VIP"], custom_fields={"branch": "Penang"})
    customers.update_customer(store, tea, {}, tags=["Wholesale"])
    customers.blacklist(store, tea, "chargebacks")
    db.session.commit()

    assert emails(api.get("/customers?q=siew lim")) == ["cake@example.com"]
    assert emails(api.get("/customers?q=TEA@")) == ["tea@example.com"]
    period = "/customers?created_from=2024-01-10&created_to=2024-03-10&order=asc"
    assert emails(api.get(period)) == ["tea@example.com", "cake@example.com"]
    assert emails(api.get("/customers?created_from=2024-03-11")) == ["idle@example.com"]
    assert emails(api.get("/customers?orders_min=1&order=asc")) == [
        "tea@example.com",
        "cake@example.com",
    ]
    assert emails(api.get("/customers?orders_max=0")) == ["idle@example.com"]
    assert emails(api.get("/customers?spent_min=5001")) == ["cake@example.com"]
    assert emails(api.get("/customers?spent_max=5000&spent_min=1")) == ["tea@example.com"]
    assert emails(api.get("/customers?last_order_before=2024-03-01")) == ["tea@example.com"]
    assert emails(api.get("/customers?last_order_after=2024-03-01")) == ["cake@example.com"]
    assert emails(api.get("/customers?tag=VIP")) == ["cake@example.com"]
    assert emails(api.get("/customers?tag=VIP&tag=Wholesale&sort=spent")) == [
        "cake@example.com",
        "tea@example.com",
    ]
    assert emails(api.get("/customers?tag=Nobody")) == []
    assert emails(api.get("/customers?blacklisted=true")) == ["tea@example.com"]
    assert emails(api.get("/customers?accepts_marketing=true")) == ["tea@example.com"]
    assert emails(api.get("/customers?field_key=branch")) == ["cake@example.com"]
    assert emails(api.get("/customers?field_key=branch&field_value=KL")) == []
    assert emails(api.get("/customers?sort=spent&order=asc")) == [
        "idle@example.com",
        "tea@example.com",
        "cake@example.com",
    ]
    assert emails(api.get("/customers?sort=name&order=asc")) == [
        "idle@example.com",
        "cake@example.com",
        "tea@example.com",
    ]


def test_list_takes_dates_at_the_ends_of_the_calendar(api, store, paid_order):
    everyone = "/customers?created_from=0001-01-01&created_to=9999-12-31"
    assert emails(api.get(everyone)) == ["mei@example.com"]
    assert emails(api.get("/customers?last_order_after=9999-12-31")) == []
    assert emails(api.get("/customers?last_order_before=0001-01-01")) == []
    assert emails(api.get("/customers?last_order_before=9999-12-31")) == ["mei@example.com"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("created_from=2024-13-01", "created_from"),
        ("last_order_before=yesterday", "last_order_before"),
        ("orders_min=-1", "orders_min"),
        ("spent_max=lots", "spent_max"),
        ("sort=email", "sort"),
        ("order=up", "order"),
        ("page=0", "page"),
        ("per_page=501", "per_page"),
        ("blacklisted=perhaps", "blacklisted"),
        ("plugin.tier=gold", "plugin.tier"),
    ],
)
def test_list_refuses_bad_filters_naming_them(api, store, query, field):
    response = api.get(f"/customers?{query}")
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid"
    assert response.json["error"]["field"] == field


# --- one customer -----------------------------------------------------------------------------


def test_create_with_tags_and_fields(api, store):
    customers.define_field(
        store, key="branch", label="Branch", field_type="dropdown", options=["KL", "Penang"]
    )
    db.session.commit()
    response = api.post(
        "/customers",
        json={
            "email": "Siew@Example.com",
            "phone": "+60 12-888 9999",
            "first_name": "Siew",
            "birthday": "1990-05-17",
            "accepts_marketing": True,
            "tags": ["VIP", "Wholesale"],
            "fields": {"branch": "Penang"},
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["email"] == "siew@example.com"
    assert body["phone"] == "+60128889999"
    assert body["birthday"] == "1990-05-17"
    assert body["tags"] == ["VIP", "Wholesale"]
    assert body["fields"] == {"branch": "Penang"}
    assert body["source"] == "api"
    assert (body["orders_count"], body["total_spent"]) == (0, 0)
    [created] = events_of(store, "customer.created")
    assert created.customer_id == body["id"]
    assert created.actor == actor_of(store)
    assert created.payload["source"] == "api"
    assert created.payload["customer"]["email"] == "siew@example.com"
    assert api.get(f"/customers/{body['id']}").json == body


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "not-an-email"}, 422, "email"),
        ({"first_name": "No contact"}, 422, "email"),
        ({"email": "a@example.com", "phone": "12"}, 422, "phone"),
        ({"email": "a@example.com", "birthday": "17/05/1990"}, 422, "birthday"),
        ({"email": "a@example.com", "fields": {"nope": "x"}}, 422, "fields.nope"),
        ({"email": "a@example.com", "tags": [""]}, 422, "tags.0"),
        ({"email": "a@example.com", "total_spent": 100}, 422, "total_spent"),
        ({"email": "a@example.com", "first_name": None}, 422, "first_name"),
        ({"email": "a@example.com", "accepts_marketing": 1}, 422, "accepts_marketing"),
        ({"email": "a@example.com", "accepts_marketing": "yes"}, 422, "accepts_marketing"),
        ({"email": "mei@example.com"}, 409, "email"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(api, store, customer, body, status, field):
    response = api.post("/customers", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["field"] == field
    assert len(events_of(store, "customer.created")) == 1


def test_body_that_is_not_an_object_is_422(api, customer):
    response = api.post("/customers", json=["mei@example.com"])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"


def test_patch_changes_only_what_is_given(api, store, customer):
    customers.define_field(store, key="branch", label="Branch", field_type="text")
    customers.update_customer(store, customer, {}, tags=["Old"], custom_fields={"branch": "KL"})
    db.session.commit()
    response = api.patch(
        f"/customers/{customer.id}",
        json={"last_name": "Tan", "tags": ["VIP"], "note": "Prefers oolong"},
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["first_name"], body["last_name"], body["note"]) == (
        "美玲",
        "Tan",
        "Prefers oolong",
    )
    assert body["tags"] == ["VIP"] and body["fields"] == {"branch": "KL"}
    updated = events_of(store, "customer.updated")[-1]
    assert updated.payload["changed"] == ["last_name", "note", "tags"]
    assert updated.actor == actor_of(store)

    cleared = api.patch(f"/customers/{customer.id}", json={"fields": {"branch": None}})
    assert cleared.json["fields"] == {}
    assert events_of(store, "customer.updated")[-1].payload["changed"] == ["fields"]
    count = len(events_of(store, "customer.updated"))
    assert api.patch(f"/customers/{customer.id}", json={"last_name": "Tan"}).status_code == 200
    assert len(events_of(store, "customer.updated")) == count


def test_patch_refuses_taking_the_last_contact(api, store, customer):
    customers.update_customer(store, customer, {"phone": None})
    db.session.commit()
    response = api.patch(f"/customers/{customer.id}", json={"email": None})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "email"
    assert customers.get_customer(store, customer.id).email == "mei@example.com"


def test_unknown_customer_is_404(api, customer):
    response = api.get(f"/customers/{customer.id + 100}")
    assert response.status_code == 404
    assert response.json["error"] == {
        "code": "not_found",
        "message": f"customer {customer.id + 100} not found",
    }


# --- blacklist, merge, moving orders ----------------------------------------------------------


def test_blacklist_and_back(api, store, customer):
    response = api.post(f"/customers/{customer.id}/blacklist", json={"reason": "chargebacks"})
    assert response.status_code == 200
    assert response.json["blacklisted"] is True
    assert response.json["blacklist_reason"] == "chargebacks"
    assert response.json["blacklisted_at"] is not None
    [event] = events_of(store, "customer.blacklisted")
    assert event.payload["reason"] == "chargebacks" and event.actor == actor_of(store)
    order = api.post("/orders", json={"customer_id": customer.id, "lines": TEA})
    assert order.status_code == 403

    back = api.delete(f"/customers/{customer.id}/blacklist")
    assert back.status_code == 200
    assert (back.json["blacklisted"], back.json["blacklist_reason"]) == (False, "")
    assert events_of(store, "customer.updated")[-1].payload["changed"] == ["blacklisted"]


def test_blacklist_needs_no_body(api, store, customer):
    response = api.post(f"/customers/{customer.id}/blacklist")
    assert response.status_code == 200 and response.json["blacklist_reason"] == ""


def test_merge_folds_one_customer_into_another(api, store, customer, paid_order):
    other = make(store, "mei.chen@example.com", spent=1000, location="Penang")
    customers.update_customer(store, other, {}, tags=["VIP"])
    db.session.commit()
    response = api.post(f"/customers/{customer.id}/merge", json={"merge_id": other.id})
    assert response.status_code == 200, response.json
    kept = response.json
    assert (kept["orders_count"], kept["total_spent"]) == (2, 9400)
    assert kept["tags"] == ["VIP"] and kept["location"] == "Penang"
    [merged] = events_of(store, "customer.merged")
    assert merged.payload["merged_customer_id"] == other.id
    assert merged.payload["orders_moved"] == 1
    gone = api.get(f"/customers/{other.id}").json
    assert gone["merged_into_id"] == customer.id and gone["email"] is None
    assert emails(api.get("/customers")) == ["mei@example.com"]


def test_merge_refusals(api, customer):
    itself = api.post(f"/customers/{customer.id}/merge", json={"merge_id": customer.id})
    assert itself.status_code == 422 and itself.json["error"]["field"] == "merge_id"
    missing = api.post(f"/customers/{customer.id}/merge", json={"merge_id": 999999})
    assert missing.status_code == 404
    no_id = api.post(f"/customers/{customer.id}/merge", json={})
    assert no_id.status_code == 422 and no_id.json["error"]["field"] == "merge_id"
    text_id = api.post(f"/customers/{customer.id}/merge", json={"merge_id": "2"})
    assert text_id.status_code == 422 and text_id.json["error"]["field"] == "merge_id"


def test_move_some_or_all_orders(api, store, customer, paid_order):
    second = orders.create_order(store, customer_id=customer.id, lines=TEA)
    target = make(store, "new@example.com")
    one = api.post(
        f"/customers/{customer.id}/move-orders",
        json={"target_id": target.id, "order_ids": [paid_order.id]},
    )
    assert one.status_code == 200 and one.json == {"moved": 1}
    [attached] = events_of(store, "order.customer_attached")
    assert (attached.order_id, attached.customer_id) == (paid_order.id, target.id)
    assert attached.payload["previous_customer_id"] == customer.id
    assert api.get(f"/customers/{target.id}").json["total_spent"] == 8400
    assert api.get(f"/customers/{customer.id}").json["total_spent"] == 0
    rest = api.post(f"/customers/{customer.id}/move-orders", json={"target_id": target.id})
    assert rest.json == {"moved": 1}
    assert orders.get_order(store, second.id).customer_id == target.id


def test_move_orders_refusals(api, store, customer, paid_order):
    itself = api.post(f"/customers/{customer.id}/move-orders", json={"target_id": customer.id})
    assert itself.status_code == 422 and itself.json["error"]["field"] == "target_id"
    target = make(store, "new@example.com")
    foreign = api.post(
        f"/customers/{target.id}/move-orders",
        json={"target_id": customer.id, "order_ids": [paid_order.id]},
    )
    assert foreign.status_code == 404 and foreign.json["error"]["field"] == "order_ids"
    assert orders.get_order(store, paid_order.id).customer_id == customer.id


# --- timeline, export, erasure ----------------------------------------------------------------


def test_timeline_is_newest_first_with_a_cursor(api, store, customer, paid_order):
    everything = api.get(f"/customers/{customer.id}/timeline").json
    types = [e["type"] for e in everything["items"]]
    assert types == ["order.paid", "order.created", "customer.created"]
    assert everything["next_before"] is None
    newest = everything["items"][0]
    assert newest["order_id"] == paid_order.id and newest["customer_id"] == customer.id
    assert newest["payload"]["order"]["total"] == 8400
    first = api.get(f"/customers/{customer.id}/timeline?limit=2").json
    assert [e["type"] for e in first["items"]] == ["order.paid", "order.created"]
    rest = api.get(f"/customers/{customer.id}/timeline?limit=2&before={first['next_before']}")
    assert [e["type"] for e in rest.json["items"]] == ["customer.created"]


def test_privacy_export(api, store, customer, paid_order):
    response = api.get(f"/customers/{customer.id}/export")
    assert response.status_code == 200
    data = response.json
    assert data["store"] == "acme"
    assert data["customer"]["email"] == "mei@example.com"
    assert [o["id"] for o in data["orders"]] == [paid_order.id]
    assert [e["type"] for e in data["events"]] == [
        "customer.created",
        "order.created",
        "order.paid",
    ]
    assert data["plugins"] == {}


def test_erase_blanks_the_customer(api, store, customer, paid_order):
    response = api.post(f"/customers/{customer.id}/erase")
    assert response.status_code == 200
    body = response.json
    assert (body["email"], body["phone"], body["first_name"], body["last_name"]) == (
        None,
        None,
        "",
        "",
    )
    assert body["total_spent"] == 8400
    [erased] = events_of(store, "customer.erased")
    assert erased.actor == actor_of(store)
    assert events_of(store, "customer.created")[0].payload == {"erased": True}
    assert orders.get_order(store, paid_order.id).email is None
    assert emails(api.get("/customers")) == []


# --- bulk tags --------------------------------------------------------------------------------


def test_bulk_tags_by_ids_and_by_filter(api, store, customer):
    other = make(store, "other@example.com", accepts_marketing=True)
    third = make(store, "third@example.com")
    added = api.post("/customers/bulk/tags", json={"ids": [customer.id, other.id], "add": ["VIP"]})
    assert added.status_code == 200 and added.json == {"added": 2, "removed": 0}
    tagged = events_of(store, "customer.updated")
    assert sorted(e.customer_id for e in tagged) == sorted([customer.id, other.id])
    assert {tuple(e.payload["changed"]) for e in tagged} == {("tags",)}

    both = api.post(
        "/customers/bulk/tags",
        json={"filter": {"accepts_marketing": True}, "add": ["News"], "remove": ["VIP"]},
    )
    assert both.json == {"added": 1, "removed": 1}
    assert api.get(f"/customers/{other.id}").json["tags"] == ["News"]
    assert api.get(f"/customers/{customer.id}").json["tags"] == ["VIP"]

    everyone = api.post("/customers/bulk/tags", json={"filter": {}, "add": ["All"]})
    assert everyone.json == {"added": 3, "removed": 0}
    assert api.get(f"/customers/{third.id}").json["tags"] == ["All"]


def test_bulk_tags_without_a_selection_change_nobody(api, store, customer):
    for body in ({"add": ["VIP"]}, {"ids": [], "add": ["VIP"]}, {"ids": [customer.id]}):
        response = api.post("/customers/bulk/tags", json=body)
        assert response.status_code == 200 and response.json == {"added": 0, "removed": 0}
    assert events_of(store, "customer.updated") == []
    assert customers.list_tags(store) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": ["1"], "add": ["VIP"]}, "ids.0"),
        ({"filter": {"blacklisted": 1}, "add": ["VIP"]}, "filter.blacklisted"),
        ({"filter": {"orders_min": "1"}, "add": ["VIP"]}, "filter.orders_min"),
        ({"filter": {"created_from": "soon"}, "add": ["VIP"]}, "filter.created_from"),
        ({"filter": {"plugin": {"tier": "gold"}}, "add": ["VIP"]}, "plugin.tier"),
    ],
)
def test_bulk_tags_refusals(api, customer, body, field):
    response = api.post("/customers/bulk/tags", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field


# --- tags -------------------------------------------------------------------------------------


def test_tags_create_list_rename_delete(api, store, customer):
    created = api.post("/tags", json={"name": " Wholesale  buyers ", "description": "B2B"})
    assert created.status_code == 201
    tag = created.json
    assert (tag["name"], tag["description"]) == ("Wholesale buyers", "B2B")
    api.post("/tags", json={"name": "VIP"})
    assert [t["name"] for t in api.get("/tags").json["items"]] == ["VIP", "Wholesale buyers"]
    duplicate = api.post("/tags", json={"name": "VIP"})
    assert duplicate.status_code == 409 and duplicate.json["error"]["field"] == "name"
    empty = api.post("/tags", json={"name": ""})
    assert empty.status_code == 422 and empty.json["error"]["field"] == "name"

    renamed = api.patch(f"/tags/{tag['id']}", json={"name": "B2B"})
    assert renamed.status_code == 200
    assert (renamed.json["name"], renamed.json["description"]) == ("B2B", "B2B")
    clash = api.patch(f"/tags/{tag['id']}", json={"name": "VIP"})
    assert clash.status_code == 409

    customers.update_customer(store, customer, {}, tags=["B2B", "VIP"])
    db.session.commit()
    deleted = api.delete(f"/tags/{tag['id']}")
    assert deleted.status_code == 204 and deleted.data == b""
    assert api.get(f"/customers/{customer.id}").json["tags"] == ["VIP"]
    assert api.patch(f"/tags/{tag['id']}", json={"name": "x"}).status_code == 404


# --- custom fields ----------------------------------------------------------------------------


def test_custom_fields_define_list_change_delete(api, store, customer):
    created = api.post(
        "/custom-fields",
        json={
            "key": "branch",
            "label": "Branch",
            "field_type": "dropdown",
            "options": ["KL", "Penang"],
            "visibility": "signup",
            "required": True,
        },
    )
    assert created.status_code == 201, created.json
    field = created.json
    assert field == {
        "id": field["id"],
        "key": "branch",
        "label": "Branch",
        "field_type": "dropdown",
        "options": ["KL", "Penang"],
        "required": True,
        "visibility": "signup",
        "position": 0,
    }
    api.post(
        "/custom-fields",
        json={"key": "a_note", "label": "Note", "field_type": "text", "position": -1},
    )
    assert [f["key"] for f in api.get("/custom-fields").json["items"]] == ["a_note", "branch"]

    changed = api.patch(
        f"/custom-fields/{field['id']}", json={"label": "Shop", "options": ["KL", "Ipoh"]}
    )
    assert changed.status_code == 200
    assert (changed.json["label"], changed.json["options"]) == ("Shop", ["KL", "Ipoh"])
    no_key_change = api.patch(f"/custom-fields/{field['id']}", json={"key": "shop"})
    assert no_key_change.status_code == 422 and no_key_change.json["error"]["field"] == "key"

    customers.update_customer(store, customer, {}, custom_fields={"branch": "Ipoh"})
    db.session.commit()
    bad_value = api.patch(f"/customers/{customer.id}", json={"fields": {"branch": "Penang"}})
    assert bad_value.status_code == 422 and bad_value.json["error"]["field"] == "fields.branch"
    assert api.delete(f"/custom-fields/{field['id']}").status_code == 204
    assert api.get(f"/customers/{customer.id}").json["fields"] == {}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"key": "Branch", "label": "B", "field_type": "text"}, 422, "key"),
        ({"key": "branch", "label": "B", "field_type": "number"}, 422, "field_type"),
        ({"key": "branch", "label": "B", "field_type": "dropdown"}, 422, "options"),
        ({"key": "branch", "label": "B", "field_type": "text", "position": 2**40}, 422, "position"),
        ({"key": "branch", "label": "B", "field_type": "text", "position": 1.5}, 422, "position"),
        ({"key": "branch", "label": "B", "field_type": "text", "required": 1}, 422, "required"),
        ({"key": "taken", "label": "B", "field_type": "text"}, 409, "key"),
    ],
)
def test_custom_field_refusals(api, store, body, status, field):
    customers.define_field(store, key="taken", label="Taken", field_type="text")
    db.session.commit()
    response = api.post("/custom-fields", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["field"] == field
