"""The plugin host: one pluggy ``PluginManager`` for the process, and per-store views over it.

Plugins come from the ``kedai.plugins`` entry-point group, first-party and third-party alike.
One that fails to import, is not a ``Plugin``, or wants another core version is listed as
failed with its error while everything else runs (``KEDAI_STRICT_PLUGINS=1`` makes that fatal).
``KEDAI_LOAD_PLUGINS=a,b`` loads only those; ``KEDAI_TRACE_PLUGINS=1`` logs every hook call.
``KEDAI_EXTRA_PLUGINS=package.module:PluginClass,…`` also registers plugin classes that no
installed distribution announces (a plugin being written, or a test's sample plugins inside a
worker process), whatever ``KEDAI_LOAD_PLUGINS`` says: naming one is asking for it.

A hook called for a store reaches only the plugins enabled there. ``StoreView`` holds, per hook,
the implementations of the store's enabled plugins; it is built once per store and dropped when
the store's ``plugins_version`` moves, which every installation change bumps, so every process
notices. Calls cost what the enabled plugins cost: a store with 50 installed-but-disabled
plugins pays nothing for them. (pluggy's ``subset_hook_caller`` filters all implementations on
every call, which is why the view keeps its own lists.)
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

import core
from core.plugins import hookspecs
from plugin_sdk.markers import PROJECT
from plugin_sdk.plugin import CATEGORIES, PERMISSIONS, Plugin

log = logging.getLogger("kedai.plugins")
ENTRY_POINT_GROUP = "kedai.plugins"


class PluginLoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class InstalledState:
    """What a view needs of one installation, decoupled from the ORM row."""

    plugin_id: str
    status: str
    granted_permissions: frozenset[str]
    settings: dict[str, Any]


@dataclass
class StoreView:
    """The enabled plugins of one store, and their implementations per hook."""

    store_id: int
    version: int
    installations: dict[str, InstalledState]
    impls: dict[str, list[tuple[str, pluggy.HookImpl]]] = field(default_factory=dict)

    def implementations(self, hook: str) -> list[tuple[str, pluggy.HookImpl]]:
        return self.impls.get(hook, [])

    def enabled(self, plugin_id: str) -> bool:
        state = self.installations.get(plugin_id)
        return state is not None and state.status == "enabled"


def event_hook_name(event_type: str) -> str:
    """``customer.created`` → ``on_customer_created``."""
    return "on_" + event_type.replace(".", "_")


class PluginHost:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, Plugin] = {}
        self.failed: dict[str, str] = {}
        self._views: dict[int, StoreView] = {}
        self._lock = threading.Lock()
        self._loaded = False
        self._hook_names = {
            name for name in dir(hookspecs) if callable(getattr(hookspecs, name))
            and hasattr(getattr(hookspecs, name), f"{PROJECT}_spec")
        }

    # --- loading ---------------------------------------------------------------------------

    def load(self, *, strict: bool | None = None, only: Iterable[str] | None = None) -> None:
        """Load every plugin the environment provides (once per process)."""
        if self._loaded:
            return
        strict = _flag("KEDAI_STRICT_PLUGINS") if strict is None else strict
        if only is None and os.environ.get("KEDAI_LOAD_PLUGINS") is not None:
            only = [p.strip() for p in os.environ["KEDAI_LOAD_PLUGINS"].split(",") if p.strip()]
        wanted = set(only) if only is not None else None
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if wanted is not None and entry_point.name not in wanted:
                continue
            try:
                plugin_class = entry_point.load()
                self.register(plugin_class, expected_id=entry_point.name)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                self.failed[entry_point.name] = message
                log.error("plugin %s failed to load: %s", entry_point.name, message)
                if strict:
                    raise PluginLoadError(f"plugin {entry_point.name}: {message}") from exc
        self._load_extra(os.environ.get("KEDAI_EXTRA_PLUGINS", ""), strict=strict)
        if _flag("KEDAI_TRACE_PLUGINS"):
            self._trace()
        self._loaded = True

    def _load_extra(self, specs: str, *, strict: bool) -> None:
        """Register each ``module:Class`` of a comma-separated list; a failure is listed under
        the spec as written, like an entry point that failed."""
        for spec in (s.strip() for s in specs.split(",")):
            if not spec:
                continue
            try:
                module_name, _, attr = spec.partition(":")
                if not module_name or not attr:
                    raise PluginLoadError(f"{spec!r} is not of the form 'package.module:Class'")
                plugin_class = getattr(importlib.import_module(module_name), attr)
                self.register(plugin_class)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                self.failed[spec] = message
                log.error("extra plugin %s failed to load: %s", spec, message)
                if strict:
                    raise PluginLoadError(f"extra plugin {spec}: {message}") from exc

    def register(self, plugin_class: type[Plugin], *, expected_id: str | None = None) -> Plugin:
        """Check and register a plugin class; also how tests add a sample plugin."""
        if not (isinstance(plugin_class, type) and issubclass(plugin_class, Plugin)):
            raise PluginLoadError(f"{plugin_class!r} is not a plugin_sdk.Plugin subclass")
        plugin_id = getattr(plugin_class, "id", None)
        for attr in ("id", "name", "version", "category"):
            if not getattr(plugin_class, attr, None):
                raise PluginLoadError(f"{plugin_class.__name__} has no {attr}")
        if expected_id and plugin_id != expected_id:
            raise PluginLoadError(
                f"entry point {expected_id!r} provides a plugin whose id is {plugin_id!r}"
            )
        if plugin_id in self.plugins:
            raise PluginLoadError(f"two plugins claim the id {plugin_id!r}")
        if plugin_class.category not in CATEGORIES:
            raise PluginLoadError(f"unknown category {plugin_class.category!r}")
        unknown = set(plugin_class.permissions) - set(PERMISSIONS)
        if unknown:
            raise PluginLoadError(f"unknown permission {sorted(unknown)[0]!r}")
        try:
            compatible = Version(core.__version__) in SpecifierSet(plugin_class.core_compat)
        except InvalidSpecifier as exc:
            raise PluginLoadError(f"core_compat {plugin_class.core_compat!r}: {exc}") from exc
        if not compatible:
            raise PluginLoadError(
                f"needs Kedai core {plugin_class.core_compat}, this is {core.__version__}"
            )
        instance = plugin_class()
        unknown_hooks = [
            name for name in dir(instance)
            if hasattr(getattr(instance, name, None), f"{PROJECT}_impl")
            and name not in self._hook_names
        ]
        if unknown_hooks:
            raise PluginLoadError(f"{plugin_id} implements unknown hook {unknown_hooks[0]!r}")
        self.pm.register(instance, name=plugin_id)
        self.plugins[plugin_id] = instance
        self.failed.pop(plugin_id, None)
        self.invalidate()
        return instance

    def unregister(self, plugin_id: str) -> None:
        plugin = self.plugins.pop(plugin_id, None)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.invalidate()

    def _trace(self) -> None:
        def before(hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
            log.info("hook %s → %s", hook_name, [i.plugin_name for i in hook_impls])

        def after(outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: Any) -> None:
            log.info("hook %s done", hook_name)

        self.pm.add_hookcall_monitoring(before, after)

    # --- introspection ---------------------------------------------------------------------

    def get(self, plugin_id: str) -> Plugin | None:
        return self.plugins.get(plugin_id)

    def hooks_of(self, plugin_id: str) -> list[str]:
        plugin = self.plugins[plugin_id]
        return sorted(
            caller.name for caller in self.pm.get_hookcallers(plugin) or []
        )

    def impl_of(self, plugin_id: str, hook: str) -> pluggy.HookImpl | None:
        caller = getattr(self.pm.hook, hook, None)
        if caller is None:
            return None
        for impl in caller.get_hookimpls():
            if impl.plugin_name == plugin_id:
                return impl
        return None

    def implements(self, plugin_id: str, hook: str) -> bool:
        return self.impl_of(plugin_id, hook) is not None

    # --- per-store views -------------------------------------------------------------------

    def view(self, store_id: int, version: int, load: Any) -> StoreView:
        """The store's view at ``version``; ``load()`` returns its installations when the
        cached view is missing or stale."""
        cached = self._views.get(store_id)
        if cached is not None and cached.version == version:
            return cached
        installations: dict[str, InstalledState] = load()
        view = StoreView(store_id=store_id, version=version, installations=installations)
        enabled = sorted(pid for pid, st in installations.items()
                         if st.status == "enabled" and pid in self.plugins)
        for hook_name in self._hook_names:
            impls = []
            for plugin_id in enabled:
                impl = self.impl_of(plugin_id, hook_name)
                if impl is not None:
                    impls.append((plugin_id, impl))
            if impls:
                view.impls[hook_name] = impls
        with self._lock:
            current = self._views.get(store_id)
            if current is None or current.version <= version:
                self._views[store_id] = view
        return view

    def invalidate(self, store_id: int | None = None) -> None:
        with self._lock:
            if store_id is None:
                self._views.clear()
            else:
                self._views.pop(store_id, None)


def call_impl(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
    """Call one implementation with the arguments it asked for (pluggy's opt-in arguments)."""
    return impl.function(*[kwargs[name] for name in impl.argnames])


def tag_plugin(item: Any, plugin_id: str) -> Any:
    """Stamp a contribution (widget, panel …) with the plugin that made it."""
    if hasattr(item, "plugin_id") and not getattr(item, "plugin_id", ""):
        try:
            return replace(item, plugin_id=plugin_id)
        except TypeError:
            item.plugin_id = plugin_id
    return item


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


host = PluginHost()


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
