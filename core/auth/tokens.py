"""Bearer tokens for the admin API, checked with Authlib's resource protector.

A token is bound to one store and a set of scopes. Routes declare the scope they need with
``@require_scope("customers:read")``; a missing or revoked token answers 401, a token without
the scope 403 (RFC 6750 error bodies).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2.rfc6750 import BearerTokenValidator

from core.auth.models import ApiToken
from core.db import db, utcnow, writing
from core.errors import ValidationError
from core.i18n import lazy_gettext as _l
from core.stores.models import Store

#: Every scope of the admin API, described in the merchant's words (the consent page and the
#: admin show these; ``docs/api.md`` lists what each allows).
SCOPES = {
    "customers:read": _l("See your customers, their tags, custom fields and history"),
    "customers:write": _l(
        "Add and change customers, their tags and custom fields; merge, blacklist or erase them"
    ),
    "orders:read": _l("See your orders"),
    "orders:write": _l("Place orders and mark them paid, fulfilled, cancelled or refunded"),
    "webhooks:read": _l("See where your store sends its events, and what was sent"),
    "webhooks:write": _l("Send your store's events to other addresses, and change where they go"),
    "plugins:read": _l("See which plugins your store uses"),
    "events:read": _l("Read everything that happens in your store, as it happens"),
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, scopes: list[str], *, name: str = "") -> tuple[ApiToken, str]:
    """Issue a token; the plain text is returned once and never stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationError(
            f"unknown scope {unknown[0]!r}; known scopes: {', '.join(SCOPES)}", field="scopes"
        )
    if not scopes:
        raise ValidationError("give at least one scope", field="scopes")
    plain = "kd_" + secrets.token_urlsafe(32)
    token = ApiToken(
        store_id=store.id,
        name=name,
        token_hash=hash_token(plain),
        prefix=plain[:10],
        scopes=" ".join(sorted(set(scopes))),
    )
    db.session.add(token)
    db.session.flush()
    return token, plain


class _Grant:
    """What Authlib's validator asks of a token."""

    def __init__(self, token: ApiToken) -> None:
        self.token = token
        self.store_id = token.store_id
        #: Who the events of its requests name.
        self.actor = f"api:{token.id}"

    def get_scope(self) -> str:
        return self.token.scopes

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return self.token.revoked_at is not None


class KedaiBearerValidator(BearerTokenValidator):
    """API tokens (``kd_…``) and OAuth access tokens of installed apps (``kdo_…``)."""

    def authenticate_token(self, token_string: str) -> Any:
        if token_string.startswith("kdo_"):
            from core.apps.oauth import authenticate_access_token

            return authenticate_access_token(token_string)
        token = db.session.scalar(
            sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token_string))
        )
        if token is None:
            return None
        now = utcnow()
        # Write last use at most once a minute: a busy integration should not write per call.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            # A GET runs in a read-only transaction: end it, and write in one of its own.
            db.session.commit()
            with writing():
                db.session.execute(
                    sa.update(ApiToken).where(ApiToken.id == token.id)
                    .values(last_used_at=now).execution_options(synchronize_session=False)
                )
                db.session.commit()
        return _Grant(token)


require_scope = ResourceProtector()
require_scope.register_token_validator(KedaiBearerValidator())


def token_store() -> Store:
    """The store the current request's token belongs to."""
    return db.session.get(Store, current_token.store_id)


def revoke(token: ApiToken, when: datetime | None = None) -> None:
    token.revoked_at = when or utcnow()
