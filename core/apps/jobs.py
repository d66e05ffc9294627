"""The apps' daily housekeeping: codes and tokens that can no longer be used are deleted."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from core.apps.models import CODE_LIFETIME, OAuthAuthorizationCode, OAuthToken
from core.db import db, utcnow
from core.plugins.schedule import core_job
from core.stores.models import Store


@core_job("prune_app_tokens", "03:40")
def prune_app_tokens(store: Store, today: date) -> int:
    """Delete the store's expired codes and the tokens whose access token has expired or was
    revoked and whose refresh token cannot be used any more; returns how many rows went."""
    from core.apps.oauth import ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME

    now = utcnow()
    codes = db.session.execute(
        sa.delete(OAuthAuthorizationCode).where(
            OAuthAuthorizationCode.store_id == store.id,
            OAuthAuthorizationCode.created_at < now - CODE_LIFETIME)
        .execution_options(synchronize_session=False)
    ).rowcount
    access_over = sa.or_(OAuthToken.access_revoked_at.is_not(None),
                         OAuthToken.issued_at < now - timedelta(seconds=ACCESS_TOKEN_LIFETIME))
    refresh_over = sa.or_(OAuthToken.refresh_token_hash.is_(None),
                          OAuthToken.refresh_revoked_at.is_not(None),
                          OAuthToken.issued_at < now - REFRESH_TOKEN_LIFETIME)
    tokens = db.session.execute(
        sa.delete(OAuthToken).where(OAuthToken.store_id == store.id, access_over, refresh_over)
        .execution_options(synchronize_session=False)
    ).rowcount
    return codes + tokens
