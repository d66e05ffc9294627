"""The admin marketplace over HTTP: browsing and search, a plugin's page, install with consent,
the settings page generated from the schema, enable/disable, re-consent after an upgrade,
health with retry, uninstall, owner-only actions and store isolation (P-01 to P-05)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from flask import g, has_app_context
from flask.testing import FlaskClient
from marshmallow import Schema, fields, validate, validates_schema

from core.customers.service import create_customer
from core.db import db
from core.plugins import service
from core.plugins.delivery import MAX_ATTEMPTS
from core.plugins.manager import host
from core.plugins.models import EventDelivery, PluginInstallation, PluginKeyValue
from plugin_sdk import Color, Plugin, Secret, Text, TextArea, Toggle, hookimpl
from tests.conftest import STAFF_PASSWORD, csrf_token, make_staff
from tests.sdk.sample_plugins import Broken, Guestbook, NeedsGuestbook, Stamps

SECRET = "sk-live-TOPSECRET-8842"
SETTINGS = {"greeting": "Selamat datang", "api_key": SECRET}
MARKET = "/admin/marketplace"


# --- plugins only these tests use ------------------------------------------------------------


class EverySettingKind(Schema):
    title = Text(
        required=True, label="Title", help="Shown above the widget.", placeholder="Weekly picks"
    )
    intro = TextArea(load_default="", label="Introduction")
    token = Secret(required=True, label="Access token", help="From the provider's dashboard.")
    accent = Color(load_default="#112233", label="Accent colour")
    active = Toggle(load_default=True, label="Show to shoppers")
    size = fields.String(
        load_default="m",
        validate=validate.OneOf(["s", "m", "l"], labels=["Small", "Medium", "Large"]),
        metadata={"label": "Size"},
    )
    limit = fields.Integer(
        load_default=5, validate=validate.Range(min=1, max=20), metadata={"label": "How many"}
    )
    ratio = fields.Decimal(load_default=Decimal("1.5"), metadata={"label": "Ratio"})
    base_url = Text(
        load_default="https://api.example.com",
        label="Service URL",
        advanced=True,
        help="Change only to point at a test server.",
    )


class Showcase(Plugin):
    id = "showcase"
    name = "Showcase"
    version = "1.0.0"
    category = "analytics"
    description = "Exercises every settings widget."
    settings_schema = EverySettingKind


class FlakySettings(Schema):
    failing = Toggle(load_default=True, label="Fail")


class Flaky(Plugin):
    """Fails every delivery while its ``failing`` setting is on."""

    id = "flaky"
    name = "Flaky"
    version = "1.0.0"
    category = "analytics"
    permissions = ("customers:read",)
    settings_schema = FlakySettings

    @hookimpl
    def on_customer_created(self, ctx: Any, event: Any) -> None:
        if ctx.settings["failing"]:
            raise RuntimeError("flaky says no")
        ctx.kv.set("seen", event.customer_id)


class GuestbookTwo(Guestbook):
    version = "2.0.0"
    permissions = ("customers:read", "customers:write")


# --- reading pages -----------------------------------------------------------------------------


class Controls(HTMLParser):
    """The form controls of a page by id: tag, attributes, options of selects, textarea text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, Any]] = {}
        self._select: dict[str, Any] | None = None
        self._textarea: dict[str, Any] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: (v if v is not None else "") for k, v in attrs}
        if tag in ("input", "select", "textarea"):
            control = {"tag": tag, **attributes, "options": [], "text": ""}
            if "id" in attributes:
                self.by_id[attributes["id"]] = control
            if tag == "select":
                self._select = control
            if tag == "textarea":
                self._textarea = control
        elif tag == "option" and self._select is not None:
            self._select["options"].append((attributes.get("value"), "selected" in attributes))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"] += data


def controls(page: Any) -> dict[str, dict[str, Any]]:
    return Controls(page.text).by_id


