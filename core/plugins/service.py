"""Installations: install with consent, configure, enable, disable, uninstall, upgrade.

Every change bumps the store's ``plugins_version`` in the same transaction, which drops every
process's cached view of the store's plugins. Lifecycle hooks are called for the one plugin
concerned. Functions take the store explicitly and the caller commits.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError as SchemaError
from marshmallow.utils import missing

from core import crypto as secrets
from core.db import db, utcnow
from core.errors import Conflict, NotFound, ValidationError
from core.plugins.manager import InstalledState, StoreView, call_impl, host
from core.plugins.models import (
    EventDelivery,
    PluginError,
    PluginInstallation,
    PluginKeyValue,
    PluginProcessedKey,
    ScheduledRun,
)
from core.stores.models import Store
from plugin_sdk.errors import PluginError as PluginRaised
from plugin_sdk.errors import SettingsInvalid
from plugin_sdk.plugin import Plugin
from plugin_sdk.settings import secret_fields

log = logging.getLogger("kedai.plugins")


# --- lookups ---------------------------------------------------------------------------------


def plugin_or_404(plugin_id: str) -> Plugin:
    plugin = host.get(plugin_id)
    if plugin is None:
        raise NotFound(f"there is no plugin {plugin_id!r} in this Kedai", field="plugin")
    return plugin


def installations(store: Store) -> list[PluginInstallation]:
    return list(db.session.scalars(
        sa.select(PluginInstallation).where(PluginInstallation.store_id == store.id)
        .order_by(PluginInstallation.plugin_id)
    ))


def get_installation(store: Store, plugin_id: str) -> PluginInstallation:
    installation = db.session.scalar(
        sa.select(PluginInstallation).where(
            PluginInstallation.store_id == store.id, PluginInstallation.plugin_id == plugin_id
        )
    )
    if installation is None:
        raise NotFound(f"{plugin_id} is not installed in this store", field="plugin")
    return installation


def _bump(store: Store) -> None:
    db.session.execute(
        sa.update(Store).where(Store.id == store.id)
        .values(plugins_version=Store.plugins_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(store, ["plugins_version"])
    # Other processes notice the new version within a second (FRESH_SECONDS); this one now.
    from core.plugins.storefront import forget_store

    forget_store(store.slug)


# --- settings --------------------------------------------------------------------------------


def decrypted_settings(plugin: Plugin, installation: PluginInstallation) -> dict[str, Any]:
    """The stored settings with secrets decrypted and older versions migrated."""
    settings = dict(installation.settings or {})
    for key, value in settings.items():
        if secrets.is_encrypted(value):
            settings[key] = secrets.decrypt(value)
    if installation.settings_version < plugin.settings_version:
        settings = plugin.migrate_settings(settings, installation.settings_version)
    return settings


def effective_settings(plugin: Plugin, stored: dict[str, Any]) -> dict[str, Any]:
    """Stored settings with the schema's defaults filled in, without validating."""
    if plugin.settings_schema is None:
        return dict(stored)
    merged = {}
    for name, field in plugin.settings_schema().fields.items():
        default = field.load_default() if callable(field.load_default) else field.load_default
        if default is not missing:
            merged[name] = default
    merged.update(stored)
    return merged


def validate_settings(plugin: Plugin, values: dict[str, Any]) -> dict[str, Any]:
    """Load ``values`` with the plugin's schema; ``SettingsInvalid`` lists field errors."""
    if plugin.settings_schema is None:
        return {}
    try:
        return plugin.settings_schema().load(values)
    except SchemaError as exc:
        messages = exc.normalized_messages()
        raise SettingsInvalid({
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
            for k, v in messages.items()
        }) from exc


def save_settings(store: Store, plugin_id: str, submitted: dict[str, Any], *,
                  actor: str = "system") -> PluginInstallation:
    """Validate and store settings. A blank secret keeps the stored one; secrets are
    encrypted. Raises ``SettingsInvalid`` with per-field messages."""
    plugin = plugin_or_404(plugin_id)
    installation = get_installation(store, plugin_id)
    current = decrypted_settings(plugin, installation)
    hidden = secret_fields(plugin.settings_schema) if plugin.settings_schema else set()
    values = dict(submitted)
    for name in hidden:
        if not values.get(name):
            # A blank secret keeps the stored one; with none stored it is missing, so a
            # required API key cannot be "set" to an empty string.
            if current.get(name):
                values[name] = current[name]
            else:
                values.pop(name, None)
    loaded = validate_settings(plugin, values)
    stored = {
        key: secrets.encrypt(value) if key in hidden and isinstance(value, str) and value
        else value
        for key, value in loaded.items()
    }
    installation.settings = _jsonable(stored)
    installation.settings_version = plugin.settings_version
    _bump(store)
    db.session.flush()
    log.info("settings of %s saved in store %s by %s", plugin_id, store.slug, actor)
    return installation


