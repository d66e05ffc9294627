"""tawk.to (W-01): the exact data the widget renders, secure-mode hashes from the documented
vector, identity only in private responses, hostile settings refused, placement by page."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

import pytest

from plugin_sdk import SettingsInvalid
from plugins.tawkto.plugin import TawkToPlugin, secure_hash
from tests.sdk.test_admin_marketplace import MARKET, error_of, post

PROPERTY = "5f1a2b3c4d5e6f7a8b9c0d1e"
#: The contract's vector: HMAC-SHA256(key "secret", "user@example.com").
VECTOR = "febca656b1fa2234083628d174f250dd85728259017890916cb6ffc0712340de"
SCRIPT = "http://localhost/storefront/acme/plugins/tawkto/static/tawkto.js?v=1.0.0"


@pytest.fixture
def tawkto(register_plugin, install):
    register_plugin(TawkToPlugin)

    def configure(**settings: Any) -> Any:
        return install("tawkto", **{"property_id": PROPERTY, **settings})

    return configure


def shopper(storefront, email: str = "user@example.com", first_name: str = "Mei",
            last_name: str = "Lin") -> dict[str, Any]:
    response = storefront.post("/api/register", json={
        "email": email, "password": "s3cret-pass", "first_name": first_name,
        "last_name": last_name})
    assert response.status_code == 201, response.json
    return response.json


def widgets(storefront, page: str = "home", token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = storefront.get(f"/widgets?page={page}", headers=headers)
    assert response.status_code == 200
    return response


def config_of(widget: dict[str, Any]) -> dict[str, Any]:
    match = re.fullmatch(
        r'<script type="application/json" data-kedai-tawkto>(.*)</script>', widget["html"].strip(),
        re.S)
    assert match, widget["html"]
    return json.loads(match.group(1))


def test_the_hash_function_gives_the_documented_vector():
    assert secure_hash("secret", "user@example.com") == VECTOR


def test_anonymous_shoppers_get_the_widget_without_identity(storefront, tawkto):
    tawkto(widget_id="1h2j3k4l", secure_mode_key="tk-live-1234567890",
           exclude_urls="/checkout*\n/account/orders/*")
    response = widgets(storefront)
    [widget] = response.json["widgets"]
    assert widget["plugin"] == "tawkto" and widget["slot"] == "floating"
    assert widget["scripts"] == [SCRIPT] and widget["personal"] is False
    assert config_of(widget) == {
        "src": f"https://embed.tawk.to/{PROPERTY}/1h2j3k4l",
        "include": [],
        "exclude": ["/checkout*", "/account/orders/*"],
    }
    assert response.headers["Cache-Control"].startswith("public")
    assert "tk-live-1234567890" not in response.text


def test_a_logged_in_shopper_is_vouched_for_in_a_private_response(store, storefront, tawkto):
    tawkto(secure_mode_key="secret")
    mei = shopper(storefront)
    response = widgets(storefront, token=mei["token"])
    assert response.headers["Cache-Control"] == "private, no-store"
    [widget] = response.json["widgets"]
    assert widget["personal"] is True
    user_id = f"{store.id}-{mei['customer']['id']}"
    assert config_of(widget) == {
        "src": f"https://embed.tawk.to/{PROPERTY}/default",
        "include": [],
        "exclude": [],
        "visitor": {"name": "Mei Lin", "email": "user@example.com", "hash": VECTOR},
        "login": {"name": "Mei Lin", "email": "user@example.com", "userId": user_id,
                  "hash": hmac.new(b"secret", user_id.encode(), hashlib.sha256).hexdigest()},
    }
    # The key itself never leaves the server, and the shared answer names nobody.
    assert '"secret"' not in response.text
    anonymous = widgets(storefront)
    assert anonymous.headers["Cache-Control"].startswith("public")
    assert "user@example.com" not in anonymous.text and "Mei" not in anonymous.text


def test_without_a_secure_mode_key_the_shopper_is_passed_unhashed(store, storefront, tawkto):
    tawkto()
    mei = shopper(storefront)
    config = config_of(widgets(storefront, token=mei["token"]).json["widgets"][0])
    assert config["visitor"] == {"name": "Mei Lin", "email": "user@example.com"}
    assert config["login"] == {"name": "Mei Lin", "email": "user@example.com",
                               "userId": f"{store.id}-{mei['customer']['id']}"}


def test_recognition_switched_off_sends_no_identity(storefront, tawkto):
    tawkto(secure_mode_key="secret", identify_shoppers=False)
    mei = shopper(storefront)
    [widget] = widgets(storefront, token=mei["token"]).json["widgets"]
    assert widget["personal"] is False
    assert "visitor" not in config_of(widget) and "user@example.com" not in widget["html"]


def test_a_hostile_shopper_name_cannot_close_the_data_block(storefront, tawkto):
    tawkto(secure_mode_key="secret")
    evil = shopper(storefront, first_name="</script><script>alert(1)</script>", last_name="'\"")
    [widget] = widgets(storefront, token=evil["token"]).json["widgets"]
    assert widget["html"].count("</script>") == 1 and "<script>alert" not in widget["html"]
    assert config_of(widget)["visitor"]["name"] == "</script><script>alert(1)</script> '\""


@pytest.mark.parametrize("field, value", [
    ("property_id", '5f1a2b3c4d5e6f7a8b9c0d1"'),
    ("property_id", "</script><script>alert(1)</script>"),
    ("property_id", "javascript:alert(1)//5f1a2b3c4d5e6f7a"),
    ("property_id", PROPERTY + "\n"),
    ("property_id", "5f1a2b3c4d5e6f7a8b9c0d1z"),
    ("widget_id", "default' onload='alert(1)"),
    ("widget_id", "../../evil.example/x"),
    ("widget_id", "default\n"),
    ("show_on_pages", "home, <b>product</b>"),
    ("include_urls", "/products/*\njavascript:alert(1)"),
    ("exclude_urls", '/checkout"></script><script>alert(1)</script>'),
    ("exclude_urls", "/ checkout"),
])
def test_settings_that_could_carry_markup_are_refused(tawkto, field, value):
    with pytest.raises(SettingsInvalid) as refused:
        tawkto(**{field: value})
    assert field in refused.value.errors


def test_the_settings_page_names_the_problem(admin, register_plugin):
    register_plugin(TawkToPlugin)
    post(admin, MARKET + "/tawkto/install", consent="yes")
    page = post(admin, MARKET + "/tawkto/settings", property_id="<script>alert(1)</script>",
                widget_id="default")
    assert page.status_code == 200
    assert error_of(page, "setting-property_id") == "A property ID is 24 characters, 0-9 and a-f."
    assert "<script>alert(1)</script>" not in page.text
    saved = post(admin, MARKET + "/tawkto/settings", property_id=PROPERTY, widget_id="default",
                 secure_mode_key="tk-live-1234567890")
    assert saved.status_code == 302
    assert "tk-live-1234567890" not in admin.get(MARKET + "/tawkto/settings").text


def test_only_on_the_pages_chosen(storefront, tawkto):
    tawkto(show_on_pages="product, cart", hide_on_pages="cart")
    assert [w["plugin"] for w in widgets(storefront, "product").json["widgets"]] == ["tawkto"]
    assert widgets(storefront, "home").json["widgets"] == []
    assert widgets(storefront, "cart").json["widgets"] == []
    # A theme that does not name its page cannot be "one of these pages".
    assert widgets(storefront, "*").json["widgets"] == []


def test_hidden_on_excluded_pages_only(storefront, tawkto):
    tawkto(hide_on_pages="checkout", include_urls="/products/*")
    assert widgets(storefront, "checkout").json["widgets"] == []
    [widget] = widgets(storefront, "*").json["widgets"]
    assert config_of(widget)["include"] == ["/products/*"]


def test_the_loader_script_is_served_only_where_the_plugin_is_enabled(
        client, storefront, tawkto, other_store):
    tawkto()
    served = storefront.get("/plugins/tawkto/static/tawkto.js")
    assert served.status_code == 200 and "javascript" in served.mimetype
    assert b"data-kedai-tawkto" in served.data and b"eval(" not in served.data
    assert client.get(f"/storefront/{other_store.slug}/plugins/tawkto/static/tawkto.js"
                      ).status_code == 404
    assert client.get(f"/storefront/{other_store.slug}/widgets?page=home").json["widgets"] == []
