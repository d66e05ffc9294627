"""``kedai webhooks``: subscribe an address to a store's events from the command line."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from core.db import db


def register(main: click.Group) -> None:
    @main.group("webhooks")
    def webhooks_group() -> None:
        """Outgoing webhooks (Standard Webhooks)."""

    @webhooks_group.command("create")
    @click.option("--store", "store_slug", required=True)
    @click.option("--url", required=True, help="The receiver, https://…")
    @click.option("--events", required=True,
                  help='Space- or comma-separated event types, e.g. "order.paid customer.created"'
                       ' ("*" for every type)')
    @click.option("--description", default="")
    @with_appcontext
    def webhooks_create(store_slug: str, url: str, events: str, description: str) -> None:
        """Add an endpoint and print its id and signing secret as JSON (the secret once)."""
        from core.errors import KedaiError
        from core.stores.service import get_store
        from core.webhooks.service import create_endpoint

        try:
            endpoint, secret = create_endpoint(
                get_store(store_slug), url, events.replace(",", " ").split(),
                description=description, actor="cli",
            )
        except KedaiError as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(json.dumps({"id": endpoint.id, "secret": secret, "url": endpoint.url,
                               "event_types": endpoint.event_types}))
