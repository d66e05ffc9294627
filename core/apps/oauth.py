"""The OAuth 2 authorization server for external apps, built on Authlib.

* Authorization code with PKCE (RFC 7636, ``S256`` only; required for public clients): the
  store's owner sees a consent page listing the scopes in the merchant's words.
* Client credentials, for an app acting on the store that registered it.
* Refresh tokens, rotated on every use (the old pair ends).
* Revocation (RFC 7009) and introspection (RFC 7662), for the client the token was issued to.
* Metadata (RFC 8414) at ``/.well-known/oauth-authorization-server``.

Every token is bound to one store through its installation; ``core.auth.tokens.require_scope``
accepts access tokens (``kdo_…``) beside API tokens. Codes and tokens are stored as SHA-256
digests only.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Blueprint, Flask, abort, jsonify, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core.apps import service
from core.apps.models import AppInstallation, OAuthAuthorizationCode, OAuthClient, OAuthToken
from core.db import db, utcnow, writing
from core.extensions import csrf
from core.stores.models import Store

ACCESS_TOKEN_LIFETIME = 3600
REFRESH_TOKEN_LIFETIME = timedelta(days=60)
#: Secret-using methods for confidential clients; ``none`` is a public client's.
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


# --- what Authlib asks of a client and a token -----------------------------------------------


class Client(ClientMixin):
    """An ``OAuthClient`` row as Authlib sees it."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.client_id = row.client_id

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scope, or everything the app registered when it asks for nothing;
        ``None`` (refused) when it asks for more than it registered."""
        allowed = set(self.row.scopes.split())
        if not scope:
            return self.row.scopes
        wanted = set(scope.split())
        return " ".join(sorted(wanted)) if wanted <= allowed else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact match, as OAuth 2.1 requires: no prefixes, no wildcards.
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.row.client_secret_hash:
            return False
        return secrets.compare_digest(self.row.client_secret_hash, service.digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row.public:
            return method == "none"
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and bool(self.row.redirect_uris)

    def check_grant_type(self, grant_type: str) -> bool:
        allowed = {"authorization_code", "refresh_token"}
        if not self.row.public:
            allowed.add("client_credentials")
        return grant_type in allowed


class TokenView:
    """An ``OAuthToken`` row as Authlib's endpoints and the resource protector see it."""

    def __init__(self, row: OAuthToken) -> None:
        self.row = row
        self.store_id = row.store_id
        self.actor = f"app:{row.client.client_id}"

    def check_client(self, client: Client) -> bool:
        return self.row.client_pk == client.row.id

    def get_scope(self) -> str:
        # A token never does more than the installation allows now (consent may narrow it).
        allowed = set(self.row.installation.scopes.split())
        return " ".join(s for s in self.row.scope.split() if s in allowed)

    def get_expires_in(self) -> int:
        return self.row.expires_in

    def expires_at(self) -> int:
        return int(self.row.issued_at.timestamp()) + self.row.expires_in

    def is_expired(self) -> bool:
        return utcnow().timestamp() >= self.expires_at()

    def is_revoked(self) -> bool:
        return self.row.access_revoked_at is not None or (
            self.row.installation.revoked_at is not None
        )

    def refresh_usable(self) -> bool:
        return (
            self.row.refresh_token_hash is not None
            and self.row.refresh_revoked_at is None
            and self.row.installation.revoked_at is None
            and utcnow() - self.row.issued_at < REFRESH_TOKEN_LIFETIME
        )


def _token_by(column: Any, value: str, *, lock: bool = False) -> OAuthToken | None:
    query = sa.select(OAuthToken).where(column == service.digest(value))
    if lock:
        # Two refreshes with one refresh token at once: the second waits, then finds it used.
        query = query.with_for_update(of=OAuthToken)
    return db.session.scalar(query)


def authenticate_access_token(token_string: str) -> TokenView | None:
    """The resource protector's lookup of an access token (``kdo_…``); notes the app's last
    use on its installation, at most once a minute."""
    row = _token_by(OAuthToken.access_token_hash, token_string)
    if row is None:
        return None
    installation = row.installation
    now = utcnow()
    if installation.revoked_at is None and (
        installation.last_used_at is None
        or (now - installation.last_used_at).total_seconds() > 60
    ):
        # A GET runs in a read-only transaction: end it, and write in one of its own.
        db.session.commit()
        with writing():
            db.session.execute(
                sa.update(AppInstallation).where(AppInstallation.id == installation.id)
                .values(last_used_at=now).execution_options(synchronize_session=False)
            )
            db.session.commit()
    return TokenView(row)


# --- grants -----------------------------------------------------------------------------------