def error_of(page: Any, dom_id: str) -> str:
    """The error shown next to the control with this id ('' when there is none)."""
    match = re.search(
        rf'<div class="invalid-feedback" id="{re.escape(dom_id)}-error">(.*?)</div>',
        page.text,
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else ""


def card(page: Any, plugin_id: str) -> str:
    """The marketplace card of one plugin, as text."""
    match = re.search(
        rf'<article class="card[^"]*" data-plugin="{plugin_id}">(.*?)</article>', page.text, re.S
    )
    assert match, f"no card for {plugin_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def listed(page: Any) -> list[str]:
    return re.findall(r'data-plugin="([a-z_]+)"', page.text)


def text(page: Any) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))


def post(client: Any, path: str, **data: Any) -> Any:
    token = csrf_token(client, MARKET + "/")
    return client.post(path, data={"csrf_token": token, **data})


def login(app: Any, user: Any) -> Any:
    client = app.test_client()
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login", data={"email": user.email, "password": STAFF_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def installation(store: Any, plugin_id: str) -> PluginInstallation | None:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(PluginInstallation).where(
            PluginInstallation.store_id == store.id, PluginInstallation.plugin_id == plugin_id
        )
    )


def kv(store: Any, plugin_id: str, key: str) -> Any:
    return db.session.scalar(
        sa.select(PluginKeyValue.value).where(
            PluginKeyValue.store_id == store.id,
            PluginKeyValue.plugin_id == plugin_id,
            PluginKeyValue.key == key,
        )
    )


