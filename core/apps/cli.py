"""``kedai apps``: register external apps from the command line."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from core.db import db


def register(main: click.Group) -> None:
    @main.group("apps")
    def apps_group() -> None:
        """External apps (OAuth 2 clients)."""

    @apps_group.command("create")
    @click.option("--store", "store_slug", required=True, help="The store registering the app.")
    @click.option("--name", required=True)
    @click.option("--redirect-uri", "redirect_uris", multiple=True,
                  help="Where the authorization code is sent; repeat for several.")
    @click.option("--scopes", required=True,
                  help='Space- or comma-separated, e.g. "customers:read orders:read"')
    @click.option("--public", is_flag=True,
                  help="A public client (browser or mobile app): no secret, PKCE required.")
    @with_appcontext
    def apps_create(store_slug: str, name: str, redirect_uris: tuple[str, ...], scopes: str,
                    public: bool) -> None:
        """Register an app and print its client id and secret as JSON (the secret once)."""
        from core.apps.service import register_app
        from core.errors import KedaiError
        from core.stores.service import get_store

        try:
            client, secret = register_app(get_store(store_slug), name, list(redirect_uris),
                                          scopes, public=public, actor="cli")
        except KedaiError as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(json.dumps({
            "client_id": client.client_id,
            "client_secret": secret,
            "name": client.name,
            "redirect_uris": client.redirect_uris,
            "scopes": client.scopes.split(),
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
        }))
