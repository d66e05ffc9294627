"""Customer rules (C-01 to C-11, C-13) through the service layer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from core.customers import service
from core.customers.service import CustomerFilter
from core.db import db
from core.errors import Conflict, Forbidden, NotFound, ValidationError
from core.orders import service as orders
from tests.conftest import events_of


def add(store, email, **data):
    customer = service.create_customer(store, {"email": email, **data})
    db.session.commit()
    return customer


def paid(store, customer, amount, placed_at=None):
    order = orders.create_order(
        store, customer_id=customer.id, placed_at=placed_at,
        lines=[{"title": "Tea", "unit_price": amount, "quantity": 1}],
    )
    orders.mark_paid(store, order)
    db.session.commit()
    return order


def emails(page) -> list[str]:
    return [c.email for c in page.items]


# --- profile ---------------------------------------------------------------------------------


def test_create_normalises_email_and_phone_and_records_event(store):
    customer = add(store, "  Mei@Example.COM ", phone="012-345 6789", first_name=" 美玲 ")
    assert customer.email == "mei@example.com"
    assert customer.phone == "+60123456789"
    assert customer.first_name == "美玲"
    [event] = events_of(store, "customer.created")
    assert event.customer_id == customer.id
    assert event.payload["customer"]["phone"] == "+60123456789"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": None, "phone": None}, "email"),
        ({"email": "a@b.co", "phone": "12"}, "phone"),
        ({"email": "a@b.co", "birthday": "1990-02-30"}, "birthday"),
        ({"email": "a@b.co", "favourite": "tea"}, "favourite"),
    ],
)
def test_bad_profile_data_names_the_field(store, data, field):
    with pytest.raises(ValidationError) as info:
        service.create_customer(store, data)
    assert info.value.field == field


def test_email_is_unique_per_store_but_not_across_stores(store, other_store):
    add(store, "same@example.com")
    with pytest.raises(Conflict) as info:
        service.create_customer(store, {"email": "SAME@example.com"})
    assert info.value.field == "email"
    db.session.rollback()
    assert add(other_store, "same@example.com").store_id == other_store.id


def test_update_records_only_what_changed(store, customer):
    service.update_customer(store, customer, {"first_name": "美玲", "last_name": "林"})
    db.session.commit()
    [event] = events_of(store, "customer.updated")
    assert event.payload["changed"] == ["last_name"]
    service.update_customer(store, customer, {"last_name": "林"})
    db.session.commit()
    assert len(events_of(store, "customer.updated")) == 1


def test_get_customer_of_another_store_is_not_found(store, other_store, customer):
    with pytest.raises(NotFound):
        service.get_customer(other_store, customer.id)


# --- search, filters, sort (C-01) ------------------------------------------------------------


@pytest.fixture
def shoppers(store):
    now = datetime.now(UTC)
    alice = add(store, "alice@example.com", first_name="Alice", last_name="Tan",
                phone="+60123000001")
    bob = add(store, "bob@example.com", first_name="Bob", last_name="Lim")
    chen = add(store, "chen@example.com", first_name="志明", last_name="陳")
    paid(store, alice, 50_000, placed_at=now - timedelta(days=400))
    paid(store, alice, 20_000, placed_at=now - timedelta(days=10))
    paid(store, bob, 5_000, placed_at=now - timedelta(days=200))
    return alice, bob, chen


def test_search_by_name_email_and_phone(store, shoppers):
    assert emails(service.search_customers(store, CustomerFilter(q="tan"))) == [
        "alice@example.com"]
    assert emails(service.search_customers(store, CustomerFilter(q="陳志明"))) == [
        "chen@example.com"]
    assert emails(service.search_customers(store, CustomerFilter(q="BOB@"))) == [
        "bob@example.com"]
    assert emails(service.search_customers(store, CustomerFilter(q="0123000001"))) == [
        "alice@example.com"]


def test_search_treats_like_wildcards_literally(store, shoppers):
    assert emails(service.search_customers(store, CustomerFilter(q="%"))) == []
    assert emails(service.search_customers(store, CustomerFilter(q="_"))) == []


def test_filters_on_spend_orders_and_last_order(store, shoppers):
    alice, _bob, _chen = shoppers
    assert alice.total_spent == 70_000 and alice.orders_count == 2
    spent = service.search_customers(store, CustomerFilter(spent_min=10_000))
    assert emails(spent) == ["alice@example.com"]
    at_least_one = service.search_customers(store, CustomerFilter(orders_min=1), sort="spent")
    assert emails(at_least_one) == ["alice@example.com", "bob@example.com"]
    never = service.search_customers(store, CustomerFilter(orders_max=0))
    assert emails(never) == ["chen@example.com"]
    lapsed = service.search_customers(
        store, CustomerFilter(last_order_before=date.today() - timedelta(days=100)))
    assert emails(lapsed) == ["bob@example.com"]


def test_filters_combine_and_sort_with_nulls_last(store, shoppers):
    combined = CustomerFilter(orders_min=1, spent_max=10_000, q="lim")
    assert emails(service.search_customers(store, combined)) == ["bob@example.com"]
    by_last_order = service.search_customers(store, CustomerFilter(), sort="last_order")
    assert emails(by_last_order) == ["alice@example.com", "bob@example.com", "chen@example.com"]
    ascending = service.search_customers(store, CustomerFilter(), sort="spent", descending=False)
    assert emails(ascending) == ["chen@example.com", "bob@example.com", "alice@example.com"]


def test_filter_by_tag_blacklist_and_custom_field(store, shoppers):
    _alice, bob, chen = shoppers
    service.define_field(store, key="branch", label="Branch", field_type="dropdown",
                         options=["Penang", "Taipei"])
    service.update_customer(store, chen, {}, tags=["VIP"], custom_fields={"branch": "Taipei"})
    service.blacklist(store, bob, "chargebacks")
    db.session.commit()
    vip = service.list_tags(store)[0]
    assert emails(service.search_customers(store, CustomerFilter(tag_ids=[vip.id]))) == [
        "chen@example.com"]
    assert emails(service.search_customers(store, CustomerFilter(blacklisted=True))) == [
        "bob@example.com"]
    by_field = CustomerFilter(field_key="branch", field_value="Taipei")
    assert emails(service.search_customers(store, by_field)) == ["chen@example.com"]
    assert emails(service.search_customers(store, CustomerFilter(field_key="branch",
                                                                 field_value="Penang"))) == []


def test_pagination_is_stable(store):
    for n in range(7):
        add(store, f"p{n}@example.com")
    first = service.search_customers(store, CustomerFilter(), page=1, per_page=3)
    third = service.search_customers(store, CustomerFilter(), page=3, per_page=3)
    assert first.total == 7 and first.pages == 3
    assert len(third.items) == 1
    seen = {c.id for p in (1, 2, 3)
            for c in service.search_customers(store, CustomerFilter(), page=p, per_page=3).items}
    assert len(seen) == 7


def test_search_never_crosses_stores(store, other_store, shoppers):
    add(other_store, "alice@example.com", first_name="Alice")
    found = service.search_customers(other_store, CustomerFilter(q="alice"))
    assert [c.store_id for c in found.items] == [other_store.id]


# --- tags and bulk actions (C-02, C-03) ------------------------------------------------------


def test_tags_create_rename_describe_delete(store, customer):
    tag = service.create_tag(store, "  Wholesale  buyers ", "Trade")
    db.session.commit()
    assert tag.name == "Wholesale buyers"
    with pytest.raises(Conflict):
        service.create_tag(store, "Wholesale buyers")
    db.session.rollback()
    service.update_customer(store, customer, {}, tags=["Wholesale buyers"])
    service.update_tag(store, tag, name="Trade", description="B2B")
    db.session.commit()
    assert [t.name for t in service.get_customer(store, customer.id).tags] == ["Trade"]
    service.delete_tag(store, tag)
    db.session.commit()
    assert service.get_customer(store, customer.id).tags == []


def test_bulk_tag_a_whole_filter_result_and_remove_again(store, shoppers):
    alice, bob, _chen = shoppers
    changed = service.bulk_tag(store, CustomerFilter(orders_min=1), ["Buyer"])
    db.session.commit()
    assert changed == 2
    assert emails(service.search_customers(
        store, CustomerFilter(tag_ids=[service.list_tags(store)[0].id]), sort="name",
        descending=False)) == ["bob@example.com", "alice@example.com"]
    assert service.bulk_tag(store, CustomerFilter(orders_min=1), ["Buyer"]) == 0
    removed = service.bulk_tag(store, CustomerFilter(ids=[alice.id]), ["Buyer"], add=False)
    db.session.commit()
    assert removed == 1
    assert [t.name for t in service.get_customer(store, bob.id).tags] == ["Buyer"]
    assert service.get_customer(store, alice.id).tags == []
    tagged_events = [e for e in events_of(store, "customer.updated")
                     if e.payload["changed"] == ["tags"]]
    assert len(tagged_events) == 3


def test_bulk_blacklist_on_selection(store, shoppers):
    alice, bob, _ = shoppers
    count = service.bulk_blacklist(store, CustomerFilter(ids=[alice.id, bob.id]), "fraud ring")
    db.session.commit()
    assert count == 2
    assert {e.customer_id for e in events_of(store, "customer.blacklisted")} == {alice.id, bob.id}


# --- custom fields (C-04) --------------------------------------------------------------------


def test_custom_field_values_are_validated_by_type(store, customer):
    service.define_field(store, key="since", label="Member since", field_type="date")
    service.define_field(store, key="size", label="Size", field_type="dropdown",
                         options=["S", "M", "L"], required=True, visibility="signup")
    db.session.commit()
    with pytest.raises(ValidationError) as info:
        service.update_customer(store, customer, {}, custom_fields={"since": "yesterday"})
    assert info.value.field == "fields.since"
    with pytest.raises(ValidationError) as info:
        service.update_customer(store, customer, {}, custom_fields={"size": "XXL"})
    assert "S, M, L" in info.value.message
    with pytest.raises(ValidationError) as info:
        service.update_customer(store, customer, {}, custom_fields={"colour": "red"})
    assert info.value.field == "fields.colour"
    db.session.rollback()
    service.update_customer(store, customer, {}, custom_fields={"since": "2020-01-31",
                                                                 "size": "M"})
    db.session.commit()
    assert service.get_customer(store, customer.id).field_value_map() == {
        "since": "2020-01-31", "size": "M"}


def test_required_fields_are_enforced_at_signup_only(store):
    service.define_field(store, key="size", label="Size", field_type="dropdown",
                         options=["S", "M"], required=True, visibility="signup")
    db.session.commit()
    with pytest.raises(ValidationError) as info:
        service.create_customer(store, {"email": "shop@example.com"},
                                enforce_required_fields=True)
    assert info.value.field == "fields.size"
    db.session.rollback()
    assert service.create_customer(store, {"email": "staff-added@example.com"}).id


def test_field_definitions_reject_bad_shapes(store):
    with pytest.raises(ValidationError):
        service.define_field(store, key="x", label="X", field_type="dropdown", options=[])
    with pytest.raises(ValidationError):
        service.define_field(store, key="Bad Key", label="X", field_type="text")
    with pytest.raises(ValidationError):
        service.define_field(store, key="x", label="X", field_type="colour")


# --- blacklist (C-05) ------------------------------------------------------------------------


def test_blacklisted_customer_cannot_log_in_or_order_until_reinstated(store):
    customer = service.create_customer(store, {"email": "b@example.com"}, password="s3cret-pass")
    service.blacklist(store, customer, "abusive")
    db.session.commit()
    assert customer.blacklist_reason == "abusive" and customer.blacklisted_at is not None
    with pytest.raises(Forbidden) as info:
        service.authenticate_customer(store, "b@example.com", "s3cret-pass")
    assert "blocked" in info.value.message
    with pytest.raises(Forbidden):
        orders.create_order(store, customer_id=customer.id,
                            lines=[{"title": "Tea", "unit_price": 100, "quantity": 1}])
    db.session.rollback()
    service.unblacklist(store, customer)
    db.session.commit()
    assert service.authenticate_customer(store, "b@example.com", "s3cret-pass").id == customer.id


def test_wrong_password_gives_the_same_answer_as_unknown_email(store):
    service.create_customer(store, {"email": "c@example.com"}, password="s3cret-pass")
    db.session.commit()
    with pytest.raises(Forbidden) as wrong:
        service.authenticate_customer(store, "c@example.com", "nope-nope")
    with pytest.raises(Forbidden) as unknown:
        service.authenticate_customer(store, "who@example.com", "nope-nope")
    assert wrong.value.message == unknown.value.message


# --- birthday (C-06) -------------------------------------------------------------------------


def test_customer_changes_own_birthday_at_most_once_a_year(store, customer):
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC)):
        service.change_own_birthday(store, customer, date(1990, 5, 17))
        db.session.commit()
    with time_machine.travel(datetime(2026, 12, 1, tzinfo=UTC)):
        with pytest.raises(Forbidden) as info:
            service.change_own_birthday(store, customer, date(1990, 5, 18))
        assert "2027-03-01" in info.value.message
    with time_machine.travel(datetime(2027, 3, 2, tzinfo=UTC)):
        service.change_own_birthday(store, customer, date(1990, 5, 18))
        db.session.commit()
    assert customer.birthday == date(1990, 5, 18)


def test_birthday_edit_refused_when_store_disallows(store, customer):
    store.customers_can_edit_birthday = False
    with pytest.raises(Forbidden):
        service.change_own_birthday(store, customer, date(1990, 5, 17))


# --- merging (C-09) --------------------------------------------------------------------------


def test_merge_moves_orders_tags_and_fills_gaps(store):
    keep = add(store, "keep@example.com", first_name="Mei")
    other = service.create_customer(store, {"email": "old@example.com", "phone": "+60123456789",
                                            "birthday": date(1991, 1, 2)}, tags=["VIP"])
    db.session.commit()
    paid(store, keep, 1_000)
    paid(store, other, 2_500)
    service.merge_customers(store, keep, other)
    db.session.commit()

    assert keep.orders_count == 2 and keep.total_spent == 3_500
    assert keep.phone == "+60123456789" and keep.birthday == date(1991, 1, 2)
    assert [t.name for t in keep.tags] == ["VIP"]
    assert other.merged_into_id == keep.id and other.email is None
    assert other.orders_count == 0
    [merged] = events_of(store, "customer.merged")
    assert merged.payload["merged_customer_id"] == other.id
    assert merged.payload["orders_moved"] == 1
    moved = events_of(store, "order.customer_attached")
    assert [e.payload["previous_customer_id"] for e in moved] == [other.id]
    with pytest.raises(Conflict):
        service.update_customer(store, other, {"first_name": "x"})
    assert emails(service.search_customers(store, CustomerFilter())) == ["keep@example.com"]


def test_move_selected_orders(store):
    a, b = add(store, "a@example.com"), add(store, "b@example.com")
    first, second = paid(store, a, 100), paid(store, a, 200)
    assert service.move_orders(store, a, b, [second.id]) == 1
    db.session.commit()
    assert (a.total_spent, b.total_spent) == (100, 200)
    with pytest.raises(NotFound):
        service.move_orders(store, a, b, [second.id])
    assert first.customer_id == a.id


# --- quick contact (C-11) --------------------------------------------------------------------


def test_quick_contact_links(store, customer):
    assert service.whatsapp_link(customer, "你好 Mei & co") == (
        "https://wa.me/60123456789?text=%E4%BD%A0%E5%A5%BD%20Mei%20%26%20co")
    assert service.mailto_link(customer, "Your order", "Hi there") == (
        "mailto:mei@example.com?subject=Your%20order&body=Hi%20there")
    customer.phone = None
    assert service.whatsapp_link(customer) is None


# --- privacy (C-13) --------------------------------------------------------------------------


def test_export_holds_profile_orders_and_events(store, customer, paid_order):
    data = service.export_customer_data(store, customer)
    assert data["customer"]["email"] == "mei@example.com"
    assert [o["number"] for o in data["orders"]] == [paid_order.number]
    assert {e["type"] for e in data["events"]} >= {"customer.created", "order.paid"}


def test_erase_redacts_profile_orders_and_event_payloads(store, customer, paid_order):
    service.erase_customer(store, customer)
    db.session.commit()
    assert (customer.email, customer.phone, customer.first_name) == (None, None, "")
    assert paid_order.email is None
    assert customer.total_spent == paid_order.total  # the store's figures stay right
    payloads = [e.payload for e in events_of(store) if e.customer_id == customer.id]
    assert all(p == {"erased": True} for p in payloads[:-1])
    assert events_of(store)[-1].type == "customer.erased"
    text = str([e.payload for e in events_of(store)])
    assert "mei@example.com" not in text and "美玲" not in text