@pytest.fixture(autouse=True)
def each_request_starts_with_an_empty_g(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every request a fresh ``g``, as a server does.

    The harness holds one app context for the whole test, so ``g`` outlives requests: without
    this, Flask-Login's cached user would follow a second client, Babel's cached locale would
    stick from the first page, and a storefront request's public-response mark would stop the
    admin's session (and its flash messages) from being saved.
    """
    original = FlaskClient.open

    def open_with_empty_g(self: FlaskClient, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            g.__dict__.clear()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FlaskClient, "open", open_with_empty_g)


@pytest.fixture
def plugins(register_plugin: Any) -> None:
    for plugin_class in (Guestbook, NeedsGuestbook, Broken, Stamps):
        register_plugin(plugin_class)


@pytest.fixture
def manifests(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A catalogue folder of our own: ``manifests(text)`` adds a listing."""
    monkeypatch.setenv("KEDAI_MANIFESTS_PATH", str(tmp_path))

    def add(plugin_id: str, body: str) -> None:
        (tmp_path / f"{plugin_id}.toml").write_text(body, encoding="utf-8")

    return add


GUESTBOOK_MANIFEST = """
id = "guestbook"
version = "1.0.0"
category = "marketing"
author = "Example Ltd"
distribution = "kedai-guestbook"
support_url = "https://example.com/support"
permissions = ["customers:read"]
requires = []

[name]
en = "Guestbook"
zh-Hant = "留言簿"
zh-Hans = "留言簿"

[description]
en = "Greets shoppers with a friendly line."
zh-Hant = "向顧客問好的小工具"
zh-Hans = "向顾客问好的小工具"
"""

GHOST_MANIFEST = """
id = "ghost"
version = "1.0.0"
category = "loyalty"
author = "Nobody"
distribution = "kedai-ghost"
support_url = "https://example.com/ghost"

[name]
en = "Ghost points"
zh-Hant = "Ghost points"
zh-Hans = "Ghost points"

[description]
en = "Not installed in this environment."
zh-Hant = "Not installed in this environment."
zh-Hans = "Not installed in this environment."
"""


# --- browsing --------------------------------------------------------------------------------


def test_marketplace_lists_plugins_with_their_state_in_this_store(
    admin, store, plugins, install, manifests, register_plugin
):
    manifests("ghost", GHOST_MANIFEST)
    install("guestbook", **SETTINGS)
    install("needs_guestbook", enable=False)
    install("broken")
    service.suspend(store.id, "broken", "suspended after 10 failures in a row")
    db.session.commit()
    register_plugin(type("Unset", (Guestbook,), {"id": "unset", "name": "Unset"}))
    post(admin, MARKET + "/unset/install", consent="yes")  # installed, never configured
    page = admin.get(MARKET + "/")

    assert page.status_code == 200
    assert listed(page) == ["broken", "ghost", "guestbook", "needs_guestbook", "stamps", "unset"]
    assert "Installed" in card(page, "guestbook") and "Enabled" in card(page, "guestbook")
    assert "Needs configuration" not in card(page, "guestbook")
    assert "Disabled" in card(page, "needs_guestbook")
    assert "Suspended" in card(page, "broken")
    assert "Needs configuration" in card(page, "unset")
    assert "Not available" in card(page, "ghost") and "Installed" not in card(page, "ghost")
    assert "Installed" not in card(page, "stamps")
    assert "Loyalty" in card(page, "stamps")


def test_a_plugin_whose_settings_check_raises_does_not_break_the_marketplace(
    admin, store, register_plugin
):
    class Raising(Schema):
        note = Text(load_default="")

        @validates_schema
        def explode(self, data: dict[str, Any], **kwargs: Any) -> None:
            raise RuntimeError("validator bug")

    class Fragile(Plugin):
        id = "fragile"
        name = "Fragile"
        version = "1.0.0"
        category = "analytics"
        settings_schema = Raising

    register_plugin(Fragile)
    service.install(store, "fragile", consent=True)
    db.session.commit()
    page = admin.get(MARKET + "/")
    assert page.status_code == 200
    assert "Needs configuration" in card(page, "fragile")
    assert "The plugin could not check its settings." in text(admin.get(MARKET + "/fragile"))


def test_filter_by_category_and_search(admin, plugins):
    assert listed(admin.get(MARKET + "/?category=loyalty")) == ["stamps"]
    assert listed(admin.get(MARKET + "/?category=marketing")) == ["guestbook", "needs_guestbook"]
    assert listed(admin.get(MARKET + "/?q=greets")) == ["guestbook"]
    assert listed(admin.get(MARKET + "/?q=STAMP")) == ["stamps"]
    assert listed(admin.get(MARKET + "/?q=guestbook&category=analytics")) == []
    assert "No plugin matches." in admin.get(MARKET + "/?q=zzz").text


def test_search_and_names_follow_the_staff_locale_with_english_fallback(
    app, store, plugins, manifests
):
    manifests("guestbook", GUESTBOOK_MANIFEST)
    staff = make_staff(store, "mei@acme.test", role="owner")
    staff.locale = "zh_Hant"
    db.session.commit()
    client = login(app, staff)

    page = client.get(MARKET + "/?q=問好")
    assert listed(page) == ["guestbook"]
    assert "留言簿" in card(page, "guestbook") and "向顧客問好的小工具" in card(page, "guestbook")
    assert listed(client.get(MARKET + "/?q=friendly")) == ["guestbook"]
    detail = client.get(MARKET + "/guestbook")
    assert "向顧客問好的小工具" in text(detail) and "Example Ltd" in text(detail)
    assert 'href="https://example.com/support"' in detail.text


def test_load_failures_are_shown_to_owners_only(app, admin, store, plugins, monkeypatch):
    monkeypatch.setitem(host.failed, "kaput", "ImportError: No module named 'kaput_sdk'")
    assert "No module named 'kaput_sdk'" in text(admin.get(MARKET + "/"))
    clerk = login(app, make_staff(store, role="staff"))
    page = clerk.get(MARKET + "/")
    assert page.status_code == 200 and "kaput" not in page.text


def test_detail_shows_permissions_in_the_merchants_words_and_requirements(
    admin, store, plugins, install
):
    page = admin.get(MARKET + "/needs_guestbook")
    assert page.status_code == 200
    section = text(page)
    assert "See customers: names, contact details, tags, custom fields and totals" in section
    requires = re.search(r'data-requires="guestbook">(.*?)</li>', page.text, re.S).group(1)
    assert "Guestbook" in requires and "Not installed" in requires

    install("guestbook", **SETTINGS)
    requires = re.search(
        r'data-requires="guestbook">(.*?)</li>', admin.get(MARKET + "/needs_guestbook").text, re.S
    ).group(1)
    assert "Enabled" in requires
    assert admin.get(MARKET + "/nope").status_code == 404


# --- installing -------------------------------------------------------------------------------


def test_install_without_consent_shows_the_error_by_the_checkbox_and_installs_nothing(
    admin, store, plugins
):
    page = admin.get(MARKET + "/guestbook")
    box = controls(page)["consent"]
    assert box["type"] == "checkbox"
    assert "See customers" in text(page)

    refused = post(admin, MARKET + "/guestbook/install")
    assert refused.status_code == 200
    assert "needs your consent" in error_of(refused, "consent")
    assert "is-invalid" in controls(refused)["consent"]["class"]
    assert installation(store, "guestbook") is None

    done = post(admin, MARKET + "/guestbook/install", consent="yes")
    assert done.status_code == 302 and done.location.endswith("/guestbook/settings")
    row = installation(store, "guestbook")
    assert (row.status, row.granted_permissions) == ("disabled", ["customers:read"])
    assert row.installed_by.startswith("staff:")


def test_staff_who_are_not_owners_cannot_change_installations(app, store, plugins, install):
    install("guestbook", **SETTINGS)
    clerk = login(app, make_staff(store, role="staff"))
    detail = clerk.get(MARKET + "/stamps")
    assert detail.status_code == 200 and 'id="consent"' not in detail.text
    assert post(clerk, MARKET + "/stamps/install", consent="yes").status_code == 403
    for action in ("disable", "enable", "uninstall", "settings", "consent"):
        assert post(clerk, f"{MARKET}/guestbook/{action}", confirm="yes").status_code == 403
    assert clerk.get(MARKET + "/guestbook/settings").status_code == 403
    assert installation(store, "stamps") is None
    assert installation(store, "guestbook").status == "enabled"
    assert clerk.get(MARKET + "/guestbook/health").status_code == 200


def test_actions_need_a_csrf_token(admin, store, plugins):
    response = admin.post(MARKET + "/guestbook/install", data={"consent": "yes"})
    assert response.status_code == 400
    assert installation(store, "guestbook") is None


# --- settings ---------------------------------------------------------------------------------


def test_settings_page_renders_each_widget_kind(admin, store, register_plugin, install):
    register_plugin(Showcase)
    post(admin, MARKET + "/showcase/install")
    page = admin.get(MARKET + "/showcase/settings")
    assert page.status_code == 200
    found = controls(page)

    title = found["setting-title"]
    assert (title["tag"], title["type"], title["placeholder"]) == ("input", "text", "Weekly picks")
    assert "Shown above the widget." in text(page)
    assert '<label class="form-label" for="setting-title">Title' in page.text
    assert found["setting-intro"]["tag"] == "textarea"
    assert found["setting-token"]["type"] == "password"
    assert "placeholder" not in found["setting-token"]  # nothing stored yet
    assert (found["setting-accent"]["type"], found["setting-accent"]["value"]) == (
        "color",
        "#112233",
    )
    assert found["setting-active"]["type"] == "checkbox" and "checked" in found["setting-active"]
    size = found["setting-size"]
    assert size["tag"] == "select"
    assert size["options"] == [("s", False), ("m", True), ("l", False)]
    assert ">Medium</option>" in page.text
    limit = found["setting-limit"]
    assert (limit["type"], limit["value"], limit["min"], limit["max"], limit["step"]) == (
        "number",
        "5",
        "1",
        "20",
        "1",
    )
    assert (found["setting-ratio"]["type"], found["setting-ratio"]["step"]) == ("number", "any")
    advanced = re.search(
        r'<details[^>]*id="advanced-settings"[^>]*>(.*?)</details>', page.text, re.S
    )
    assert advanced and 'id="setting-base_url"' in advanced.group(1)
    assert " open" not in re.search(r"<details[^>]*>", page.text).group(0)
    assert 'id="setting-title"' not in advanced.group(1)


def test_settings_errors_are_shown_next_to_fields_and_keep_what_was_typed(
    admin, store, register_plugin, install
):
    register_plugin(Showcase)
    post(admin, MARKET + "/showcase/install")
    response = post(
        admin,
        MARKET + "/showcase/settings",
        title="Weekly picks",
        token="tok-typed-but-invalid-form",
        accent="red",
        size="xl",
        limit="99",
        ratio="1.25",
        intro="Hello",
        base_url="not a url but text is fine",
    )
    assert response.status_code == 200
    assert error_of(response, "setting-accent") == "Use a colour like #1a2b3c."
    assert "Must be one of" in error_of(response, "setting-size")
    assert "1" in error_of(response, "setting-limit") and "20" in error_of(
        response, "setting-limit"
    )
    assert error_of(response, "setting-title") == ""
    found = controls(response)
    assert found["setting-title"]["value"] == "Weekly picks"
    assert found["setting-intro"]["text"] == "Hello"
    assert found["setting-limit"]["value"] == "99"
    assert found["setting-active"].get("checked") is None  # unticked stays unticked
    assert found["setting-token"]["value"] == ""  # a secret is never sent back
    assert "tok-typed-but-invalid-form" not in response.text
    assert installation(store, "showcase").settings == {}

    missing = post(admin, MARKET + "/showcase/settings", title="", token="")
    assert error_of(missing, "setting-title") == "Missing data for required field."
    assert error_of(missing, "setting-token") == "Missing data for required field."


def test_an_error_in_an_advanced_field_opens_its_section(admin, register_plugin):
    class StrictUrl(Schema):
        base_url = fields.Url(required=True, metadata={"label": "Service URL", "advanced": True})

    class Strict(Plugin):
        id = "strict"
        name = "Strict"
        version = "1.0.0"
        category = "analytics"
        settings_schema = StrictUrl

    register_plugin(Strict)
    post(admin, MARKET + "/strict/install")
    response = post(admin, MARKET + "/strict/settings", base_url="nope")
    assert response.status_code == 200
    assert error_of(response, "setting-base_url") == "Not a valid URL."
    assert re.search(r'<details[^>]*id="advanced-settings"[^>]*\bopen\b', response.text)


def test_saved_settings_are_shown_and_values_reach_the_plugin(
    admin, store, register_plugin, install
):
    register_plugin(Showcase)
    post(admin, MARKET + "/showcase/install")
    response = post(
        admin,
        MARKET + "/showcase/settings",
        title="Weekly",
        token="t-1",
        accent="#abcdef",
        size="l",
        limit="7",
        ratio="2.5",
        intro="Line",
        base_url="https://fake.test",
    )
    assert response.status_code == 302
    assert "Settings of Showcase saved." in text(admin.get(response.location))
    stored = service.decrypted_settings(host.get("showcase"), installation(store, "showcase"))
    assert stored == {
        "title": "Weekly",
        "token": "t-1",
        "accent": "#abcdef",
        "active": False,
        "size": "l",
        "limit": 7,
        "ratio": "2.5",
        "intro": "Line",
        "base_url": "https://fake.test",
    }
    found = controls(admin.get(MARKET + "/showcase/settings"))
    assert found["setting-limit"]["value"] == "7" and found["setting-ratio"]["value"] == "2.5"
    assert ("l", True) in found["setting-size"]["options"]
    assert found["setting-accent"]["value"] == "#abcdef"
    assert "checked" not in found["setting-active"]


def test_a_toggle_left_unticked_turns_the_setting_off(admin, store, plugins, install):
    install("guestbook", **SETTINGS, loud=True)
    assert "checked" in controls(admin.get(MARKET + "/guestbook/settings"))["setting-loud"]
    post(admin, MARKET + "/guestbook/settings", greeting="Hi", mode="cool")
    stored = service.decrypted_settings(host.get("guestbook"), installation(store, "guestbook"))
    assert stored["loud"] is False and stored["mode"] == "cool"
    post(admin, MARKET + "/guestbook/settings", greeting="Hi", loud="on")
    stored = service.decrypted_settings(host.get("guestbook"), installation(store, "guestbook"))
    assert stored["loud"] is True


def test_a_secret_never_appears_in_any_admin_page_and_a_blank_keeps_it(
    admin, store, plugins, deliver_events
):
    post(admin, MARKET + "/guestbook/install", consent="yes")
    saved = post(admin, MARKET + "/guestbook/settings", greeting="Hello", api_key=SECRET)
    assert saved.status_code == 302
    post(admin, MARKET + "/guestbook/enable")
    create_customer(store, {"email": "new@example.com"})
    db.session.commit()
    deliver_events()

    settings_page = admin.get(MARKET + "/guestbook/settings")
    token = controls(settings_page)["setting-api_key"]
    assert token["value"] == "" and token["placeholder"] == "•••• stored"
    # A blank submit keeps the stored key; the page after a failed save does not leak it either.
    kept = post(admin, MARKET + "/guestbook/settings", greeting="Hello again", api_key="")
    assert kept.status_code == 302
    failed = post(admin, MARKET + "/guestbook/settings", greeting="", api_key="")
    assert failed.status_code == 200
    stored = service.decrypted_settings(host.get("guestbook"), installation(store, "guestbook"))
    assert (stored["api_key"], stored["greeting"]) == (SECRET, "Hello again")

    pages = [settings_page, failed] + [
        admin.get(MARKET + path)
        for path in (
            "/",
            "/guestbook",
            "/guestbook/settings",
            "/guestbook/health",
            "/guestbook/uninstall",
            "/?q=guest",
        )
    ]
    for page in pages:
        assert page.status_code == 200
        assert SECRET not in page.text and "TOPSECRET" not in page.text

    replaced = post(admin, MARKET + "/guestbook/settings", greeting="Hello", api_key="sk-new")
    assert replaced.status_code == 302
    stored = service.decrypted_settings(host.get("guestbook"), installation(store, "guestbook"))
    assert stored["api_key"] == "sk-new"


def test_a_secret_that_no_longer_decrypts_is_explained_not_a_500(admin, store, plugins, install):
    install("guestbook", **SETTINGS)
    db.session.execute(
        sa.update(PluginInstallation)
        .where(PluginInstallation.store_id == store.id)
        .values(settings={"greeting": "Hello", "api_key": "fernet:written-under-another-key"})
    )
    db.session.commit()
    page = admin.get(MARKET + "/guestbook/settings")
    assert page.status_code == 200
    assert "can no longer be read" in text(page)
    assert controls(page)["setting-greeting"]["value"] == "Hello"
    response = post(admin, MARKET + "/guestbook/settings", greeting="Hello", api_key="sk-2")
    assert response.status_code == 200 and "can no longer be read" in text(response)
    assert "Needs configuration" in card(admin.get(MARKET + "/"), "guestbook")
    assert "can no longer be read" in text(admin.get(MARKET + "/guestbook"))


# --- enable, disable, re-consent ---------------------------------------------------------------


def test_enable_is_refused_with_a_clear_message_until_configured(admin, store, plugins):
    post(admin, MARKET + "/guestbook/install", consent="yes")
    refused = post(admin, MARKET + "/guestbook/enable")
    assert refused.status_code == 302
    page = admin.get(refused.location)
    assert "Guestbook is not configured yet: " in text(page)
    assert "Needs configuration" in text(page)
    assert installation(store, "guestbook").status == "disabled"

    post(admin, MARKET + "/guestbook/settings", **SETTINGS)
    enabled = post(admin, MARKET + "/guestbook/enable")
    assert "Guestbook is enabled." in text(admin.get(enabled.location))
    assert installation(store, "guestbook").status == "enabled"


def test_enable_is_refused_while_a_requirement_is_not_enabled(admin, store, plugins, install):
    install("needs_guestbook", enable=False)
    refused = post(admin, MARKET + "/needs_guestbook/enable")
    assert refused.status_code == 302
    assert "Needs guestbook needs Guestbook enabled first" in text(admin.get(refused.location))
    assert installation(store, "needs_guestbook").status == "disabled"

    install("guestbook", **SETTINGS)
    post(admin, MARKET + "/needs_guestbook/enable")
    assert installation(store, "needs_guestbook").status == "enabled"


def test_disable_keeps_settings_and_enable_brings_it_back(admin, store, plugins, install):
    install("guestbook", **SETTINGS)
    response = post(admin, MARKET + "/guestbook/disable")
    assert "Guestbook is disabled. Its settings and data are kept." in text(
        admin.get(response.location)
    )
    row = installation(store, "guestbook")
    assert row.status == "disabled"
    assert service.decrypted_settings(host.get("guestbook"), row)["api_key"] == SECRET
    post(admin, MARKET + "/guestbook/enable")
    assert installation(store, "guestbook").status == "enabled"


def test_an_upgrade_asking_for_more_waits_for_the_owners_consent(
    admin, store, register_plugin, install
):
    register_plugin(Guestbook)
    install("guestbook", **SETTINGS)
    register_plugin(GuestbookTwo)

    page = admin.get(MARKET + "/")
    assert "Awaiting consent" in card(page, "guestbook")
    row = installation(store, "guestbook")
    assert row.version == "2.0.0" and row.granted_permissions == ["customers:read"]
    detail = admin.get(MARKET + "/guestbook")
    banner = re.search(r'id="reconsent">(.*?)</form>', detail.text, re.S).group(1)
    assert "Change customers: profiles and tags" in html.unescape(banner)
    assert "See customers" not in html.unescape(banner)  # already granted

    post(admin, MARKET + "/guestbook/consent")  # box not ticked
    assert installation(store, "guestbook").pending_permissions == [
        "customers:read",
        "customers:write",
    ]
    post(admin, MARKET + "/guestbook/consent", consent="yes")
    row = installation(store, "guestbook")
    assert row.pending_permissions is None
    assert set(row.granted_permissions) == {"customers:read", "customers:write"}
    assert 'id="reconsent"' not in admin.get(MARKET + "/guestbook").text


# --- health -----------------------------------------------------------------------------------


def test_health_shows_a_failed_delivery_and_a_retry_delivers_it(
    admin, store, register_plugin, install, deliver_events
):
    register_plugin(Flaky)
    install("flaky", failing=True)
    customer = create_customer(store, {"email": "new@example.com"})
    db.session.commit()
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        for _ in range(MAX_ATTEMPTS):
            deliver_events()
            clock.shift(timedelta(hours=2))
    [delivery] = db.session.scalars(sa.select(EventDelivery)).all()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)

    page = admin.get(MARKET + "/flaky/health")
    row = re.search(
        rf'<tr data-delivery="{delivery.id}" data-status="failed">(.*?)</tr>', page.text, re.S
    ).group(1)
    assert "customer.created" in row and "RuntimeError: flaky says no" in html.unescape(row)
    assert f">{MAX_ATTEMPTS}</td>" in row and " ms" in row
    assert f"/flaky/deliveries/{delivery.id}/retry" in row
    assert re.search(r'id="failure-count">\s*8\s*<', page.text)

    post(admin, MARKET + "/flaky/settings")  # the merchant unticks "Fail"
    response = post(admin, f"{MARKET}/flaky/deliveries/{delivery.id}/retry")
    assert "will be retried shortly" in text(admin.get(response.location))
    assert deliver_events() == 1
    db.session.expire_all()
    assert db.session.get(EventDelivery, delivery.id).status == "done"
    assert kv(store, "flaky", "seen") == customer.id
    page = admin.get(MARKET + "/flaky/health")
    assert f'<tr data-delivery="{delivery.id}" data-status="done">' in page.text