def _jsonable(value: Any) -> Any:
    """Settings go into a JSON column: dates, decimals and sets become strings/lists."""
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def settings_problems(plugin: Plugin, installation: PluginInstallation) -> dict[str, list[str]]:
    """What stops the stored settings from validating (e.g. a required API key not set)."""
    try:
        validate_settings(plugin, decrypted_settings(plugin, installation))
    except SettingsInvalid as exc:
        return exc.errors
    return {}


# --- per-store view --------------------------------------------------------------------------


def _load_states(store_id: int) -> dict[str, InstalledState]:
    states = {}
    rows = db.session.scalars(
        sa.select(PluginInstallation).where(PluginInstallation.store_id == store_id)
    )
    for row in rows:
        plugin = host.get(row.plugin_id)
        try:
            settings = decrypted_settings(plugin, row) if plugin else dict(row.settings)
            settings = effective_settings(plugin, settings) if plugin else settings
        except ValueError as exc:  # an undecryptable secret: the plugin cannot run
            log.error("store %s plugin %s: %s", store_id, row.plugin_id, exc)
            continue
        states[row.plugin_id] = InstalledState(
            plugin_id=row.plugin_id,
            status=row.status,
            granted_permissions=frozenset(row.granted_permissions or ()),
            settings=settings,
        )
    return states


def store_view(store: Store) -> StoreView:
    """The store's enabled plugins and hook implementations (cached per ``plugins_version``)."""
    return host.view(store.id, store.plugins_version, lambda: _load_states(store.id))


# --- lifecycle -------------------------------------------------------------------------------


def _call_lifecycle(store: Store, plugin_id: str, hook: str, *, swallow: bool = False) -> None:
    impl = host.impl_of(plugin_id, hook)
    if impl is None:
        return
    from core.plugins.context import context_for

    installation = get_installation(store, plugin_id)
    plugin = plugin_or_404(plugin_id)
    ctx = context_for(
        store, plugin_id,
        InstalledState(plugin_id, installation.status,
                       frozenset(installation.granted_permissions or ()),
                       effective_settings(plugin, decrypted_settings(plugin, installation))),
    )
    try:
        call_impl(impl, {"ctx": ctx})
    except Exception as exc:
        if swallow:
            log.exception("%s.%s failed in store %s; going on", plugin_id, hook, store.slug)
            return
        message = str(exc) if isinstance(exc, PluginRaised) else f"{type(exc).__name__}: {exc}"
        raise Conflict(f"{plugin.name} refused: {message}", field="plugin") from exc


def install(store: Store, plugin_id: str, *, consent: bool, actor: str = "system"
            ) -> PluginInstallation:
    """Install a plugin (disabled) after the merchant consented to its permissions."""
    plugin = plugin_or_404(plugin_id)
    exists = db.session.scalar(sa.select(PluginInstallation.id).where(
        PluginInstallation.store_id == store.id, PluginInstallation.plugin_id == plugin_id))
    if exists:
        raise Conflict(f"{plugin.name} is already installed", field="plugin")
    if plugin.permissions and not consent:
        raise ValidationError(
            f"{plugin.name} needs your consent to: " + ", ".join(plugin.permissions),
            field="consent",
        )
    installation = PluginInstallation(
        store_id=store.id, plugin_id=plugin_id, version=plugin.version, status="disabled",
        granted_permissions=list(plugin.permissions), settings={},
        settings_version=plugin.settings_version, installed_by=actor,
    )
    db.session.add(installation)
    db.session.flush()
    _call_lifecycle(store, plugin_id, "plugin_installed")
    _bump(store)
    return installation


def enable(store: Store, plugin_id: str, *, actor: str = "system") -> PluginInstallation:
    """Enable (or lift a suspension). Refused while a required plugin is not enabled or the
    settings do not validate; the message says which."""
    plugin = plugin_or_404(plugin_id)
    installation = get_installation(store, plugin_id)
    enabled = {
        row.plugin_id for row in installations(store) if row.status == "enabled"
    }
    missing = [req for req in plugin.requires if req not in enabled]
    if missing:
        names = ", ".join(host.get(m).name if host.get(m) else m for m in missing)
        raise Conflict(f"{plugin.name} needs {names} enabled first", field="requires")
    problems = settings_problems(plugin, installation)
    if problems:
        field, messages = next(iter(problems.items()))
        raise ValidationError(
            f"{plugin.name} is not configured yet: {field}: {' '.join(messages)}",
            field=f"settings.{field}",
        )
    installation.status = "enabled"
    installation.failure_count = 0
    installation.suspended_reason = ""
    db.session.flush()
    _call_lifecycle(store, plugin_id, "plugin_enabled")
    _bump(store)
    return installation


def disable(store: Store, plugin_id: str, *, actor: str = "system") -> PluginInstallation:
    """Disable; data and settings stay. Plugins that require this one stay enabled but lose
    what it provided (e.g. phone login without SMS says so to shoppers)."""
    installation = get_installation(store, plugin_id)
    if installation.status == "disabled":
        return installation
    installation.status = "disabled"
    db.session.flush()
    _call_lifecycle(store, plugin_id, "plugin_disabled", swallow=True)
    _bump(store)
    return installation


