"""The issue's "done when": a sample plugin written only against ``plugin_sdk`` is installed,
configured through its generated settings page, receives events, adds a widget to a storefront
page, is disabled, re-enabled and uninstalled, with the admin and the storefront driven over
HTTP in one test."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.db import db
from core.plugins.models import EventDelivery, PluginInstallation, PluginKeyValue
from tests.conftest import events_of
from tests.sdk.sample_plugins import Guestbook
from tests.sdk.test_admin_marketplace import (  # noqa: F401 - the fixture is used by name
    MARKET,
    SECRET,
    controls,
    each_request_starts_with_an_empty_g,
    listed,
    post,
    text,
)


def guestbook_rows(store: Any) -> dict[str, int]:
    """How many rows the plugin has in the host's tables for ``store``."""
    db.session.expire_all()
    counts = {}
    for model in (PluginInstallation, PluginKeyValue, EventDelivery):
        counts[model.__tablename__] = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(model)
            .where(model.store_id == store.id, model.plugin_id == "guestbook")
        )
    return counts


def test_guestbook_from_marketplace_to_uninstall(
    admin, store, storefront, register_plugin, deliver_events
):
    register_plugin(Guestbook)
    seen: list[str] = []  # every admin page, to prove the API key never reaches one

    def page(path: str) -> Any:
        response = admin.get(path)
        assert response.status_code == 200, path
        seen.append(response.text)
        return response

    def shopper_signs_up(email: str, name: str) -> dict[str, Any]:
        response = storefront.post(
            "/api/register", json={"email": email, "password": "s3cret-pass", "first_name": name}
        )
        assert response.status_code == 201
        return response.json

    def widgets(**headers: str) -> list[dict[str, Any]]:
        response = storefront.get("/widgets?page=home", headers=headers)
        assert response.status_code == 200
        return response.json["widgets"]

    # Found in the marketplace, installed with consent to what it asks for.
    assert listed(page(MARKET + "/?q=greets")) == ["guestbook"]
    assert "See customers: names, contact details" in text(page(MARKET + "/guestbook"))
    installed = post(admin, MARKET + "/guestbook/install", consent="yes")
    assert installed.status_code == 302 and installed.location.endswith("/guestbook/settings")

    # Configured through the page the host generates from its settings schema.
    form = controls(page(MARKET + "/guestbook/settings"))
    assert form["setting-api_key"]["type"] == "password"
    assert form["setting-colour"]["type"] == "color"
    assert form["setting-loud"]["type"] == "checkbox"
    assert form["setting-mode"]["tag"] == "select"
    saved = post(
        admin,
        MARKET + "/guestbook/settings",
        greeting="Selamat datang",
        api_key=SECRET,
        colour=form["setting-colour"]["value"],
        mode="warm",
    )
    assert saved.status_code == 302
    assert "Settings of Guestbook saved." in text(page(saved.location))

    # Enabled; a shopper signs up on the storefront and the plugin receives the event.
    enabled = post(admin, MARKET + "/guestbook/enable")
    assert "Guestbook is enabled." in text(page(enabled.location))
    mei = shopper_signs_up("mei@example.com", "Mei")
    assert deliver_events() == 1
    [signed] = events_of(store, "guestbook.signed")
    assert signed.customer_id == mei["customer"]["id"]
    assert "signups so far: 1" in page(f"/admin/customers/{mei['customer']['id']}").text
    health = page(MARKET + "/guestbook/health").text
    assert 'data-status="done"' in health and "customer.created" in health

    # Its widget is on the storefront page, for everyone and, personally, for Mei.
    [widget] = widgets()
    assert widget["plugin"] == "guestbook" and widget["slot"] == "header"
    assert "Selamat datang!" in widget["html"]
    [personal] = widgets(Authorization=f"Bearer {mei['token']}")
    assert "Selamat datang, Mei!" in personal["html"]

    # Disabled: the widget is gone and events no longer reach it.
    disabled = post(admin, MARKET + "/guestbook/disable")
    assert "Guestbook is disabled." in text(page(disabled.location))
    assert widgets() == []
    shopper_signs_up("ali@example.com", "Ali")
    deliver_events()
    assert len(events_of(store, "guestbook.signed")) == 1
    assert guestbook_rows(store)["plugin_deliveries"] == 1
    assert "signups so far" not in page(f"/admin/customers/{mei['customer']['id']}").text

    # Re-enabled: back on the page and receiving events again.
    post(admin, MARKET + "/guestbook/enable")
    [widget] = widgets()
    assert widget["plugin"] == "guestbook"
    siti = shopper_signs_up("siti@example.com", "Siti")
    assert deliver_events() == 1
    assert [e.customer_id for e in events_of(store, "guestbook.signed")] == [
        mei["customer"]["id"],
        siti["customer"]["id"],
    ]
    assert "signups so far: 2" in page(f"/admin/customers/{siti['customer']['id']}").text

    # Uninstalled after the question: its data in this store is gone, and so is the widget.
    assert guestbook_rows(store) == {
        "plugin_installations": 1,
        "plugin_kv": 1,
        "plugin_deliveries": 2,
    }
    assert "Uninstall Guestbook?" in text(page(MARKET + "/guestbook/uninstall"))
    kept = post(admin, MARKET + "/guestbook/uninstall")
    assert kept.status_code == 200 and guestbook_rows(store)["plugin_installations"] == 1
    removed = post(admin, MARKET + "/guestbook/uninstall", confirm="yes")
    assert removed.status_code == 302
    assert guestbook_rows(store) == {
        "plugin_installations": 0,
        "plugin_kv": 0,
        "plugin_deliveries": 0,
    }
    assert widgets() == []
    assert 'id="consent"' in page(MARKET + "/guestbook").text
    assert "Installed" not in text(page(MARKET + "/?q=guest"))

    assert seen and all(SECRET not in html for html in seen)
