"""Creating stores and their staff."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, available_timezones

import sqlalchemy as sa
from babel.numbers import get_currency_precision, list_currencies
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import db, utcnow
from core.errors import Conflict, Forbidden, NotFound, ValidationError
from core.stores.models import StaffUser, Store

LOCALES = ("en", "zh_Hant", "zh_Hans")


def get_store(slug: str) -> Store:
    store = db.session.scalar(sa.select(Store).where(Store.slug == slug))
    if store is None:
        raise NotFound(f"store {slug!r} not found", field="store")
    return store


def create_store(
    slug: str,
    name: str,
    *,
    currency: str = "MYR",
    timezone: str = "Asia/Kuala_Lumpur",
    default_phone_region: str = "MY",
    locale: str = "en",
) -> Store:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", slug):
        raise ValidationError("use 2-63 lowercase letters, digits and -", field="slug")
    if currency not in list_currencies():
        raise ValidationError(f"{currency!r} is not an ISO 4217 currency", field="currency")
    if timezone not in available_timezones():
        raise ValidationError(f"{timezone!r} is not an IANA timezone", field="timezone")
    ZoneInfo(timezone)
    if locale not in LOCALES:
        raise ValidationError(f"locale must be one of {', '.join(LOCALES)}", field="locale")
    if db.session.scalar(sa.select(Store.id).where(Store.slug == slug)):
        raise Conflict(f"a store {slug!r} already exists", field="slug")
    store = Store(
        slug=slug,
        name=name,
        currency=currency,
        timezone=timezone,
        default_phone_region=default_phone_region.upper(),
        locale=locale,
    )
    db.session.add(store)
    db.session.flush()
    return store


def minor_units(store: Store) -> int:
    """Digits after the decimal point in the store's currency (2 for MYR, 0 for JPY/TWD…)."""
    return get_currency_precision(store.currency)


def create_staff(
    store: Store, email: str, password: str, *, name: str = "", role: str = "staff"
) -> StaffUser:
    email = email.strip().lower()
    if role not in ("owner", "staff"):
        raise ValidationError("role must be owner or staff", field="role")
    if len(password) < 8:
        raise ValidationError("the password needs at least 8 characters", field="password")
    if db.session.scalar(sa.select(StaffUser.id).where(StaffUser.email == email)):
        raise Conflict(f"a staff user {email} already exists", field="email")
    user = StaffUser(
        store_id=store.id,
        email=email,
        name=name,
        role=role,
        password_hash=generate_password_hash(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate_staff(email: str, password: str) -> StaffUser:
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    # Hash even when the user is unknown so timing does not reveal which emails exist.
    stored = user.password_hash if user else generate_password_hash("timing-equaliser")
    if not check_password_hash(stored, password) or user is None or not user.active:
        raise Forbidden("the email or password is wrong", field="password")
    user.last_login_at = utcnow()
    return user
