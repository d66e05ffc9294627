"""Settings fields: marshmallow fields with what the host needs to render a settings page.

Use them in a plugin's ``settings_schema``; any marshmallow field works too, and the host reads
``metadata``: ``label``, ``help``, ``widget`` (``text``, ``textarea``, ``secret``, ``color``,
``toggle``, ``select``), ``advanced`` (collapsed on the page, e.g. a service's base URL). A
``String`` with a ``OneOf`` validator renders as a select.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate


def _meta(kwargs: dict[str, Any], widget: str) -> dict[str, Any]:
    metadata = dict(kwargs.pop("metadata", {}))
    for key in ("label", "help", "advanced", "placeholder"):
        if key in kwargs:
            metadata[key] = kwargs.pop(key)
    metadata.setdefault("widget", widget)
    kwargs["metadata"] = metadata
    return kwargs


def Text(**kwargs: Any) -> fields.String:
    """A one-line text setting."""
    return fields.String(**_meta(kwargs, "text"))


def TextArea(**kwargs: Any) -> fields.String:
    return fields.String(**_meta(kwargs, "textarea"))


def Secret(**kwargs: Any) -> fields.String:
    """A secret (API key, password): encrypted at rest, never rendered back; a blank submit
    keeps the stored value."""
    kwargs = _meta(kwargs, "secret")
    kwargs["metadata"]["secret"] = True
    return fields.String(**kwargs)


def Color(**kwargs: Any) -> fields.String:
    """A colour as ``#rrggbb``."""
    kwargs.setdefault("validate", validate.Regexp(r"^#[0-9a-fA-F]{6}$",
                                                  error="Use a colour like #1a2b3c."))
    return fields.String(**_meta(kwargs, "color"))


def Toggle(**kwargs: Any) -> fields.Boolean:
    return fields.Boolean(**_meta(kwargs, "toggle"))


def secret_fields(schema: Any) -> set[str]:
    """Names of the secret fields of a settings schema (class or instance)."""
    instance = schema() if isinstance(schema, type) else schema
    return {name for name, field in instance.fields.items() if field.metadata.get("secret")}
