"""Plugin blueprints: mounted under the host's prefixes and gated per store.

``register_blueprints`` returns ``(kind, blueprint)`` pairs:

``admin``       ``/admin/plugins/<plugin id>/…`` — staff login required; the staff member's store.
``storefront``  ``/storefront/<store>/plugins/<plugin id>/…`` — public; CSRF-exempt (themes on
                other origins post JSON); the store from the URL.
``webhook``     ``/hooks/<store>/<plugin id>/…`` — inbound calls from a provider; CSRF-exempt.

Before a plugin view runs, the host checks that the plugin is enabled in that store (404
otherwise) and sets the plugin's context for ``plugin_sdk.web.current_context()``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, abort, g, request
from flask_login import current_user

from core.extensions import csrf
from core.plugins.manager import call_impl, host

log = logging.getLogger("kedai.plugins")

PREFIXES = {
    "admin": "/admin/plugins/{plugin}",
    "storefront": "/storefront/<store_slug>/plugins/{plugin}",
    "webhook": "/hooks/<store_slug>/{plugin}",
}

#: blueprint name → (plugin id, kind)
_owners: dict[str, tuple[str, str]] = {}


def register_plugin_blueprints(app: Flask) -> None:
    for impl in host.pm.hook.register_blueprints.get_hookimpls():
        plugin_id = impl.plugin_name
        try:
            pairs = call_impl(impl, {}) or []
            for kind, blueprint in pairs:
                if kind not in PREFIXES:
                    raise ValueError(f"unknown blueprint kind {kind!r}")
                app.register_blueprint(
                    blueprint, url_prefix=PREFIXES[kind].format(plugin=plugin_id)
                )
                _owners[blueprint.name] = (plugin_id, kind)
                if kind != "admin":
                    csrf.exempt(blueprint)
        except Exception as exc:
            log.exception("blueprints of %s could not be registered", plugin_id)
            host.failed[plugin_id] = f"register_blueprints: {type(exc).__name__}: {exc}"

    @app.url_value_preprocessor
    def _pop_store(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values is not None and request.blueprint in _owners and "store_slug" in values:
            g.kedai_store_slug = values.pop("store_slug")

    @app.url_defaults
    def _keep_store(endpoint: str, values: dict[str, Any]) -> None:
        blueprint = endpoint.rpartition(".")[0]
        if blueprint in _owners and _owners[blueprint][1] != "admin":
            values.setdefault("store_slug", g.get("kedai_store_slug"))

    @app.before_request
    def _gate_plugin_views() -> Any:
        owner = _owners.get(request.blueprint or "")
        if owner is None:
            return None
        plugin_id, kind = owner
        from core.errors import NotFound
        from core.plugins.context import context_for
        from core.plugins.service import store_view
        from core.stores.service import get_store

        if kind == "admin":
            if not current_user.is_authenticated:
                return app.login_manager.unauthorized()  # type: ignore[attr-defined]
            store = current_user.store
        else:
            try:
                store = get_store(g.get("kedai_store_slug", ""))
            except NotFound:
                abort(404)
        view = store_view(store)
        if not view.enabled(plugin_id):
            abort(404)
        g.kedai_store = store
        g.kedai_plugin_context = context_for(store, plugin_id, view.installations[plugin_id])
        return None