def test_only_a_failed_delivery_of_this_store_can_be_retried(
    admin, store, other_store, register_plugin, install, deliver_events
):
    register_plugin(Flaky)
    install("flaky", failing=False)
    install("flaky", into=other_store, failing=False)
    create_customer(store, {"email": "a@example.com"})
    create_customer(other_store, {"email": "b@example.com"})
    db.session.commit()
    deliver_events()
    mine, theirs = (
        db.session.scalar(sa.select(EventDelivery.id).where(EventDelivery.store_id == s.id))
        for s in (store, other_store)
    )
    refused = post(admin, f"{MARKET}/flaky/deliveries/{mine}/retry")
    assert "only a failed delivery can be retried" in text(admin.get(refused.location))
    assert db.session.get(EventDelivery, mine).status == "done"
    assert post(admin, f"{MARKET}/flaky/deliveries/{theirs}/retry").status_code == 404
    health = admin.get(MARKET + "/flaky/health").text
    assert f'data-delivery="{mine}"' in health and f'data-delivery="{theirs}"' not in health


def test_health_shows_request_time_errors_suspension_and_re_enables(
    admin, store, client, register_plugin, install, monkeypatch
):
    monkeypatch.setenv("KEDAI_PLUGIN_FAILURE_LIMIT", "2")
    register_plugin(Broken)
    install("broken")
    for page_name in ("home", "cart"):  # two pages: a cached list would not call the plugin
        assert client.get(f"/storefront/{store.slug}/widgets?page={page_name}").status_code == 200
    assert installation(store, "broken").status == "suspended"

    page = admin.get(MARKET + "/broken/health")
    reason = re.search(r'id="suspended-reason">(.*?)</div>', page.text, re.S).group(1)
    assert "suspended after 2 failures in a row" in html.unescape(reason)
    errors = page.text.split('id="errors"')[1]
    assert errors.count("boom in storefront_widgets") == 2
    assert "Suspended" in card(admin.get(MARKET + "/"), "broken")

    response = post(admin, MARKET + "/broken/enable")
    assert "Broken is enabled." in text(admin.get(response.location))
    row = installation(store, "broken")
    assert (row.status, row.failure_count, row.suspended_reason) == ("enabled", 0, "")


