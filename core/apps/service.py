"""Registering apps and installing them in stores; the rules, without HTTP."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from core.apps.models import AppInstallation, OAuthAuthorizationCode, OAuthClient, OAuthToken
from core.db import db, utcnow
from core.errors import NotFound, ValidationError
from core.stores.models import Store


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def parse_scopes(scopes: str | list[str]) -> list[str]:
    """Known scopes, sorted and without duplicates; names the first unknown one."""
    from core.auth.tokens import SCOPES

    names = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    unknown = sorted(set(names) - set(SCOPES))
    if unknown:
        raise ValidationError(
            f"unknown scope {unknown[0]!r}; known scopes: {', '.join(SCOPES)}", field="scopes"
        )
    if not names:
        raise ValidationError("give at least one scope", field="scopes")
    return sorted(set(names))


def describe_scopes(scopes: str) -> list[tuple[str, Any]]:
    """``[(scope, what it allows in the merchant's words)]`` in the order of ``SCOPES``."""
    from core.auth.tokens import SCOPES

    granted = set(scopes.split())
    return [(name, text) for name, text in SCOPES.items() if name in granted]


def check_redirect_uri(uri: str) -> str:
    """An absolute https URL without a fragment; plain http only to this machine (a
    developer's app, a native app's loopback redirect, RFC 8252)."""
    uri = uri.strip()
    parts = urlsplit(uri)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValidationError("a redirect URI is an absolute https:// URL", field="redirect_uris")
    if parts.scheme == "http" and not local:
        raise ValidationError("a redirect URI must use https:// (http only for localhost)",
                              field="redirect_uris")
    if parts.fragment or "#" in uri:
        raise ValidationError("a redirect URI cannot have a #fragment", field="redirect_uris")
    if len(uri) > 2000:
        raise ValidationError("the redirect URI is too long", field="redirect_uris")
    return uri


def register_app(store: Store, name: str, redirect_uris: list[str], scopes: str | list[str],
                 *, public: bool = False, actor: str = "system"
                 ) -> tuple[OAuthClient, str | None]:
    """Register an app; returns it with its client secret in plain text (shown once), or
    ``None`` for a public client."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError("give the app a name of at most 200 characters", field="name")
    uris = [check_redirect_uri(uri) for uri in redirect_uris if uri.strip()]
    if public and not uris:
        raise ValidationError("a public app needs a redirect URI", field="redirect_uris")
    secret = None if public else "kds_" + secrets.token_urlsafe(32)
    client = OAuthClient(
        store_id=store.id,
        client_id="app_" + secrets.token_urlsafe(18),
        client_secret_hash=digest(secret) if secret else "",
        name=name,
        redirect_uris=list(dict.fromkeys(uris)),
        scopes=" ".join(parse_scopes(scopes)),
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        created_by=actor,
    )
    db.session.add(client)
    db.session.flush()
    return client, secret


def registered_apps(store: Store) -> list[OAuthClient]:
    return list(db.session.scalars(
        sa.select(OAuthClient).where(OAuthClient.store_id == store.id).order_by(OAuthClient.id)))


def get_registered_app(store: Store, app_id: int) -> OAuthClient:
    client = db.session.scalar(sa.select(OAuthClient).where(
        OAuthClient.store_id == store.id, OAuthClient.id == app_id))
    if client is None:
        raise NotFound(f"app {app_id} not found")
    return client


def delete_app(store: Store, client: OAuthClient) -> None:
    """Remove a registered app: every installation and token of it, in every store, ends."""
    db.session.delete(client)
    db.session.flush()


def install(store: Store, client: OAuthClient, scopes: str, *, actor: str) -> AppInstallation:
    """Record the store's consent (again): the app may now use ``scopes`` here."""
    installation = db.session.scalar(sa.select(AppInstallation).where(
        AppInstallation.store_id == store.id, AppInstallation.client_pk == client.id))
    if installation is None:
        installation = AppInstallation(store_id=store.id, client_pk=client.id, scopes=scopes,
                                       installed_by=actor)
        db.session.add(installation)
    else:
        installation.scopes = scopes
        installation.installed_by = actor
        installation.installed_at = utcnow()
        installation.revoked_at = None
    db.session.flush()
    return installation


def installations(store: Store) -> list[AppInstallation]:
    """The store's installed apps, those still active first."""
    return list(db.session.scalars(
        sa.select(AppInstallation).where(AppInstallation.store_id == store.id)
        .order_by(AppInstallation.revoked_at.is_not(None), AppInstallation.installed_at.desc())))


def get_installation(store: Store, installation_id: int) -> AppInstallation:
    installation = db.session.scalar(sa.select(AppInstallation).where(
        AppInstallation.store_id == store.id, AppInstallation.id == installation_id))
    if installation is None:
        raise NotFound(f"installed app {installation_id} not found")
    return installation


def revoke_installation(store: Store, installation: AppInstallation) -> None:
    """The merchant takes the app's access away: its tokens and pending codes end now."""
    now = utcnow()
    installation.revoked_at = now
    db.session.execute(
        sa.update(OAuthToken)
        .where(OAuthToken.store_id == store.id, OAuthToken.installation_id == installation.id)
        .values(access_revoked_at=sa.func.coalesce(OAuthToken.access_revoked_at, now),
                refresh_revoked_at=sa.func.coalesce(OAuthToken.refresh_revoked_at, now))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.delete(OAuthAuthorizationCode).where(
            OAuthAuthorizationCode.store_id == store.id,
            OAuthAuthorizationCode.installation_id == installation.id)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