class S256Only(CodeChallenge):
    """PKCE with ``S256`` only (``plain`` protects nothing a stolen request does not show);
    a public client must use it."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        payload = grant.request.payload.data
        if grant.request.client.row.public and not payload.get("code_challenge"):
            raise InvalidRequestError("A public client must send a PKCE 'code_challenge' (S256).")
        if payload.get("code_challenge") and payload.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Send code_challenge_method=S256.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]

    def save_authorization_code(self, code: str, request: Any) -> None:
        installation: AppInstallation = request.user
        payload = request.payload.data
        db.session.add(OAuthAuthorizationCode(
            store_id=installation.store_id,
            code_hash=service.digest(code),
            client_pk=request.client.row.id,
            installation_id=installation.id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope or "",
            code_challenge=payload.get("code_challenge") or "",
            code_challenge_method=payload.get("code_challenge_method") or "",
        ))

    def query_authorization_code(self, code: str, client: Client) -> Any:
        # Locked: of two exchanges of one code at once, the second finds it deleted.
        row = db.session.scalar(sa.select(OAuthAuthorizationCode).where(
            OAuthAuthorizationCode.code_hash == service.digest(code),
            OAuthAuthorizationCode.client_pk == client.row.id).with_for_update())
        if row is not None and not row.is_expired():
            return row
        return None

    def delete_authorization_code(self, authorization_code: OAuthAuthorizationCode) -> None:
        db.session.delete(authorization_code)

    def authenticate_user(self, authorization_code: OAuthAuthorizationCode) -> Any:
        installation = db.session.get(AppInstallation, authorization_code.installation_id)
        if installation is None or installation.revoked_at is not None:
            return None
        return installation


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenView | None:
        row = _token_by(OAuthToken.refresh_token_hash, refresh_token, lock=True)
        if row is None:
            return None
        view = TokenView(row)
        return view if view.refresh_usable() else None

    def authenticate_user(self, refresh_token: TokenView) -> AppInstallation:
        return refresh_token.row.installation

    def revoke_old_credential(self, refresh_token: TokenView) -> None:
        now = utcnow()
        refresh_token.row.refresh_revoked_at = now
        refresh_token.row.access_revoked_at = refresh_token.row.access_revoked_at or now


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """An app acting on the store that registered it, without a person. That store's owner
    can revoke it like any installed app."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(SECRET_METHODS)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: Client = self.request.client
        scope = self.request.payload.scope
        if scope and client.get_allowed_scope(scope) is None:
            raise InvalidScopeError()
        store = db.session.get(Store, client.row.store_id)
        installation = db.session.scalar(sa.select(AppInstallation).where(
            AppInstallation.store_id == store.id, AppInstallation.client_pk == client.row.id))
        if installation is not None and installation.revoked_at is not None:
            raise UnauthorizedClientError("The store revoked this app's access.")
        if installation is None:
            installation = service.install(store, client.row, client.row.scopes,
                                           actor=f"app:{client.row.client_id}")
        self.request.user = installation


# --- the server -------------------------------------------------------------------------------


def _generate_access_token(*args: Any, **kwargs: Any) -> str:
    return "kdo_" + secrets.token_urlsafe(32)


def _generate_refresh_token(*args: Any, **kwargs: Any) -> str:
    return "kdr_" + secrets.token_urlsafe(32)


class KedaiAuthorizationServer(AuthorizationServer):
    def create_bearer_token_generator(self, config: Any) -> Any:
        bearer = BearerTokenGenerator(
            _generate_access_token, _generate_refresh_token,
            lambda client, grant_type: ACCESS_TOKEN_LIFETIME,
        )

        def generate(grant_type: str, client: Client, user: Any = None, scope: str | None = None,
                     expires_in: int | None = None, include_refresh_token: bool = True) -> Any:
            # Asking for nothing means everything the app registered (and the response says so).
            scope = scope or client.row.scopes
            return bearer(grant_type=grant_type, client=client, user=user, scope=scope,
                          expires_in=expires_in, include_refresh_token=include_refresh_token)

        return generate


def _query_client(client_id: str) -> Client | None:
    row = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))
    return Client(row) if row is not None else None


