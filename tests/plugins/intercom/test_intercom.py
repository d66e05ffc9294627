"""Intercom (W-02): the exact ``intercomSettings`` the widget renders per region, identity
verified by JWT or user_hash on the server, identity only in private responses, hostile
settings refused, placement by page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import time_machine

from plugin_sdk import SettingsInvalid
from plugins.intercom.plugin import IntercomPlugin, user_hash
from tests.sdk.test_admin_marketplace import MARKET, error_of, post

APP_ID = "abc12def"
SECRET = "ic-messenger-secret-5512-0f9e8d7c6b5a4"
#: The contract's HMAC-SHA256 vector: key "secret", message "user@example.com".
VECTOR = "febca656b1fa2234083628d174f250dd85728259017890916cb6ffc0712340de"
NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
SCRIPT = "http://localhost/storefront/acme/plugins/intercom/static/intercom.js?v=1.0.0"


@pytest.fixture
def intercom(register_plugin, install):
    register_plugin(IntercomPlugin)

    def configure(**settings: Any) -> Any:
        return install("intercom", **{"app_id": APP_ID, **settings})

    return configure


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


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
    match = re.fullmatch(r'<script type="application/json" data-kedai-intercom>(.*)</script>',
                         widget["html"].strip(), re.S)
    assert match, widget["html"]
    return json.loads(match.group(1))


def test_the_user_hash_is_the_documented_hmac():
    assert user_hash("secret", "user@example.com") == VECTOR


@pytest.mark.parametrize("region, api_base", [
    ("us", "https://api-iam.intercom.io"),
    ("eu", "https://api-iam.eu.intercom.io"),
    ("au", "https://api-iam.au.intercom.io"),
])
def test_anonymous_shoppers_get_the_app_and_region_only(storefront, intercom, region, api_base):
    intercom(region=region, verification="jwt", verification_secret=SECRET,
             include_urls="/products/*")
    response = widgets(storefront)
    [widget] = response.json["widgets"]
    assert widget["slot"] == "floating" and widget["personal"] is False
    assert widget["scripts"] == [SCRIPT]
    assert config_of(widget) == {
        "src": f"https://widget.intercom.io/widget/{APP_ID}",
        "include": ["/products/*"],
        "exclude": [],
        "settings": {"app_id": APP_ID, "api_base": api_base},
    }
    assert response.headers["Cache-Control"].startswith("public")
    assert SECRET not in response.text


def test_jwt_identity_in_a_private_response(store, storefront, intercom, frozen):
    intercom(region="eu", verification="jwt", verification_secret=SECRET)
    mei = shopper(storefront)
    response = widgets(storefront, token=mei["token"])
    assert response.headers["Cache-Control"] == "private, no-store"
    [widget] = response.json["widgets"]
    assert widget["personal"] is True
    settings = config_of(widget)["settings"]
    token = settings.pop("intercom_user_jwt")
    user_id = f"{store.id}-{mei['customer']['id']}"
    assert settings == {
        "app_id": APP_ID, "api_base": "https://api-iam.eu.intercom.io",
        "user_id": user_id, "email": "user@example.com", "name": "Mei Lin",
        "created_at": int(NOW.timestamp()),
    }
    # HS256 over header.payload with the Messenger secret, claims as the contract lists them.
    head, body, signature = token.split(".")
    expected = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == {
        "user_id": user_id, "email": "user@example.com", "name": "Mei Lin",
        "exp": int(NOW.timestamp()) + 2 * 3600,
    }
    assert SECRET not in response.text
    anonymous = widgets(storefront)
    assert "user@example.com" not in anonymous.text and "intercom_user_jwt" not in anonymous.text


def test_the_signed_token_expires_after_two_hours(storefront, intercom, frozen):
    intercom(verification="jwt", verification_secret=SECRET)
    mei = shopper(storefront)
    token = config_of(widgets(storefront, token=mei["token"]).json["widgets"][0])[
        "settings"]["intercom_user_jwt"]
    with time_machine.travel(NOW.timestamp() + 2 * 3600 + 1, tick=False), \
            pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_user_hash_identity(store, storefront, intercom, frozen):
    intercom(verification="user_hash", verification_secret="secret")
    mei = shopper(storefront)
    settings = config_of(widgets(storefront, token=mei["token"]).json["widgets"][0])["settings"]
    user_id = f"{store.id}-{mei['customer']['id']}"
    assert settings == {
        "app_id": APP_ID, "api_base": "https://api-iam.intercom.io",
        "user_id": user_id, "email": "user@example.com", "name": "Mei Lin",
        "created_at": int(NOW.timestamp()),
        "user_hash": hmac.new(b"secret", user_id.encode(), hashlib.sha256).hexdigest(),
    }


def test_without_verification_the_shopper_is_passed_unsigned(storefront, intercom):
    intercom()
    mei = shopper(storefront)
    settings = config_of(widgets(storefront, token=mei["token"]).json["widgets"][0])["settings"]
    assert "user_hash" not in settings and "intercom_user_jwt" not in settings
    assert settings["email"] == "user@example.com"


def test_identification_switched_off(storefront, intercom):
    intercom(identify_shoppers=False, verification="jwt", verification_secret=SECRET)
    mei = shopper(storefront)
    [widget] = widgets(storefront, token=mei["token"]).json["widgets"]
    assert widget["personal"] is False
    assert config_of(widget)["settings"] == {"app_id": APP_ID,
                                             "api_base": "https://api-iam.intercom.io"}


def test_a_hostile_shopper_name_cannot_close_the_data_block(storefront, intercom):
    intercom(verification="user_hash", verification_secret="secret")
    evil = shopper(storefront, first_name="</script><script>alert(1)</script>", last_name="&'")
    [widget] = widgets(storefront, token=evil["token"]).json["widgets"]
    assert widget["html"].count("</script>") == 1 and "<script>alert" not in widget["html"]
    assert config_of(widget)["settings"]["name"] == "</script><script>alert(1)</script> &'"


@pytest.mark.parametrize("settings, field", [
    ({"app_id": 'abc12def"'}, "app_id"),
    ({"app_id": "abc</script><script>alert(1)</script>"}, "app_id"),
    ({"app_id": "javascript:alert(1)"}, "app_id"),
    ({"app_id": "ABC12DEF"}, "app_id"),
    ({"app_id": "abc12def\n"}, "app_id"),
    ({"region": "https://evil.example"}, "region"),
    ({"verification": "jwt"}, "verification_secret"),
    ({"verification": "none; alert(1)"}, "verification"),
    ({"hide_on_pages": "checkout, '><img src=x>"}, "hide_on_pages"),
    ({"exclude_urls": "javascript:alert(1)"}, "exclude_urls"),
])
def test_settings_that_could_carry_markup_are_refused(intercom, settings, field):
    with pytest.raises(SettingsInvalid) as refused:
        intercom(**settings)
    assert field in refused.value.errors


def test_the_settings_page_keeps_the_secret_and_names_problems(admin, register_plugin):
    register_plugin(IntercomPlugin)
    post(admin, MARKET + "/intercom/install", consent="yes")
    missing = post(admin, MARKET + "/intercom/settings", app_id=APP_ID, region="us",
                   verification="jwt")
    assert error_of(missing, "setting-verification_secret") == \
        "Enter the secret from Intercom, or turn verification off."
    saved = post(admin, MARKET + "/intercom/settings", app_id=APP_ID, region="eu",
                 verification="jwt", verification_secret=SECRET)
    assert saved.status_code == 302
    # Saved again without retyping the secret: it is kept, and never shown.
    again = post(admin, MARKET + "/intercom/settings", app_id=APP_ID, region="eu",
                 verification="jwt")
    assert again.status_code == 302
    assert SECRET not in admin.get(MARKET + "/intercom/settings").text


def test_placement_by_page(storefront, intercom):
    intercom(show_on_pages="product", hide_on_pages="checkout")
    assert widgets(storefront, "home").json["widgets"] == []
    assert widgets(storefront, "checkout").json["widgets"] == []
    assert [w["plugin"] for w in widgets(storefront, "product").json["widgets"]] == ["intercom"]


def test_the_loader_script_is_served_where_enabled(client, storefront, intercom, other_store):
    intercom()
    served = storefront.get("/plugins/intercom/static/intercom.js")
    assert served.status_code == 200 and b"shutdown" in served.data
    assert client.get(f"/storefront/{other_store.slug}/plugins/intercom/static/intercom.js"
                      ).status_code == 404
