"""Schemathesis against ``/api/v1/openapi.json``: every operation, with valid and invalid input
generated from the description, answers without a server error and as the description says
(status code, content type, body schema).

Marked ``schemathesis``: CI runs it on the SQLite leg only (it takes about a minute).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from core.customers import service as customers
from core.db import db
from core.orders import service as orders
from core.webhooks import service as webhooks
from tests.conftest import api_token

pytestmark = pytest.mark.schemathesis

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(app, session, store):
    """The description the app serves, with a few rows so that small ids name something."""
    from core.auth.tokens import SCOPES

    customer = customers.create_customer(store, {"email": "mei@example.com"}, tags=["VIP"])
    order = orders.create_order(store, customer_id=customer.id,
                                lines=[{"title": "Tea", "unit_price": 3800, "quantity": 2}])
    orders.mark_paid(store, order)
    customers.define_field(store, key="branch", label="Branch", field_type="text")
    webhooks.create_endpoint(store, "https://hooks.example.com/k", ["*"])
    customers.create_customer(store, {"email": "second@example.com"})
    db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.token = api_token(store, *SCOPES)  # every scope: scopes have their own tests
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_api_answers_as_described(case, api_schema):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_schema.token}"},
                           checks=CHECKS)