def _save_token(token: dict[str, Any], request: Any) -> None:
    installation: AppInstallation = request.user
    db.session.add(OAuthToken(
        store_id=installation.store_id,
        client_pk=request.client.row.id,
        installation_id=installation.id,
        access_token_hash=service.digest(token["access_token"]),
        refresh_token_hash=(service.digest(token["refresh_token"])
                            if token.get("refresh_token") else None),
        scope=token.get("scope", ""),
        expires_in=int(token["expires_in"]),
    ))


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [*SECRET_METHODS, "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return _find_token(token_string, token_type_hint)

    def revoke_token(self, token: TokenView, request: Any) -> None:
        # Revoking either half ends the pair: a refresh token without its access token, or the
        # reverse, would surprise a merchant who pressed "revoke".
        now = utcnow()
        token.row.access_revoked_at = token.row.access_revoked_at or now
        token.row.refresh_revoked_at = token.row.refresh_revoked_at or now


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = [*SECRET_METHODS, "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return _find_token(token_string, token_type_hint)

    def check_permission(self, token: TokenView, client: Client, request: Any) -> bool:
        return token.check_client(client)

    def create_introspection_payload(self, token: TokenView | None) -> dict[str, Any]:
        if token is not None and request.form.get("token", "").startswith("kdr_"):
            # A refresh token is active while it can still be used, whatever its access token.
            if not token.refresh_usable():
                return {"active": False}
            return {**self.introspect_token(token), "token_type": "refresh_token",
                    "active": True}
        return super().create_introspection_payload(token)

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        row = token.row
        store = db.session.get(Store, row.store_id)
        return {
            "active": True,
            "client_id": row.client.client_id,
            "token_type": "Bearer",
            "scope": token.get_scope(),
            "sub": f"store:{store.slug}",
            "store": store.slug,
            "iat": int(row.issued_at.timestamp()),
            "exp": token.expires_at(),
            "iss": request.host_url.rstrip("/"),
        }


def _find_token(token_string: str, hint: str | None) -> TokenView | None:
    columns = [OAuthToken.access_token_hash, OAuthToken.refresh_token_hash]
    if hint == "refresh_token":
        columns.reverse()
    for column in columns:
        row = _token_by(column, token_string)
        if row is not None:
            return TokenView(row)
    return None


server = KedaiAuthorizationServer()


def init_server(app: Flask) -> None:
    from core.auth.tokens import SCOPES

    app.config.setdefault("OAUTH2_SCOPES_SUPPORTED", list(SCOPES))
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    if not server._token_grants:  # one module-level server, one registration per process
        server.register_grant(AuthorizationCodeGrant, [S256Only(required=True)])
        server.register_grant(RefreshTokenGrant)
        server.register_grant(ClientCredentialsGrant)
        server.register_endpoint(Revocation)
        server.register_endpoint(Introspection)


# --- the views --------------------------------------------------------------------------------

bp = Blueprint("oauth", __name__)


def _endpoint(call: Any) -> Response:
    """Run an Authlib endpoint; errors raised before its own handling (plain http behind a
    proxy that does not say it terminated TLS: ``insecure_transport``) answer as OAuth errors."""
    try:
        return _finish(call())
    except OAuth2Error as error:
        db.session.rollback()
        return server.handle_error_response(None, error)


def _finish(response: Response) -> Response:
    """Keep what a successful exchange wrote; drop what a refused one half-wrote."""
    if response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    return response


@bp.route("/oauth/authorize", methods=["GET", "POST"])
@login_required
def authorize() -> Any:
    """The consent page: which app, which store, what it may do, in the merchant's words.
    Only the store's owner can install an app."""
    store = current_user.store
    try:
        grant = server.get_consent_grant(end_user=current_user)
    except OAuth2Error as error:
        if error.redirect_uri:
            return server.handle_error_response(None, error)
        return render_template("apps/consent_error.html", error=error), 400
    if not current_user.is_owner:
        abort(403)
    client: OAuthClient = grant.client.row
    if request.method == "GET":
        scopes = service.describe_scopes(grant.request.scope or client.scopes)
        developer = db.session.get(Store, client.store_id)
        return render_template("apps/consent.html", client=client, scopes=scopes, store=store,
                               developer=developer, action=request.full_path)
    # A POST passed the CSRF check (Flask-WTF protects every form of the admin).
    if request.form.get("decision") != "allow":
        return server.create_authorization_response(grant_user=None, grant=grant)
    installation = service.install(store, client, grant.request.scope or client.scopes,
                                   actor=f"staff:{current_user.id}")
    return _finish(server.create_authorization_response(grant_user=installation, grant=grant))


@bp.post("/oauth/token")
@csrf.exempt
def token() -> Response:
    return _endpoint(server.create_token_response)


@bp.post("/oauth/revoke")
@csrf.exempt
def revoke() -> Response:
    return _endpoint(lambda: server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME))


@bp.post("/oauth/introspect")
@csrf.exempt
def introspect() -> Response:
    return _endpoint(
        lambda: server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)
    )


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    """RFC 8414 metadata, so standard clients configure themselves."""
    from core.auth.tokens import SCOPES

    issuer = request.host_url.rstrip("/")
    methods = [*SECRET_METHODS, "none"]
    return jsonify(
        issuer=issuer,
        authorization_endpoint=url_for(".authorize", _external=True),
        token_endpoint=url_for(".token", _external=True),
        revocation_endpoint=url_for(".revoke", _external=True),
        introspection_endpoint=url_for(".introspect", _external=True),
        scopes_supported=list(SCOPES),
        response_types_supported=["code"],
        grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
        token_endpoint_auth_methods_supported=methods,
        revocation_endpoint_auth_methods_supported=methods,
        introspection_endpoint_auth_methods_supported=methods,
        code_challenge_methods_supported=["S256"],
    )


def register_oauth(app: Flask) -> None:
    import core.apps.jobs  # noqa: F401 - registers the daily pruning of dead tokens

    init_server(app)
    app.register_blueprint(bp)
