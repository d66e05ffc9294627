"""Storefront embedding: the widget list, its caching, shopper tokens, embed.js (P-08)."""

from __future__ import annotations

import pytest

from core.customers.service import create_customer
from core.db import db
from core.plugins import service
from core.plugins.storefront import render_slot
from core.web.storefront import issue_shopper_token
from tests.sdk.sample_plugins import Broken, Guestbook

SETTINGS = {"greeting": "Selamat datang", "api_key": "sk-live-TOPSECRET-123"}


@pytest.fixture
def guestbook(register_plugin, install):
    register_plugin(Guestbook)
    return install("guestbook", **SETTINGS)


def test_anonymous_widget_list_is_shared_cacheable(storefront, guestbook):
    response = storefront.get("/widgets?page=home")
    assert response.status_code == 200
    [widget] = response.json["widgets"]
    assert widget["plugin"] == "guestbook" and widget["slot"] == "header"
    assert "Selamat datang!" in widget["html"]
    assert response.headers["Cache-Control"].startswith("public")
    assert response.headers["Vary"] == "Accept-Language"
    etag = response.headers["ETag"]
    again = storefront.get("/widgets?page=home", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_settings_change_changes_the_etag(store, storefront, guestbook):
    etag = storefront.get("/widgets?page=home").headers["ETag"]
    service.save_settings(store, "guestbook", {"greeting": "Hello again"})
    db.session.commit()
    response = storefront.get("/widgets?page=home", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert "Hello again" in response.json["widgets"][0]["html"]


def test_hostile_setting_is_escaped_in_widget_html(store, storefront, guestbook):
    service.save_settings(store, "guestbook", {"greeting": '</script><img src=x onerror=alert(1)>'})
    db.session.commit()
    html = storefront.get("/widgets?page=home").json["widgets"][0]["html"]
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_shopper_token_gives_a_private_personal_list(store, storefront, guestbook):
    customer = create_customer(store, {"email": "mei@example.com", "first_name": "Mei"})
    db.session.commit()
    token = issue_shopper_token(store, customer)
    response = storefront.get("/widgets?page=home", headers={"Authorization": f"Bearer {token}"})
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in response.headers
    assert "Selamat datang, Mei!" in response.json["widgets"][0]["html"]
    anonymous = storefront.get("/widgets?page=home")
    assert "Mei" not in anonymous.text


def test_a_token_from_another_store_is_ignored(store, other_store, client, guestbook, install):
    install("guestbook", into=other_store, **SETTINGS)
    customer = create_customer(store, {"email": "mei@example.com", "first_name": "Mei"})
    db.session.commit()
    token = issue_shopper_token(store, customer)
    response = client.get(f"/storefront/{other_store.slug}/widgets?page=home",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.headers["Cache-Control"].startswith("public")
    assert "Mei" not in response.text


def test_blacklisted_shopper_token_stops_working(store, storefront, guestbook):
    from core.customers.service import blacklist

    customer = create_customer(store, {"email": "mei@example.com", "first_name": "Mei"})
    db.session.commit()
    token = issue_shopper_token(store, customer)
    blacklist(store, customer, "fraud")
    db.session.commit()
    response = storefront.get("/widgets", headers={"Authorization": f"Bearer {token}"})
    assert "Mei" not in response.text


def test_a_failing_plugin_does_not_break_the_widget_list(storefront, guestbook, register_plugin,
                                                         install):
    register_plugin(Broken)
    install("broken")
    response = storefront.get("/widgets?page=home")
    assert response.status_code == 200
    assert [w["plugin"] for w in response.json["widgets"]] == ["guestbook"]


def test_unknown_store_answers_404_json(client):
    response = client.get("/storefront/nope/widgets")
    assert response.status_code == 404
    assert response.json["error"]["field"] == "store"


def test_embed_js_points_at_the_store_and_is_cacheable(storefront, store):
    response = storefront.get("/embed.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert f'"{store.slug}"' in response.text
    assert f"/storefront/{store.slug}/widgets" in response.text
    assert storefront.get("/embed.js", headers={"If-None-Match": response.headers["ETag"]}
                          ).status_code == 304


def test_server_side_slot_renders_the_same_widgets(app, store, guestbook):
    with app.test_request_context():
        html = render_slot(store.slug, "home", "header")
        assert 'data-kedai-plugin="guestbook"' in html and "Selamat datang!" in html
        assert render_slot(store.slug, "home", "footer") == ""


def test_a_busy_anonymous_list_is_answered_without_the_database(storefront, guestbook, app):
    import sqlalchemy as sa

    from core.db import db

    storefront.get("/widgets?page=home")
    statements = []

    def count(*args, **kwargs):
        statements.append(args)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        again = storefront.get("/widgets?page=home")
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert again.status_code == 200 and "Selamat datang" in again.text
    assert statements == []
