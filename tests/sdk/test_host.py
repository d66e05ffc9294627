"""The plugin host through its services: installation, settings, delivery, isolation.

Features P-02 to P-05."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from core.customers.service import create_customer
from core.db import db
from core.errors import Conflict, ValidationError
from core.plugins import service
from core.plugins.dispatch import contributions, failure_limit, flush_failures
from core.plugins.models import EventDelivery, PluginError, PluginInstallation, PluginKeyValue
from plugin_sdk import SettingsInvalid
from tests.conftest import events_of
from tests.sdk.sample_plugins import Broken, Guestbook, NeedsGuestbook

SETTINGS = {"greeting": "Selamat datang", "api_key": "sk-live-TOPSECRET-123"}


@pytest.fixture
def guestbook(register_plugin):
    return register_plugin(Guestbook)


@pytest.fixture
def broken(register_plugin):
    return register_plugin(Broken)


def kv(store, plugin_id, key):
    return db.session.scalar(sa.select(PluginKeyValue.value).where(
        PluginKeyValue.store_id == store.id, PluginKeyValue.plugin_id == plugin_id,
        PluginKeyValue.key == key))


def new_customer(store, email="new@example.com"):
    customer = create_customer(store, {"email": email})
    db.session.commit()
    return customer


# --- installing and configuring ---------------------------------------------------------------


def test_install_needs_consent_to_the_permissions(store, guestbook):
    with pytest.raises(ValidationError) as info:
        service.install(store, "guestbook", consent=False)
    assert info.value.field == "consent" and "customers:read" in info.value.message
    installation = service.install(store, "guestbook", consent=True)
    assert installation.status == "disabled"
    assert installation.granted_permissions == ["customers:read"]
    with pytest.raises(Conflict):
        service.install(store, "guestbook", consent=True)


def test_settings_are_validated_per_field(store, guestbook):
    service.install(store, "guestbook", consent=True)
    with pytest.raises(SettingsInvalid) as info:
        service.save_settings(store, "guestbook", {"greeting": "", "colour": "red"})
    assert set(info.value.errors) == {"greeting", "api_key", "colour"}
    with pytest.raises(ValidationError) as info:
        service.enable(store, "guestbook")
    assert "not configured" in info.value.message


def test_secrets_are_encrypted_at_rest_and_a_blank_keeps_them(store, guestbook):
    service.install(store, "guestbook", consent=True)
    service.save_settings(store, "guestbook", SETTINGS)
    db.session.commit()
    raw = db.session.execute(sa.text(
        "SELECT settings FROM plugin_installations WHERE plugin_id = 'guestbook'")).scalar_one()
    assert "TOPSECRET" not in str(raw)
    service.save_settings(store, "guestbook", {"greeting": "Hi", "api_key": ""})
    db.session.commit()
    installation = service.get_installation(store, "guestbook")
    settings = service.decrypted_settings(guestbook, installation)
    assert settings["api_key"] == SETTINGS["api_key"] and settings["greeting"] == "Hi"
    assert settings["colour"] == "#336699"


def test_requires_refuses_enabling_until_the_requirement_is_enabled(store, install,
                                                                     register_plugin):
    register_plugin(Guestbook)
    register_plugin(NeedsGuestbook)
    service.install(store, "needs_guestbook", consent=True)
    with pytest.raises(Conflict) as info:
        service.enable(store, "needs_guestbook")
    assert "Guestbook" in info.value.message
    install("guestbook", **SETTINGS)
    assert service.enable(store, "needs_guestbook").status == "enabled"


def test_unknown_plugin_is_not_found(store):
    from core.errors import NotFound

    with pytest.raises(NotFound):
        service.install(store, "nope", consent=True)


# --- events reach plugins ---------------------------------------------------------------------


def test_event_reaches_the_plugin_once_even_when_delivered_twice(store, guestbook, install,
                                                                  deliver_events):
    install("guestbook", **SETTINGS)
    customer = new_customer(store)
    [delivery] = db.session.scalars(sa.select(EventDelivery)).all()
    assert (delivery.plugin_id, delivery.hook, delivery.status) == (
        "guestbook", "on_customer_created", "pending")

    deliver_events(duplicate=True)
    assert kv(store, "guestbook", "signups") == 1
    [signed] = events_of(store, "guestbook.signed")
    assert signed.customer_id == customer.id and signed.actor == "plugin:guestbook"


def test_a_rolled_back_change_makes_no_delivery(store, guestbook, install):
    install("guestbook", **SETTINGS)
    create_customer(store, {"email": "gone@example.com"})
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EventDelivery)) == 0


def test_plugin_enabled_in_one_store_is_never_called_for_another(store, other_store, guestbook,
                                                                   install, deliver_events):
    install("guestbook", **SETTINGS)
    new_customer(other_store)
    assert deliver_events() == 0
    assert kv(other_store, "guestbook", "signups") is None
    assert contributions(other_store, "storefront_widgets", page="home") == []
    [widget] = contributions(store, "storefront_widgets", page="home")
    assert widget.plugin_id == "guestbook" and "Selamat datang" in widget.html


def test_disabled_plugins_are_not_in_the_store_view(store, guestbook, broken, install):
    install("guestbook", **SETTINGS)
    install("broken", enable=False)
    view = service.store_view(store)
    assert [pid for pid, _ in view.implementations("storefront_widgets")] == ["guestbook"]
    assert view.implementations("on_event") == []


# --- isolation --------------------------------------------------------------------------------


def test_a_raising_widget_hook_is_skipped_and_recorded(store, guestbook, broken, install):
    install("guestbook", **SETTINGS)
    install("broken")
    widgets = contributions(store, "storefront_widgets", page="home")
    assert [w.plugin_id for w in widgets] == ["guestbook"]
    flush_failures()
    [error] = db.session.scalars(sa.select(PluginError)).all()
    assert (error.plugin_id, error.hook) == ("broken", "storefront_widgets")
    assert "boom in storefront_widgets" in error.message


def test_a_plugin_that_keeps_failing_is_suspended_in_that_store(store, broken, install):
    install("broken")
    for _ in range(failure_limit()):
        contributions(store, "storefront_widgets", page="home")
    flush_failures()
    installation = service.get_installation(store, "broken")
    db.session.refresh(installation)
    assert installation.status == "suspended"
    assert "boom in storefront_widgets" in installation.suspended_reason
    assert service.store_view(store).implementations("storefront_widgets") == []


def test_failed_delivery_rolls_back_the_plugins_writes_and_retries(store, guestbook, broken,
                                                                   install, deliver_events):
    install("guestbook", **SETTINGS)
    install("broken")
    new_customer(store)
    deliver_events()
    assert kv(store, "guestbook", "signups") == 1  # the other plugin was not held up
    assert kv(store, "broken", "half-written") is None
    failed = db.session.scalar(sa.select(EventDelivery).where(EventDelivery.plugin_id == "broken"))
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert "boom in on_customer_created" in failed.last_error
    assert failed.next_attempt_at > failed.created_at
    assert db.session.scalar(sa.select(PluginInstallation.failure_count).where(
        PluginInstallation.plugin_id == "broken")) == 1


def test_permissions_are_enforced_by_the_context(store, register_plugin, install,
                                                 deliver_events):
    register_plugin(Guestbook)
    register_plugin(NeedsGuestbook)
    install("guestbook", **SETTINGS)
    install("needs_guestbook")
    customer = new_customer(store)
    deliver_events()
    delivery = db.session.scalar(sa.select(EventDelivery).where(
        EventDelivery.plugin_id == "needs_guestbook"))
    assert "was not granted 'customers:write'" in delivery.last_error
    db.session.refresh(customer)
    assert customer.first_name == ""


def test_secrets_never_reach_log_lines(store, guestbook, install, deliver_events, caplog):
    install("guestbook", **SETTINGS)
    new_customer(store)
    with caplog.at_level(logging.INFO):
        deliver_events()
    assert "welcomed" in caplog.text
    assert "TOPSECRET" not in caplog.text and "[redacted]" in caplog.text


# --- uninstall -------------------------------------------------------------------------------


def test_uninstall_asks_then_removes_the_plugins_data_for_that_store(
        store, other_store, guestbook, install, deliver_events):
    install("guestbook", **SETTINGS)
    install("guestbook", into=other_store, **SETTINGS)
    new_customer(store)
    new_customer(other_store)
    deliver_events()
    with pytest.raises(ValidationError):
        service.uninstall(store, "guestbook", confirm=False)
    service.uninstall(store, "guestbook", confirm=True)
    db.session.commit()
    assert kv(store, "guestbook", "signups") is None
    assert kv(other_store, "guestbook", "signups") == 1
    remaining = db.session.scalars(sa.select(EventDelivery.store_id)).all()
    assert set(remaining) == {other_store.id}
    assert contributions(store, "storefront_widgets", page="home") == []


def test_upgrade_with_wider_permissions_waits_for_consent(store, register_plugin, install):
    register_plugin(Guestbook)
    install("guestbook", **SETTINGS)

    class GuestbookTwo(Guestbook):
        version = "2.0.0"
        permissions = ("customers:read", "customers:write")

    register_plugin(GuestbookTwo)
    assert service.reconcile(store) == ["guestbook"]
    db.session.commit()
    installation = service.get_installation(store, "guestbook")
    assert installation.version == "2.0.0"
    assert installation.granted_permissions == ["customers:read"]
    assert service.store_view(store).installations["guestbook"].granted_permissions == {
        "customers:read"}
    service.grant_pending_permissions(store, "guestbook")
    db.session.commit()
    assert set(service.store_view(store).installations["guestbook"].granted_permissions) == {
        "customers:read", "customers:write"}


def test_a_blank_required_secret_is_missing_not_empty(store, guestbook):
    service.install(store, "guestbook", consent=True)
    with pytest.raises(SettingsInvalid) as info:
        service.save_settings(store, "guestbook", {"greeting": "Hi", "api_key": ""})
    assert "api_key" in info.value.errors


def test_only_failed_deliveries_can_be_retried(store, guestbook, install, deliver_events):
    install("guestbook", **SETTINGS)
    new_customer(store)
    deliver_events()
    done = db.session.scalar(sa.select(EventDelivery))
    with pytest.raises(Conflict):
        service.retry_failed_delivery(store, "guestbook", done.id)


@pytest.mark.usefixtures("committing_db")
def test_kv_increment_loses_no_update_under_concurrency(app, register_plugin):
    import threading

    from core.plugins.context import context_for
    from core.plugins.manager import InstalledState
    from core.stores.models import Store
    from tests.conftest import make_store

    register_plugin(Guestbook)
    store_id = make_store("counting").id
    db.session.rollback()
    state = InstalledState("guestbook", "enabled", frozenset(), {})
    errors = []

    def bump() -> None:
        with app.app_context():
            try:
                for _ in range(15):
                    ctx = context_for(db.session.get(Store, store_id), "guestbook", state)
                    ctx.kv.increment("hits")
                    db.session.commit()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=bump) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    store = db.session.get(Store, store_id)
    assert kv(store, "guestbook", "hits") == 45