# --- uninstall --------------------------------------------------------------------------------


def test_uninstall_asks_then_removes_the_plugins_data(
    admin, store, other_store, plugins, install, deliver_events
):
    install("guestbook", **SETTINGS)
    install("guestbook", into=other_store, **SETTINGS)
    create_customer(store, {"email": "a@example.com"})
    create_customer(other_store, {"email": "b@example.com"})
    db.session.commit()
    deliver_events()
    assert kv(store, "guestbook", "signups") == 1

    question = admin.get(MARKET + "/guestbook/uninstall")
    assert question.status_code == 200
    assert "Uninstall Guestbook?" in text(question)
    assert controls(question)["confirm"]["type"] == "checkbox"
    unconfirmed = post(admin, MARKET + "/guestbook/uninstall")
    assert unconfirmed.status_code == 200
    assert "confirm" in error_of(unconfirmed, "confirm")
    assert installation(store, "guestbook") is not None
    assert kv(store, "guestbook", "signups") == 1

    done = post(admin, MARKET + "/guestbook/uninstall", confirm="yes")
    assert done.status_code == 302
    assert "uninstalled and its data in this store deleted" in text(admin.get(done.location))
    assert installation(store, "guestbook") is None
    assert kv(store, "guestbook", "signups") is None
    assert kv(other_store, "guestbook", "signups") == 1
    assert installation(other_store, "guestbook").status == "enabled"
    assert 'id="consent"' in admin.get(MARKET + "/guestbook").text  # can be installed again


