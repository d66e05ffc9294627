"""The ``kedai`` command: a Flask CLI group with the operator's commands."""

from __future__ import annotations

import json
import os
import sys

import click
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from core.app import create_app
from core.db import db


@click.group(
    cls=FlaskGroup, create_app=create_app, add_version_option=False, add_default_commands=False
)
def main() -> None:
    """Kedai: customer management for online stores, one plugin at a time."""


# --- database ------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Create or upgrade the tables of the core and of every plugin present."""
    from core.migrate import upgrade_all

    for name in upgrade_all():
        click.echo(f"upgraded {name}")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--plugin", "plugin_id", default="core", show_default=True,
              help="The branch: core, or a plugin id.")
@with_appcontext
def db_revision(message: str, plugin_id: str) -> None:
    """Autogenerate a migration from the models (for core and plugin developers)."""
    from core.migrate import branch_named, make_revision

    try:
        branch = branch_named(plugin_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    make_revision(message, branch)


# --- stores, staff, tokens -----------------------------------------------------------------


@main.command("seed-demo")
@click.option("--customers", default=300, show_default=True)
@click.option("--seed", default=7, show_default=True, help="Random seed, for repeatable data.")
@with_appcontext
def seed_demo_command(customers: int, seed: int) -> None:
    """Create the demo store with staff, customers and two years of orders."""
    from core.demo import seed_demo

    login = seed_demo(customers=customers, seed=seed)
    click.echo(f"Demo store ready. Log in at /admin/login as {login[0]} / {login[1]}")


@main.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.option("--store", "store_slug", required=True)
@click.option("--scopes", required=True, help='Space- or comma-separated, e.g. "customers:read"')
@click.option("--name", default="")
@with_appcontext
def tokens_create(store_slug: str, scopes: str, name: str) -> None:
    """Create an API token and print it (shown once)."""
    from core.auth.tokens import create_token
    from core.errors import KedaiError
    from core.stores.service import get_store

    try:
        token, plain = create_token(
            get_store(store_slug), scopes.replace(",", " ").split(), name=name
        )
    except KedaiError as exc:
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(json.dumps({"id": token.id, "token": plain, "scopes": token.scopes.split()}))


# --- running -------------------------------------------------------------------------------


def _serve(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-")

        def load(self):  # type: ignore[no-untyped-def]
            from core.wsgi import app

            return app

    Server().run()


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--workers",
    default=lambda: int(os.environ.get("KEDAI_WEB_WORKERS", "2")),
    show_default="2 (KEDAI_WEB_WORKERS)",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve Kedai with gunicorn."""
    _serve(host, port, workers)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.pass_context
def demo(ctx: click.Context, host: str, port: int) -> None:
    """Upgrade the database, seed the demo store if empty, and serve."""
    from core.demo import demo_exists, demo_login, seed_demo
    from core.migrate import upgrade_all

    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        upgrade_all()
        if not demo_exists():
            seed_demo()
        email, password = demo_login()
    click.echo(f"Staff login: {email} / {password}")
    click.echo(f"Kedai is running on http://{host}:{port}/admin")
    sys.stdout.flush()
    _serve(host, port, int(os.environ.get("KEDAI_WEB_WORKERS", "2")))


@main.command("worker", context_settings={"ignore_unknown_options": True})
@click.option("--beat", is_flag=True,
              help="Also run beat, which sends the sweep (kedai.tick) every 30 s. Exactly one "
                   "process of the deployment should.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Pool processes [default: one per CPU].")
@click.option("--loglevel", default="INFO", show_default=True)
@click.argument("celery_options", nargs=-1, type=click.UNPROCESSED)
def worker(beat: bool, concurrency: int | None, loglevel: str,
           celery_options: tuple[str, ...]) -> None:
    """Run a Celery worker for KEDAI_EXECUTOR=celery (broker: REDIS_URL).

    Options Kedai does not know are passed on to Celery's worker as they are, e.g.
    "kedai worker --beat --without-mingle".
    """
    try:
        from core.celery_app import celery
    except ImportError as exc:
        raise click.ClickException(
            f"the Celery executor needs the redis extra: pip install 'kedai[redis]' ({exc})"
        ) from exc
    argv = ["worker", f"--loglevel={loglevel}"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        argv.append("--beat")
    argv.extend(celery_options)
    # The Flask app is built in each pool process (core.celery_app.flask_app), not here, so no
    # database connection crosses the fork.
    celery.worker_main(argv)


@main.command("work-once")
@click.option("--schedule/--no-schedule", default=True, show_default=True,
              help="Also run the daily jobs that are due.")
@with_appcontext
def work_once_command(schedule: bool) -> None:
    """Run every due delivery, webhook and job until none is left, then exit (cron, ops).

    Safe beside running workers of either executor: each row is claimed in the database.
    """
    from core.executor import drain

    click.echo(f"ran {drain(schedule=schedule)}")


def _register_area_commands() -> None:
    """Commands that live with their area (import/export with customers …)."""
    from core.apps.cli import register as register_apps
    from core.plugins.cli import register as register_plugins
    from core.webhooks.cli import register as register_webhooks

    register_plugins(main)
    register_apps(main)
    register_webhooks(main)
    try:
        from core.customers.cli import register as register_customers
    except ImportError:
        return
    register_customers(main)


_register_area_commands()
