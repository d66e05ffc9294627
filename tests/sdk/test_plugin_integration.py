"""Plugins in the core's features: customer filters, privacy export and erasure (P-04, C-13)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from core.customers import service as customers
from core.customers.service import CustomerFilter
from core.db import db
from core.errors import Conflict, ValidationError
from core.orders import service as orders
from core.plugins import service as plugins
from plugin_sdk import Plugin, hookimpl
from tests.sdk.sample_plugins import StampCard, Stamps, StampsBase


@pytest.fixture(scope="module")
def stamps_table(app):
    # Created before any test transaction opens; a real plugin gets it from `kedai db upgrade`.
    with app.app_context():
        StampsBase.metadata.create_all(db.engine)
    yield
    with app.app_context():
        StampsBase.metadata.drop_all(db.engine)


@pytest.fixture
def stamps(stamps_table, register_plugin, install):
    register_plugin(Stamps)
    install("stamps")


class Hoarder(Plugin):
    """Cannot let go of its data."""

    id = "hoarder"
    name = "Hoarder"
    version = "1.0.0"
    category = "analytics"

    @hookimpl
    def erase_customer_data(self, ctx: Any, customer_id: int) -> None:
        raise RuntimeError("the remote service is down")


def buy(store, customer, times=1):
    for _ in range(times):
        order = orders.create_order(store, customer_id=customer.id,
                                    lines=[{"title": "Tea", "unit_price": 500, "quantity": 1}])
        orders.mark_paid(store, order)
    db.session.commit()


@pytest.mark.usefixtures("stamps")
def test_a_plugin_filter_narrows_the_customer_list(store, deliver_events):
    regular = customers.create_customer(store, {"email": "regular@example.com"})
    once = customers.create_customer(store, {"email": "once@example.com"})
    db.session.commit()
    buy(store, regular, 3)
    buy(store, once, 1)
    deliver_events(duplicate=True)
    page = customers.search_customers(store, CustomerFilter(plugin={"stamps.min": "2"}))
    assert [c.email for c in page.items] == ["regular@example.com"]
    assert [s.key for s in customers.plugin_filters(store)] == ["stamps.min"]
    with pytest.raises(ValidationError) as info:
        customers.search_customers(store, CustomerFilter(plugin={"nope": "1"}))
    assert info.value.field == "plugin.nope"


@pytest.mark.usefixtures("stamps")
def test_plugin_filters_vanish_when_the_plugin_is_disabled(store):
    plugins.disable(store, "stamps")
    db.session.commit()
    assert customers.plugin_filters(store) == []
    with pytest.raises(ValidationError):
        customers.search_customers(store, CustomerFilter(plugin={"stamps.min": "1"}))


@pytest.mark.usefixtures("stamps")
def test_privacy_export_and_erasure_reach_the_plugin(store, customer, deliver_events):
    buy(store, customer, 2)
    deliver_events()
    data = customers.export_customer_data(store, customer)
    assert data["plugins"] == {"stamps": {"stamps": 2}}
    customers.erase_customer(store, customer)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StampCard)) == 0
    assert customer.email is None


def test_erasure_is_refused_whole_when_a_plugin_fails(store, customer, register_plugin,
                                                      install):
    register_plugin(Hoarder)
    install("hoarder")
    with pytest.raises(Conflict) as info:
        customers.erase_customer(store, customer)
    assert "nothing was erased" in info.value.message
    assert "remote service is down" in info.value.message
    db.session.rollback()
    assert customers.get_customer(store, customer.id).email == "mei@example.com"
