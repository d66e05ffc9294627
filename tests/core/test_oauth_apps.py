"""External apps over real HTTP: Authlib's own OAuth 2 client against Kedai on a live server.

The merchant's browser is a ``requests`` session that logs in through the admin's form and
answers the consent page; the app is ``authlib.integrations.requests_client.OAuth2Session``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
import time_machine
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from werkzeug.serving import make_server

from core.apps import service as apps
from core.apps.models import AppInstallation, OAuthToken
from core.cli import main
from core.customers import service as customers
from core.db import db, write_intent
from tests.conftest import STAFF_PASSWORD, make_staff, make_store

REDIRECT = "https://app.example.com/callback"


@pytest.fixture
def live(app, committing_db) -> Iterator[str]:
    """Kedai served on 127.0.0.1 by a thread, on the test database (real commits).

    The test's own reads begin deferred transactions (as a GET does), so looking at a row here
    never takes SQLite's write lock from the server; ``fresh()`` ends the test's snapshot
    before it reads what the server wrote."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = write_intent.set(False)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        write_intent.reset(token)
        server.shutdown()
        thread.join(5)


def fresh():
    """End the test's transaction, so the next read sees what the server committed."""
    db.session.rollback()
    return db.session


@pytest.fixture
def acme(live):
    store = make_store("acme", name="Acme Tea")
    make_staff(store)
    customers.create_customer(store, {"email": "mei@example.com", "first_name": "Mei"})
    db.session.commit()
    return store


@pytest.fixture
def rival(live):
    store = make_store("rival", name="Rival Tea")
    customer = customers.create_customer(store, {"email": "own@rival.test"})
    db.session.commit()
    return store, customer.id


def register(store, scopes="customers:read orders:read", *, public=False, uris=(REDIRECT,)):
    client, secret = apps.register_app(store, "Loyalty Sync", list(uris), scopes, public=public)
    client_id = client.client_id
    db.session.commit()
    return client_id, secret