def grant_pending_permissions(store: Store, plugin_id: str, *, actor: str = "system"
                              ) -> PluginInstallation:
    installation = get_installation(store, plugin_id)
    if installation.pending_permissions is not None:
        installation.granted_permissions = list(installation.pending_permissions)
        installation.pending_permissions = None
        _bump(store)
    return installation


def reconcile(store: Store) -> list[str]:
    """After an upgrade: record new versions; a wider permission set waits for consent.

    Returns the ids of plugins waiting for the merchant's consent.
    """
    waiting = []
    changed = False
    for installation in installations(store):
        plugin = host.get(installation.plugin_id)
        if plugin is None:
            continue
        if installation.version != plugin.version:
            installation.version = plugin.version
            wanted = set(plugin.permissions)
            if not wanted <= set(installation.granted_permissions or ()):
                installation.pending_permissions = sorted(wanted)
            changed = True
        if installation.pending_permissions is not None:
            waiting.append(installation.plugin_id)
    if changed:
        _bump(store)
    return waiting


def upgrades_to_record(store: Store) -> bool:
    """Whether a plugin installed in ``store`` now runs another version than the one recorded,
    i.e. whether ``reconcile`` would write something. A read only, so a GET page can decide
    whether it needs a writing transaction at all."""
    for installation in installations(store):
        plugin = host.get(installation.plugin_id)
        if plugin is not None and installation.version != plugin.version:
            return True
    return False


def uninstall(store: Store, plugin_id: str, *, confirm: bool, actor: str = "system") -> None:
    """Uninstall and delete everything the plugin holds for this store: its settings, its
    tables' rows, key/values, deliveries, errors and job runs. Needs ``confirm``."""
    installation = get_installation(store, plugin_id)
    if not confirm:
        raise ValidationError("confirm that the plugin's data for this store will be deleted",
                              field="confirm")
    _call_lifecycle(store, plugin_id, "plugin_uninstalled", swallow=True)
    plugin = host.get(plugin_id)
    metadata = getattr(plugin, "metadata", None)
    if metadata is not None:
        for table in reversed(metadata.sorted_tables):
            if "store_id" in table.c:
                db.session.execute(table.delete().where(table.c.store_id == store.id))
    for model in (PluginKeyValue, PluginProcessedKey, EventDelivery, PluginError):
        db.session.execute(
            sa.delete(model).where(model.store_id == store.id, model.plugin_id == plugin_id)
        )
    db.session.execute(sa.delete(ScheduledRun).where(
        ScheduledRun.store_id == store.id, ScheduledRun.job.like(f"{plugin_id}:%")))
    db.session.delete(installation)
    db.session.flush()
    _bump(store)


def suspend(store_id: int, plugin_id: str, reason: str) -> None:
    db.session.execute(
        sa.update(PluginInstallation)
        .where(PluginInstallation.store_id == store_id, PluginInstallation.plugin_id == plugin_id)
        .values(status="suspended", suspended_reason=reason[:2000], updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(Store).where(Store.id == store_id)
        .values(plugins_version=Store.plugins_version + 1)
        .execution_options(synchronize_session=False)
    )


# --- health ----------------------------------------------------------------------------------


def recent_deliveries(store: Store, plugin_id: str, limit: int = 50) -> list[EventDelivery]:
    """The plugin's latest event deliveries in ``store``, newest first."""
    return list(db.session.scalars(
        sa.select(EventDelivery)
        .where(EventDelivery.store_id == store.id, EventDelivery.plugin_id == plugin_id)
        .order_by(EventDelivery.id.desc()).limit(limit)
    ))


def recent_errors(store: Store, plugin_id: str, limit: int = 50) -> list[PluginError]:
    """The plugin's latest request-time errors in ``store``, newest first."""
    return list(db.session.scalars(
        sa.select(PluginError)
        .where(PluginError.store_id == store.id, PluginError.plugin_id == plugin_id)
        .order_by(PluginError.id.desc()).limit(limit)
    ))


def retry_failed_delivery(store: Store, plugin_id: str, delivery_id: int) -> EventDelivery:
    """A merchant's manual retry from the plugin's health page.

    Only a delivery of that plugin in that store that has given up (``failed``) qualifies: one
    still pending retries on its own, and resetting a running or done one would run the hook
    again behind the executor's back. It runs on the executor's next pass, with a fresh
    attempt count, once the plugin is enabled.
    """
    delivery = db.session.scalar(sa.select(EventDelivery).where(
        EventDelivery.store_id == store.id, EventDelivery.plugin_id == plugin_id,
        EventDelivery.id == delivery_id))
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} not found", field="delivery")
    if delivery.status != "failed":
        raise Conflict(
            f"only a failed delivery can be retried; delivery {delivery_id} is {delivery.status}",
            field="delivery",
        )
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.attempts = 0
    db.session.flush()
    return delivery
