"""Staff login and logout: the real form with CSRF, wrong credentials shown on the form, safe
redirects after login, and every admin page behind the login."""

from __future__ import annotations

import flask_babel
import pytest
from flask import g

from core.db import db
from tests.conftest import STAFF_PASSWORD, csrf_token

ADMIN_PAGES = [
    "/admin/customers/",
    "/admin/customers/new",
    "/admin/customers/1",
    "/admin/customers/tags",
    "/admin/customers/fields",
    "/admin/orders/",
    "/admin/orders/1",
]


def log_in(client, email, password, **extra):
    token = csrf_token(client, "/admin/login")
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token, **extra},
    )


def test_login_opens_the_customer_list(client, staff, store):
    response = log_in(client, staff.email, STAFF_PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/customers/"
    assert client.get("/admin/customers/").status_code == 200
    assert staff.last_login_at is not None


def test_email_is_matched_whatever_its_case(client, staff):
    response = log_in(client, staff.email.upper(), STAFF_PASSWORD)

    assert response.status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [("owner@acme.test", "wrong password"), ("nobody@acme.test", STAFF_PASSWORD)],
)
def test_wrong_credentials_show_an_error_on_the_form(client, staff, email, password):
    response = log_in(client, email, password)

    assert response.status_code == 200
    assert "The email or password is wrong." in response.text
    assert 'class="form-control is-invalid"' in response.text
    assert client.get("/admin/customers/").status_code == 302


def test_a_deactivated_staff_member_cannot_log_in(client, staff):
    staff.active = False
    db.session.commit()

    response = log_in(client, staff.email, STAFF_PASSWORD)

    assert response.status_code == 200
    assert "The email or password is wrong." in response.text


def test_login_without_csrf_token_is_refused(client, staff):
    response = client.post("/admin/login", data={"email": staff.email, "password": STAFF_PASSWORD})

    assert response.status_code == 400
    assert client.get("/admin/customers/").status_code == 302


def test_login_follows_a_local_next_path(client, staff):
    response = log_in(client, staff.email, STAFF_PASSWORD, next="/admin/orders/?status=paid")

    assert response.headers["Location"] == "/admin/orders/?status=paid"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.test/phish",
        "//evil.test/phish",
        "/\\evil.test/phish",
        "javascript:alert(1)",
        "/admin/\r\nSet-Cookie: x=1",
    ],
)
def test_login_never_redirects_off_site(client, staff, target):
    response = log_in(client, staff.email, STAFF_PASSWORD, next=target)

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/customers/"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_send_visitors_to_the_login(client, store, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_the_login_page_carries_next_into_the_form(client, staff):
    redirect = client.get("/admin/customers/tags").headers["Location"]
    page = client.get(redirect)

    assert 'name="next" type="hidden" value="/admin/customers/tags"' in page.text
    token = csrf_token(client, redirect)
    response = client.post(
        "/admin/login",
        data={
            "email": staff.email,
            "password": STAFF_PASSWORD,
            "next": "/admin/customers/tags",
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/admin/customers/tags"


def test_actions_need_a_login_too(client, store, customer):
    token = csrf_token(client, "/admin/login")

    response = client.post(
        f"/admin/customers/{customer.id}/blacklist",
        data={"csrf_token": token, "blacklist_reason": "fraud"},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
    db.session.refresh(customer)
    assert customer.blacklisted is False


def test_logout_is_a_post_with_csrf(admin):
    assert admin.get("/admin/logout").status_code == 405
    assert admin.post("/admin/logout").status_code == 400
    assert admin.get("/admin/customers/").status_code == 200

    token = csrf_token(admin, "/admin/customers/")
    response = admin.post("/admin/logout", data={"csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login"
    assert admin.get("/admin/customers/").status_code == 302


def test_a_logged_in_visitor_of_the_login_page_goes_to_the_admin(admin):
    response = admin.get("/admin/login")

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/customers/"


def test_pages_follow_the_staff_member_s_language(admin, staff, customer, paid_order):
    staff.locale = "zh_Hant"
    db.session.commit()
    # The test's app context (and its ``g``) outlives requests; production gets one per request.
    flask_babel.refresh()

    for path in (
        "/admin/customers/",
        f"/admin/customers/{customer.id}",
        "/admin/orders/",
        f"/admin/orders/{paid_order.id}",
        "/admin/customers/tags",
    ):
        page = admin.get(path)
        assert page.status_code == 200, path
        assert '<html lang="zh-Hant">' in page.text


def forget_loaded_user() -> None:
    """Start the next request as production does: the test's app context keeps ``g`` (and the
    user Flask-Login cached in it) across requests, so drop it and make the session count."""
    g.pop("_login_user", None)


def test_the_session_loads_the_staff_member_on_each_request(admin, staff):
    forget_loaded_user()
    assert admin.get("/admin/customers/").status_code == 200

    staff.active = False
    db.session.commit()
    forget_loaded_user()

    response = admin.get("/admin/customers/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