def browser(live: str, email: str = "owner@acme.test") -> requests.Session:
    """A merchant logged in through the admin's login form."""
    session = requests.Session()
    page = session.get(f"{live}/admin/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    answer = session.post(f"{live}/admin/login", allow_redirects=False,
                          data={"email": email, "password": STAFF_PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.text
    return session


def consent(merchant: requests.Session, url: str, decision: str = "allow") -> requests.Response:
    page = merchant.get(url)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return merchant.post(page.url, data={"csrf_token": token, "decision": decision},
                         allow_redirects=False)


def authorize(live, merchant, oauth, verifier, **params):
    url, state = oauth.create_authorization_url(f"{live}/oauth/authorize",
                                                code_verifier=verifier, **params)
    answer = consent(merchant, url)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT)
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    return location


# --- the authorization code flow ---------------------------------------------------------------


def test_code_flow_with_pkce_then_the_api_refresh_introspect_revoke(live, acme, rival):
    client_id, secret = register(acme)
    oauth = OAuth2Session(client_id, secret, scope="customers:read", redirect_uri=REDIRECT,
                          code_challenge_method="S256")
    verifier = generate_token(48)
    merchant = browser(live)

    url, _ = oauth.create_authorization_url(f"{live}/oauth/authorize", code_verifier=verifier)
    page = merchant.get(url)
    assert "Allow Loyalty Sync to use Acme Tea?" in page.text
    assert "See your customers, their tags, custom fields and history" in page.text
    assert "See your orders" not in page.text  # only what the app asked for

    location = authorize(live, merchant, oauth, verifier)
    token = oauth.fetch_token(f"{live}/oauth/token", authorization_response=location,
                              code_verifier=verifier)
    assert token["scope"] == "customers:read"
    assert token["access_token"].startswith("kdo_") and token["refresh_token"].startswith("kdr_")
    assert token["expires_in"] == 3600

    # The API with the app's token: its store's customers, nothing of the rival store.
    listed = oauth.get(f"{live}/api/v1/customers")
    assert listed.status_code == 200
    assert [c["email"] for c in listed.json()["items"]] == ["mei@example.com"]
    _, rival_customer = rival
    assert oauth.get(f"{live}/api/v1/customers/{rival_customer}").status_code == 404
    # A scope it was not granted: 403 with the RFC 6750 error.
    orders = oauth.get(f"{live}/api/v1/orders")
    assert orders.status_code == 403
    assert orders.json()["error"]["code"] == "insufficient_scope"
    created = oauth.post(f"{live}/api/v1/customers", json={"email": "new@example.com"})
    assert created.status_code == 403

    # Events the app causes name it.
    installation = fresh().scalar(sa.select(AppInstallation))
    assert installation.store_id == acme.id and installation.last_used_at is not None

    # Refresh: a new pair; the old access and refresh tokens end.
    old = dict(token)
    new = oauth.refresh_token(f"{live}/oauth/token")
    assert new["access_token"] != old["access_token"]
    assert oauth.get(f"{live}/api/v1/customers").status_code == 200
    stale = requests.get(f"{live}/api/v1/customers",
                         headers={"Authorization": f"Bearer {old['access_token']}"})
    assert stale.status_code == 401
    replay = requests.post(f"{live}/oauth/token", auth=(client_id, secret),
                           data={"grant_type": "refresh_token",
                                 "refresh_token": old["refresh_token"]})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

    # Introspection (RFC 7662) by the client the token belongs to.
    facts = oauth.introspect_token(f"{live}/oauth/introspect", token=new["access_token"]).json()
    assert facts["active"] is True
    assert (facts["client_id"], facts["scope"], facts["store"]) == (
        client_id, "customers:read", "acme")
    assert facts["exp"] - facts["iat"] == 3600
    fresh()
    other_id, other_secret = register(acme)
    stranger = OAuth2Session(other_id, other_secret)
    peek = stranger.introspect_token(f"{live}/oauth/introspect", token=new["access_token"])
    assert peek.json() == {"active": False}

    # Revocation (RFC 7009) of the refresh token ends the pair.
    revoked = oauth.revoke_token(f"{live}/oauth/revoke", token=new["refresh_token"],
                                 token_type_hint="refresh_token")
    assert revoked.status_code == 200
    assert oauth.get(f"{live}/api/v1/customers").status_code == 401
    after = oauth.introspect_token(f"{live}/oauth/introspect", token=new["access_token"])
    assert after.json() == {"active": False}


def test_an_authorization_code_works_once_and_needs_its_verifier(live, acme):
    client_id, secret = register(acme)
    oauth = OAuth2Session(client_id, secret, redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    location = authorize(live, browser(live), oauth, verifier)
    code = parse_qs(urlsplit(location).query)["code"][0]
    wrong = requests.post(f"{live}/oauth/token", auth=(client_id, secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": generate_token(48)})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "code_verifier": verifier}
    first = requests.post(f"{live}/oauth/token", auth=(client_id, secret), data=exchange)
    assert first.status_code == 200, first.text
    again = requests.post(f"{live}/oauth/token", auth=(client_id, secret), data=exchange)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_codes_expire_after_five_minutes(live, acme):
    client_id, secret = register(acme)
    oauth = OAuth2Session(client_id, secret, redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    location = authorize(live, browser(live), oauth, verifier)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6)):
        late = requests.post(f"{live}/oauth/token", auth=(client_id, secret), data={
            "grant_type": "authorization_code", "redirect_uri": REDIRECT,
            "code": parse_qs(urlsplit(location).query)["code"][0], "code_verifier": verifier})
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_a_public_client_must_use_pkce_s256(live, acme):
    client_id, secret = register(acme, public=True)
    assert secret is None
    merchant = browser(live)
    base = f"{live}/oauth/authorize?response_type=code&client_id={client_id}"
    for query in ("", "&code_challenge=" + create_s256_code_challenge(generate_token(48))
                  + "&code_challenge_method=plain"):
        refused = merchant.get(base + query, allow_redirects=False)
        assert refused.status_code == 302
        assert parse_qs(urlsplit(refused.headers["Location"]).query)["error"] == [
            "invalid_request"]

    oauth = OAuth2Session(client_id, redirect_uri=REDIRECT, code_challenge_method="S256",
                          token_endpoint_auth_method="none")
    verifier = generate_token(48)
    location = authorize(live, merchant, oauth, verifier)
    code = parse_qs(urlsplit(location).query)["code"][0]
    without = requests.post(f"{live}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": client_id,
        "redirect_uri": REDIRECT})
    assert without.status_code == 400 and without.json()["error"] == "invalid_request"
    token = oauth.fetch_token(f"{live}/oauth/token", authorization_response=location,
                              code_verifier=verifier)
    assert oauth.get(f"{live}/api/v1/customers").status_code == 200
    # Public clients cannot use client credentials.
    assert "refresh_token" in token
    cc = requests.post(f"{live}/oauth/token",
                       data={"grant_type": "client_credentials", "client_id": client_id})
    assert cc.status_code == 401 and cc.json()["error"] == "invalid_client"


def test_the_merchant_can_deny_and_only_the_owner_consents(live, acme):
    client_id, secret = register(acme)
    oauth = OAuth2Session(client_id, secret, redirect_uri=REDIRECT, code_challenge_method="S256")
    url, _ = oauth.create_authorization_url(f"{live}/oauth/authorize",
                                            code_verifier=generate_token(48))
    denied = consent(browser(live), url, decision="deny")
    assert parse_qs(urlsplit(denied.headers["Location"]).query)["error"] == ["access_denied"]
    assert fresh().scalar(sa.select(sa.func.count()).select_from(AppInstallation)) == 0

    make_staff(acme, role="staff")
    assert browser(live, "staff@acme.test").get(url).status_code == 403


def test_bad_requests_never_reach_an_unregistered_redirect(live, acme):
    client_id, _ = register(acme)
    merchant = browser(live)
    evil = merchant.get(f"{live}/oauth/authorize?response_type=code&client_id={client_id}"
                        "&redirect_uri=https://evil.example/cb", allow_redirects=False)
    assert evil.status_code == 400 and "evil.example" not in evil.headers.get("Location", "")
    asked_too_much = merchant.get(
        f"{live}/oauth/authorize?response_type=code&client_id={client_id}&scope=orders:write",
        allow_redirects=False)
    assert parse_qs(urlsplit(asked_too_much.headers["Location"]).query)["error"] == [
        "invalid_scope"]


def test_anonymous_visitors_log_in_first_and_come_back(live, acme):
    client_id, _ = register(acme)
    url = f"{live}/oauth/authorize?response_type=code&client_id={client_id}"
    answer = requests.get(url, allow_redirects=False)
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]


# --- client credentials and the admin -----------------------------------------------------------


def test_client_credentials_act_on_the_registering_store_until_revoked(live, acme, rival):
    client_id, secret = register(acme, "customers:read events:read")
    oauth = OAuth2Session(client_id, secret)
    token = oauth.fetch_token(f"{live}/oauth/token", grant_type="client_credentials")
    assert set(token["scope"].split()) == {"customers:read", "events:read"}
    assert "refresh_token" not in token
    assert oauth.get(f"{live}/api/v1/events").status_code == 200
    _, rival_customer = rival
    assert oauth.get(f"{live}/api/v1/customers/{rival_customer}").status_code == 404
    assert oauth.get(f"{live}/api/v1/orders").status_code == 403
    too_much = requests.post(f"{live}/oauth/token", auth=(client_id, secret),
                             data={"grant_type": "client_credentials", "scope": "orders:write"})
    assert too_much.status_code == 400 and too_much.json()["error"] == "invalid_scope"
    bad_secret = requests.post(f"{live}/oauth/token", auth=(client_id, "kds_wrong"),
                               data={"grant_type": "client_credentials"})
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"

    # The admin lists the app with what it may do and when it last worked; the owner revokes.
    merchant = browser(live)
    page = merchant.get(f"{live}/admin/apps/").text
    assert "Loyalty Sync" in page and "Read everything that happens in your store" in page
    assert "Never" not in page.split('id="installed"')[1].split("</table>")[0]
    installation = fresh().scalar(sa.select(AppInstallation))
    fresh()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    merchant.post(f"{live}/admin/apps/installed/{installation.id}/revoke",
                  data={"csrf_token": csrf})
    assert oauth.get(f"{live}/api/v1/events").status_code == 401
    again = requests.post(f"{live}/oauth/token", auth=(client_id, secret),
                          data={"grant_type": "client_credentials"})
    assert again.status_code == 400 and again.json()["error"] == "unauthorized_client"
    assert all(t.access_revoked_at for t in fresh().scalars(sa.select(OAuthToken)))


def test_metadata_describes_the_server(live):
    meta = requests.get(f"{live}/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint"] == f"{live}/oauth/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "webhooks:write" in meta["scopes_supported"]


# --- registering apps ------------------------------------------------------------------------


def test_kedai_apps_create_prints_the_client_as_json(app, store):
    result = app.test_cli_runner().invoke(main, [
        "apps", "create", "--store", store.slug, "--name", "Sync",
        "--redirect-uri", REDIRECT, "--scopes", "customers:read orders:read"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["client_id"].startswith("app_")
    assert printed["client_secret"].startswith("kds_")
    assert printed["scopes"] == ["customers:read", "orders:read"]
    assert printed["redirect_uris"] == [REDIRECT]
    bad = app.test_cli_runner().invoke(main, [
        "apps", "create", "--store", store.slug, "--name", "Sync", "--scopes", "orders:delete"])
    assert bad.exit_code == 1 and "unknown scope 'orders:delete'" in bad.output


def test_redirect_uris_must_be_https_except_on_this_machine(store):
    from core.errors import ValidationError

    for uri in ("http://app.example.com/cb", "https://app.example.com/cb#x", "ftp://x/"):
        with pytest.raises(ValidationError) as info:
            apps.register_app(store, "App", [uri], "customers:read")
        assert info.value.field == "redirect_uris"
    client, _ = apps.register_app(store, "App", ["http://127.0.0.1:8765/cb"], "orders:read")
    assert client.redirect_uris == ["http://127.0.0.1:8765/cb"]


def test_the_owner_registers_an_app_in_the_admin_and_sees_the_secret_once(admin, store):
    from tests.conftest import csrf_token

    token = csrf_token(admin, "/admin/apps/new")
    page = admin.post("/admin/apps/new", data={
        "csrf_token": token, "name": "Reports", "redirect_uris": REDIRECT,
        "scopes": ["orders:read", "customers:read"]})
    assert page.status_code == 200
    secret = re.search(r'id="client-secret">([^<]+)<', page.text).group(1)
    [client] = apps.registered_apps(store)
    assert client.client_secret_hash == apps.digest(secret)
    listing = admin.get("/admin/apps/").text
    assert client.client_id in listing and secret not in listing


def test_plain_http_on_a_public_host_is_refused_not_a_crash(app, client, store):
    client_id, secret = register(store)
    answer = client.post("/oauth/token", base_url="http://shop.example.com",
                         auth=(client_id, secret), data={"grant_type": "client_credentials"})
    assert answer.status_code == 400 and answer.json["error"] == "insecure_transport"
    secure = client.post("/oauth/token", base_url="https://shop.example.com",
                         auth=(client_id, secret), data={"grant_type": "client_credentials"})
    assert secure.status_code == 200 and secure.json["access_token"].startswith("kdo_")


@pytest.mark.postgres_only
def test_one_refresh_token_used_twice_at_once_gives_one_new_pair(live, acme, is_postgres):
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks (SQLite serializes writers anyway)")
    from concurrent.futures import ThreadPoolExecutor

    client_id, secret = register(acme)
    oauth = OAuth2Session(client_id, secret, redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    location = authorize(live, browser(live), oauth, verifier)
    token = oauth.fetch_token(f"{live}/oauth/token", authorization_response=location,
                              code_verifier=verifier)

    def refresh(_):
        return requests.post(f"{live}/oauth/token", auth=(client_id, secret), data={
            "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(refresh, range(4)))
    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400]
    assert fresh().scalar(sa.select(sa.func.count()).select_from(OAuthToken).where(
        OAuthToken.refresh_revoked_at.is_(None))) == 1


def test_what_an_app_does_is_signed_with_its_name(admin, store):
    from tests.conftest import events_of

    client_id, secret = register(store, "customers:write")
    token = admin.post("/oauth/token", auth=(client_id, secret),
                       data={"grant_type": "client_credentials"}).json["access_token"]
    created = admin.post("/api/v1/customers", headers={"Authorization": f"Bearer {token}"},
                         json={"email": "via-app@example.com"})
    assert created.status_code == 201, created.json
    [event] = events_of(store, "customer.created")
    assert event.actor == f"app:{client_id}"
    page = admin.get(f"/admin/customers/{created.json['id']}").text
    assert "app Loyalty Sync" in page


def test_access_tokens_expire_after_an_hour(client, store):
    client_id, secret = register(store, "customers:read")
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        token = client.post("/oauth/token", auth=(client_id, secret),
                            data={"grant_type": "client_credentials"}).json["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        clock.shift(timedelta(minutes=59))
        assert client.get("/api/v1/customers", headers=bearer).status_code == 200
        clock.shift(timedelta(minutes=2))
        late = client.get("/api/v1/customers", headers=bearer)
        assert late.status_code == 401 and late.json["error"]["code"] == "invalid_token"


def test_deleting_a_registered_app_ends_its_tokens(admin, store):
    from tests.conftest import csrf_token

    client_id, secret = register(store, "customers:read")
    token = admin.post("/oauth/token", auth=(client_id, secret),
                       data={"grant_type": "client_credentials"}).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert admin.get("/api/v1/customers", headers=bearer).status_code == 200
    [registered] = apps.registered_apps(store)
    answer = admin.post(f"/admin/apps/registered/{registered.id}/delete",
                        data={"csrf_token": csrf_token(admin, "/admin/apps/")})
    assert answer.status_code == 302
    assert admin.get("/api/v1/customers", headers=bearer).status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OAuthToken)) == 0
    assert "No app is installed." in admin.get("/admin/apps/").text


def test_dead_codes_and_tokens_are_pruned_daily(client, store, other_store):
    from core.apps.jobs import prune_app_tokens
    from core.apps.models import OAuthAuthorizationCode

    client_id, secret = register(store, "customers:read")
    rival_id, rival_secret = register(other_store, "customers:read")
    start = datetime.now(UTC)

    def token_for(who, password):
        return client.post("/oauth/token", auth=(who, password),
                           data={"grant_type": "client_credentials"}).json["access_token"]

    with time_machine.travel(start, tick=False) as clock:
        token_for(client_id, secret)  # expires; no refresh token
        token_for(rival_id, rival_secret)  # another store's: not this store's job
        installation = db.session.scalar(sa.select(AppInstallation).where(
            AppInstallation.store_id == store.id))
        db.session.add(OAuthAuthorizationCode(
            store_id=store.id, code_hash="0" * 64, client_pk=installation.client_pk,
            installation_id=installation.id, scope="customers:read"))
        db.session.commit()
        clock.shift(timedelta(minutes=59))
        live = token_for(client_id, secret)
        clock.shift(timedelta(minutes=30))
        assert prune_app_tokens(store, start.date()) == 2  # code + dead token
        db.session.commit()
        remaining = db.session.scalars(sa.select(OAuthToken.store_id)).all()
        assert sorted(remaining) == sorted([store.id, other_store.id])
        bearer = {"Authorization": f"Bearer {live}"}
        assert client.get("/api/v1/customers", headers=bearer).status_code == 200
