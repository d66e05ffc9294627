"""The host's implementation of ``plugin_sdk.PluginContext``.

Permissions are enforced here: a plugin granted ``customers:read`` can read customers through
the context but not change them. Everything is scoped to the context's store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import suppress
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import Domain
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from core.customers import service as customer_service
from core.customers.models import Customer
from core.customers.schemas import customer_snapshot
from core.db import db
from core.errors import KedaiError
from core.events.service import record_event
from core.orders.models import Order
from core.orders.schemas import OrderSchema
from core.plugins.manager import InstalledState, host
from core.plugins.models import PluginKeyValue, PluginProcessedKey
from core.stores.models import Store
from plugin_sdk.context import (
    CustomersFacade,
    KeyValue,
    OrdersFacade,
    PluginContext,
    Shopper,
    StoreInfo,
)
from plugin_sdk.errors import ChannelUnavailable, PermissionDenied, PluginError
from plugin_sdk.settings import secret_fields

REDACTED = "[redacted]"


def dialect_insert(model: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` on SQLite and PostgreSQL alike."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def store_info(store: Store) -> StoreInfo:
    return StoreInfo(
        id=store.id, slug=store.slug, name=store.name, currency=store.currency,
        timezone=store.timezone, locale=store.locale,
        default_phone_region=store.default_phone_region,
    )


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Logs with the plugin and store named, and the plugin's secret settings blanked out."""

    def __init__(self, logger: logging.Logger, plugin_id: str, store_slug: str,
                 secrets: list[str]) -> None:
        super().__init__(logger, {"plugin": plugin_id, "store": store_slug})
        self.secrets = secrets

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[{self.extra['plugin']}@{self.extra['store']}] {msg}", kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            super().log(level, redact(text, self.secrets), **kwargs)


