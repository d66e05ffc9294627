"""For a plugin's own Flask views (blueprints from ``register_blueprints``)."""

from __future__ import annotations

from typing import Any

from flask import g


def current_context() -> Any:
    """The ``PluginContext`` of the plugin and store the current request is for.

    The host sets it before a plugin's view runs (after checking the plugin is enabled in that
    store, else the request answers 404).
    """
    ctx = g.get("kedai_plugin_context")
    if ctx is None:
        raise RuntimeError("current_context() is only available in a plugin's own views")
    return ctx
