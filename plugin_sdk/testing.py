"""The Kedai test harness: a pytest plugin shipped with the SDK (entry point ``pytest11``).

Plugin authors get a throw-away app and store and the story-like fixtures the core's own tests
use: ``store``, ``customer``, ``paid_order``, ``install("my_plugin", setting=...)``,
``deliver_events()``, ``storefront`` and ``admin`` clients.

One schema per test session (migrated with Alembic, so the migrations are tested too); each test
runs in a transaction that is rolled back. ``KEDAI_TEST_DATABASE_URL`` picks the database
(default: a SQLite file in a temporary folder; on PostgreSQL each run gets a schema of its own).
Tests that need commits seen by several connections or threads use ``committing_db``, which
empties the tables afterwards instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g, request_started
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession

from core.app import create_app
from core.db import Base, db
from core.stores.models import StaffUser, Store

TEST_DB_URL = os.environ.get("KEDAI_TEST_DATABASE_URL", "")
STAFF_PASSWORD = "correct horse battery"  # noqa: S105 - the test staff login


def pytest_report_header() -> str:
    return f"kedai database: {TEST_DB_URL or 'sqlite (temporary file)'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    os.environ["KEDAI_INSTANCE_PATH"] = str(instance)
    os.environ.setdefault("KEDAI_SECRET_KEY", "test-secret-key-not-for-production")
    # The local fake servers listen on loopback, which outbound requests refuse by default.
    os.environ.setdefault("KEDAI_OUTBOUND_ALLOW", "127.0.0.0/8,::1/128")
    url = TEST_DB_URL or f"sqlite:///{Path(instance) / 'test.db'}"
    schema = None
    if url.startswith("postgresql"):
        # A schema of our own, so test runs sharing one PostgreSQL database never collide.
        schema = f"kedai_test_{os.getpid()}"
        url = _with_search_path(url, schema)
        _create_schema(url, schema)
    os.environ["DATABASE_URL"] = url
    app = create_app({"TESTING": True, "KEDAI_START_WORKER": False, "WTF_CSRF_ENABLED": True})
    # The test's own app context stays pushed during requests, so Flask reuses it and its
    # ``g``: empty ``g`` at each request, as a real server starts every request afresh.
    request_started.connect(_fresh_g, app)
    with app.app_context():
        from core.migrate import upgrade_all

        upgrade_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if schema:
        _drop_schema(url, schema)


def _fresh_g(sender: Flask, **extra: Any) -> None:
    g.__dict__.clear()


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def _create_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()


def _drop_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    engine.dispose()


@pytest.fixture
def is_postgres(app: Flask) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


class _ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy picks engines by table; in a test everything uses one connection."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.bind


@pytest.fixture(autouse=True)
def _fresh_plugin_caches() -> Iterator[None]:
    """Rolled-back tests reuse store ids and versions: drop per-store caches between tests."""
    from core.plugins.manager import host
    from core.plugins.storefront import rendered

    host.invalidate()
    rendered.clear()
    yield


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    """A session whose every commit is a savepoint of one transaction rolled back at the end."""
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        scoped = db._make_scoped_session(
            {
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
                "class_": _ConnectionBoundSession,
            }
        )
        original = db.session
        db.session = scoped
        try:
            yield scoped
        finally:
            scoped.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def committing_db(app: Flask) -> Iterator[None]:
    """Real commits, visible to other connections and threads; tables emptied afterwards."""
    with app.app_context():
        yield
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


def make_store(slug: str = "acme", **kwargs: Any) -> Store:
    from core.stores.service import create_store

    store = create_store(slug, kwargs.pop("name", slug.title()), **kwargs)
    db.session.commit()
    return store


@pytest.fixture
def store(session: Any) -> Store:
    return make_store("acme", name="Acme Tea")


@pytest.fixture
def other_store(session: Any) -> Store:
    return make_store("rival", name="Rival Tea")


def make_staff(store: Store, email: str | None = None, role: str = "owner") -> StaffUser:
    from core.stores.service import create_staff

    user = create_staff(
        store,
        email or f"{role}@{store.slug}.test",
        STAFF_PASSWORD,
        name=f"{store.name} {role}",
        role=role,
    )
    db.session.commit()
    return user


@pytest.fixture
def staff(store: Store) -> StaffUser:
    return make_staff(store)


@pytest.fixture
def customer(store: Store) -> Any:
    from core.customers.service import create_customer

    result = create_customer(
        store,
        {
            "email": "mei@example.com",
            "first_name": "美玲",
            "last_name": "陳",
            "phone": "012-345 6789",
        },
    )
    db.session.commit()
    return result


@pytest.fixture
def paid_order(store: Store, customer: Any) -> Any:
    from core.orders.service import create_order, mark_paid

    order = create_order(
        store,
        customer_id=customer.id,
        lines=[{"sku": "TEA", "title": "Oolong", "unit_price": 3800, "quantity": 2}],
        shipping_total=800,
    )
    mark_paid(store, order)
    db.session.commit()
    return order


@pytest.fixture
def client(app: Flask, session: Any) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path``, read as a browser would."""
    import re

    page = client.get(path)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or re.search(
        r'name="csrf_token" value="([^"]+)"', page.text
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def admin(client: FlaskClient, staff: StaffUser) -> FlaskClient:
    """A test client logged in as the store's owner, through the real login form."""
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login",
        data={"email": staff.email, "password": STAFF_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.text
    return client


def api_token(store: Store, *scopes: str) -> str:
    from core.auth.tokens import create_token

    _, plain = create_token(store, list(scopes) or ["customers:read"])
    db.session.commit()
    return plain


@pytest.fixture
def api(client: FlaskClient, store: Store) -> Any:
    """A client for ``/api/v1`` holding a token with every scope of ``store``."""
    from core.auth.tokens import SCOPES

    token = api_token(store, *SCOPES)

    class ApiClient:
        headers = {"Authorization": f"Bearer {token}"}

        def __getattr__(self, method: str) -> Any:
            call = getattr(client, method)
            return lambda path, **kw: call(
                "/api/v1" + path, headers={**self.headers, **kw.pop("headers", {})}, **kw
            )

    return ApiClient()


def events_of(store: Store, type: str | None = None) -> list[Any]:
    from core.events.models import Event

    query = sa.select(Event).where(Event.store_id == store.id)
    if type:
        query = query.where(Event.type == type)
    return list(db.session.scalars(query.order_by(Event.seq)))


# --- plugins -----------------------------------------------------------------------------------


@pytest.fixture
def register_plugin(app: Flask) -> Iterator[Any]:
    """Add plugin classes to the host for one test: ``register_plugin(MyPlugin)``."""
    from core.plugins.manager import host

    added: list[str] = []

    def register(plugin_class: type) -> Any:
        if host.get(plugin_class.id) is not None:
            host.unregister(plugin_class.id)
        instance = host.register(plugin_class)
        added.append(plugin_class.id)
        return instance

    yield register
    for plugin_id in added:
        host.unregister(plugin_id)


@pytest.fixture
def install(store: Store) -> Any:
    """``install("rewards", earn_rate=2)``: install with consent, save settings, enable.

    ``enable=False`` leaves it disabled; ``into=other_store`` installs elsewhere.
    """
    from core.plugins import service

    def do_install(plugin_id: str, *, enable: bool = True, into: Store | None = None,
                   **settings: Any) -> Any:
        target = into or store
        installation = service.install(target, plugin_id, consent=True, actor="test")
        db.session.commit()
        if settings or service.plugin_or_404(plugin_id).settings_schema is not None:
            service.save_settings(target, plugin_id, settings)
            db.session.commit()
        if enable:
            service.enable(target, plugin_id)
            db.session.commit()
        return installation

    return do_install


@pytest.fixture
def deliver_events(app: Flask) -> Any:
    """Run every due event delivery (and the jobs they cause) until none is left.

    ``duplicate=True`` delivers each event twice and ``reorder=True`` delivers in reverse
    order, so a plugin can prove its handlers idempotent and order-independent. Returns the
    number of deliveries run.
    """
    import sqlalchemy as sa

    from core.jobs.service import run_due_jobs
    from core.plugins import delivery
    from core.plugins.dispatch import flush_failures
    from core.plugins.models import EventDelivery

    def run(*, duplicate: bool = False, reorder: bool = False, max_rounds: int = 50) -> int:
        total = 0
        for _ in range(max_rounds):
            ids = delivery.due_delivery_ids(limit=1000)
            if reorder:
                ids.reverse()
            ran = 0
            for delivery_id in ids:
                status = delivery.deliver(delivery_id)
                ran += status is not None
                if duplicate and status == "done":
                    db.session.execute(sa.update(EventDelivery)
                                       .where(EventDelivery.id == delivery_id)
                                       .values(status="pending", lease_until=None))
                    db.session.commit()
                    delivery.deliver(delivery_id)
                    ran += 1
            ran += run_due_jobs()
            flush_failures()
            total += ran
            if not ran:
                break
        return total

    return run


@pytest.fixture
def storefront(client: FlaskClient, store: Store) -> Any:
    """A client for the store's storefront routes: ``storefront.get("/widgets?page=home")``
    requests ``/storefront/<store>/widgets?page=home``."""

    class StorefrontClient:
        prefix = f"/storefront/{store.slug}"

        def __getattr__(self, method: str) -> Any:
            call = getattr(client, method)
            return lambda path, **kw: call(self.prefix + path, **kw)

    return StorefrontClient()