class _Customers(CustomersFacade):
    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx

    def _store(self) -> Store:
        return self.ctx._store

    def get(self, customer_id: int) -> dict[str, Any] | None:
        self.ctx.require("customers:read")
        try:
            return customer_snapshot(customer_service.get_customer(self._store(), customer_id))
        except KedaiError:
            return None

    def find(self, *, email: str | None = None, phone: str | None = None
             ) -> list[dict[str, Any]]:
        self.ctx.require("customers:read")
        found: list[Customer] = []
        if email:
            customer = customer_service.find_by_email(self._store(), email)
            found += [customer] if customer else []
        if phone:
            with suppress(KedaiError):  # not a phone number: nobody has it
                found += customer_service.find_by_phone(self._store(), phone)
        unique = {c.id: c for c in found}
        return [customer_snapshot(c) for c in unique.values()]

    def iter_all(self, *, batch_size: int = 500, after_id: int = 0
                 ) -> Iterator[list[dict[str, Any]]]:
        self.ctx.require("customers:read")
        last = after_id
        while True:
            batch = list(db.session.scalars(
                sa.select(Customer)
                .where(Customer.store_id == self.ctx.store.id, Customer.id > last,
                       Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
                .options(selectinload(Customer.tags), selectinload(Customer.field_values))
                .order_by(Customer.id).limit(batch_size)
            ))
            if not batch:
                return
            last = batch[-1].id
            yield [customer_snapshot(c) for c in batch]

    def update(self, customer_id: int, **changes: Any) -> dict[str, Any]:
        self.ctx.require("customers:write")
        customer = customer_service.get_customer(self._store(), customer_id)
        customer_service.update_customer(self._store(), customer, changes,
                                         actor=self.ctx.actor)
        return customer_snapshot(customer)

    def add_tags(self, customer_id: int, names: list[str]) -> None:
        self.ctx.require("customers:write")
        flt = customer_service.CustomerFilter(ids=[customer_id])
        customer_service.bulk_tag(self._store(), flt, names, add=True, actor=self.ctx.actor)

    def remove_tags(self, customer_id: int, names: list[str]) -> None:
        self.ctx.require("customers:write")
        flt = customer_service.CustomerFilter(ids=[customer_id])
        customer_service.bulk_tag(self._store(), flt, names, add=False, actor=self.ctx.actor)


class _Orders(OrdersFacade):
    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx

    def get(self, order_id: int) -> dict[str, Any] | None:
        self.ctx.require("orders:read")
        order = db.session.scalar(sa.select(Order).where(
            Order.store_id == self.ctx.store.id, Order.id == order_id))
        return OrderSchema().dump(order) if order else None

    def for_customer(self, customer_id: int) -> list[dict[str, Any]]:
        self.ctx.require("orders:read")
        orders = db.session.scalars(
            sa.select(Order).where(Order.store_id == self.ctx.store.id,
                                   Order.customer_id == customer_id)
            .options(selectinload(Order.lines), selectinload(Order.refunds))
            .order_by(Order.placed_at)
        )
        return OrderSchema(many=True).dump(orders)


class _KeyValue(KeyValue):
    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx

    def _row(self, key: str) -> PluginKeyValue | None:
        return db.session.scalar(sa.select(PluginKeyValue).where(
            PluginKeyValue.store_id == self.ctx.store.id,
            PluginKeyValue.plugin_id == self.ctx.plugin_id, PluginKeyValue.key == key))

    def get(self, key: str, default: Any = None) -> Any:
        row = self._row(key)
        return default if row is None else row.value

    def _ensure(self, key: str, value: Any) -> bool:
        """Insert the key if it is missing; ``True`` if this call inserted it."""
        inserted = db.session.execute(
            dialect_insert(PluginKeyValue)
            .values(store_id=self.ctx.store.id, plugin_id=self.ctx.plugin_id, key=key,
                    value=value)
            .on_conflict_do_nothing()
            .returning(PluginKeyValue.id)
        ).scalar()
        return inserted is not None

    def set(self, key: str, value: Any) -> None:
        if not self._ensure(key, value):
            db.session.execute(
                sa.update(PluginKeyValue)
                .where(PluginKeyValue.store_id == self.ctx.store.id,
                       PluginKeyValue.plugin_id == self.ctx.plugin_id,
                       PluginKeyValue.key == key)
                .values(value=value)
                .execution_options(synchronize_session=False)
            )

    def increment(self, key: str, by: int = 1) -> int:
        self._ensure(key, 0)
        row = db.session.scalar(
            sa.select(PluginKeyValue).where(
                PluginKeyValue.store_id == self.ctx.store.id,
                PluginKeyValue.plugin_id == self.ctx.plugin_id, PluginKeyValue.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        row.value = int(row.value or 0) + by
        db.session.flush()
        return row.value

    def delete(self, key: str) -> None:
        row = self._row(key)
        if row is not None:
            db.session.delete(row)
            db.session.flush()


_domains: dict[str, Domain] = {}


class HostContext(PluginContext):
    def __init__(self, store: Store, plugin_id: str, state: InstalledState,
                 shopper: Shopper | None = None) -> None:
        self._store = store
        self.plugin_id = plugin_id
        self.store = store_info(store)
        self.settings: Mapping[str, Any] = state.settings
        self.granted = state.granted_permissions
        self.shopper = shopper
        self.actor = f"plugin:{plugin_id}"
        self.customers = _Customers(self)
        self.orders = _Orders(self)
        self.kv = _KeyValue(self)

    @cached_property
    def secrets(self) -> list[str]:
        plugin = host.get(self.plugin_id)
        if plugin is None or plugin.settings_schema is None:
            return []
        names = secret_fields(plugin.settings_schema)
        return [str(self.settings[n]) for n in names if self.settings.get(n)]

    @cached_property
    def log(self) -> RedactingLogger:  # type: ignore[override]
        return RedactingLogger(logging.getLogger(f"kedai.plugin.{self.plugin_id}"),
                               self.plugin_id, self.store.slug, self.secrets)

    def require(self, permission: str) -> None:
        if permission not in self.granted:
            raise PermissionDenied(
                f"{self.plugin_id} was not granted {permission!r} in store {self.store.slug}"
            )

    @property
    def session(self) -> Any:
        return db.session

    @cached_property
    def http(self) -> Any:
        from core.outbound import client

        return client()

    def once(self, key: str) -> bool:
        values = {"store_id": self.store.id, "plugin_id": self.plugin_id, "key": key[:200]}
        inserted = db.session.execute(
            dialect_insert(PluginProcessedKey).values(**values).on_conflict_do_nothing()
            .returning(PluginProcessedKey.id)
        ).scalar()
        return inserted is not None

    def emit(self, type: str, payload: dict[str, Any], *, customer_id: int | None = None,
             order_id: int | None = None) -> str:
        if not type.startswith(f"{self.plugin_id}."):
            raise PluginError(f"{self.plugin_id} can only emit {self.plugin_id}.* events")
        return record_event(self.store.id, type, payload, actor=self.actor,
                            customer_id=customer_id, order_id=order_id)

    def send_message(self, channel: str, to: str, body: str, **options: Any) -> dict[str, Any]:
        self.require("messages:send")
        from core.plugins.dispatch import contributions

        channels = [c for c in contributions(self._store, "message_channels")
                    if c.name == channel]
        if not channels:
            raise ChannelUnavailable(
                f"no enabled plugin in this store sends {channel!r} messages"
            )
        return channels[0].send(to, body, **options)

    def render(self, template: str, **values: Any) -> str:
        # Straight from the environment: no context processors, so no staff session or admin
        # globals reach a plugin's storefront markup (and it is faster).
        return current_app.jinja_env.get_template(template).render(ctx=self, **values)

    def url_for(self, endpoint: str, **values: Any) -> str:
        return url_for(endpoint, **values)

    def gettext(self, text: str, **variables: Any) -> str:
        domain = _domains.get(self.plugin_id)
        if domain is None:
            plugin = host.get(self.plugin_id)
            folder = Path(plugin.package_path()) / "translations" if plugin else Path(".")
            domain = _domains.setdefault(
                self.plugin_id, Domain(translation_directories=str(folder))
            )
        return domain.gettext(text, **variables)


def context_for(store: Store, plugin_id: str, state: InstalledState,
                shopper: Shopper | None = None) -> HostContext:
    return HostContext(store, plugin_id, state, shopper)