# --- isolation --------------------------------------------------------------------------------


def test_another_stores_staff_never_see_or_touch_this_stores_installations(
    app, store, other_store, plugins, install, deliver_events
):
    install("guestbook", **SETTINGS)
    install("broken")
    create_customer(store, {"email": "a@example.com"})
    db.session.commit()
    deliver_events()
    rival = login(app, make_staff(other_store))

    page = rival.get(MARKET + "/")
    assert page.status_code == 200
    for plugin_id in ("guestbook", "broken"):
        assert "Installed" not in card(page, plugin_id)
    assert 'id="consent"' in rival.get(MARKET + "/guestbook").text
    for path in (
        "/guestbook/settings",
        "/guestbook/health",
        "/guestbook/uninstall",
        "/broken/health",
    ):
        assert rival.get(MARKET + path).status_code == 404
    for action in ("enable", "disable", "consent", "uninstall"):
        assert post(rival, f"{MARKET}/guestbook/{action}", confirm="yes").status_code == 404
    delivery_id = db.session.scalar(sa.select(EventDelivery.id))
    assert post(rival, f"{MARKET}/broken/deliveries/{delivery_id}/retry").status_code == 404
    assert installation(store, "guestbook").status == "enabled"
    assert installation(other_store, "guestbook") is None
    assert SECRET not in page.text
