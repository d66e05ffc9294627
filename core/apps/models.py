"""External apps (OAuth 2 clients), their installations in stores, codes and tokens.

Secrets, codes and tokens are kept only as SHA-256 digests, like API tokens: a database leak
does not hand out working credentials.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, StoreScoped, utcnow


class OAuthClient(StoreScoped, Base):
    """An app registered by a store (its developer). ``store_id`` is the registering store:
    client-credentials tokens act on it; any store's staff can install the app with consent."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: SHA-256 of the secret; empty for a public client (a browser or mobile app: PKCE only).
    client_secret_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    name: Mapped[str] = mapped_column(sa.String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    #: The scopes the app may ask for, space-separated.
    scopes: Mapped[str] = mapped_column(sa.String(1000))
    #: ``client_secret_basic`` (confidential) or ``none`` (public).
    token_endpoint_auth_method: Mapped[str] = mapped_column(sa.String(32))
    created_by: Mapped[str] = mapped_column(sa.String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 - a method name


class AppInstallation(StoreScoped, Base):
    """An app a store's staff consented to (or the registering store, for client credentials):
    what it may do here. Revoking it ends every token it holds in this store."""

    __tablename__ = "oauth_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[str] = mapped_column(sa.String(1000))
    installed_by: Mapped[str] = mapped_column(sa.String(100), default="system")
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    client: Mapped[OAuthClient] = relationship(lazy="joined")

    __table_args__ = (sa.UniqueConstraint("store_id", "client_pk"),)


class OAuthAuthorizationCode(StoreScoped, Base):
    """A one-time code of the authorization code flow, bound to its PKCE challenge."""

    __tablename__ = "oauth_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    installation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_installations.id", ondelete="CASCADE")
    )
    redirect_uri: Mapped[str] = mapped_column(sa.String(2000), default="")
    scope: Mapped[str] = mapped_column(sa.String(1000))
    code_challenge: Mapped[str] = mapped_column(sa.String(128), default="")
    code_challenge_method: Mapped[str] = mapped_column(sa.String(10), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return utcnow() - self.created_at > CODE_LIFETIME


#: RFC 6749 recommends at most ten minutes.
CODE_LIFETIME = timedelta(minutes=5)


class OAuthToken(StoreScoped, Base):
    """An access token (and its refresh token) of one installation."""

    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    installation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_installations.id", ondelete="CASCADE"), index=True
    )
    access_token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    scope: Mapped[str] = mapped_column(sa.String(1000))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_in: Mapped[int]
    access_revoked_at: Mapped[datetime | None]
    refresh_revoked_at: Mapped[datetime | None]

    client: Mapped[OAuthClient] = relationship(lazy="joined")
    installation: Mapped[AppInstallation] = relationship(lazy="joined")
