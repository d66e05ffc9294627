"""The ``Plugin`` base class: what a plugin is, declared on the class (Indico-style)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

from marshmallow import Schema

#: Permissions a plugin may ask for, in the merchant's words (shown at install).
PERMISSIONS: dict[str, str] = {
    "customers:read": "See customers: names, contact details, tags, custom fields and totals",
    "customers:write": "Change customers: profiles and tags",
    "orders:read": "See orders and what was bought",
    "orders:write": "Change orders",
    "messages:send": "Send messages to customers through another plugin's channel (SMS, email)",
}

#: Marketplace categories.
CATEGORIES: dict[str, str] = {
    "customer_service": "Customer service",
    "marketing": "Marketing",
    "loyalty": "Loyalty",
    "login": "Login",
    "analytics": "Analytics",
}


class Plugin:
    """Subclass this, set the class attributes, and mark hook methods with ``@hookimpl``.

    The host creates one instance per process; hooks receive the store they run for through
    their ``ctx`` argument, so an instance must not keep per-store state.
    """

    #: Unique id, lowercase with underscores; also the prefix of its tables and events.
    id: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[str]
    category: ClassVar[str]
    description: ClassVar[str] = ""
    author: ClassVar[str] = ""
    #: Permissions from ``PERMISSIONS`` the plugin needs; shown at install.
    permissions: ClassVar[tuple[str, ...]] = ()
    #: Ids of plugins that must be enabled in the store before this one can be.
    requires: ClassVar[tuple[str, ...]] = ()
    #: A PEP 440 specifier the running Kedai core version must satisfy.
    core_compat: ClassVar[str] = ">=0.1"
    #: A marshmallow schema of the settings; the host renders the settings page from it.
    settings_schema: ClassVar[type[Schema] | None] = None
    #: Bump when the settings shape changes, and implement ``migrate_settings``.
    settings_version: ClassVar[int] = 1
    #: Events the plugin emits, ``{"<id>.<thing>": "what it means"}``.
    event_types: ClassVar[dict[str, str]] = {}

    def migrate_settings(self, settings: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Bring settings stored under ``from_version`` to ``settings_version``."""
        return settings

    @classmethod
    def package_path(cls) -> Path:
        """The folder of the plugin's package: ``templates/``, ``static/``, ``migrations/``."""
        return Path(inspect.getfile(cls)).resolve().parent

    @classmethod
    def manifest_summary(cls) -> dict[str, Any]:
        return {
            "id": cls.id,
            "name": cls.name,
            "version": cls.version,
            "category": cls.category,
            "permissions": list(cls.permissions),
            "requires": list(cls.requires),
        }
