"""Marketplace manifests: a plugin's catalogue listing, validated, and checked against its class.

A manifest is TOML (``manifests/<id>.toml`` for first-party plugins, ``manifest.toml`` in a
third-party plugin's package)::

    id = "guestbook"
    version = "1.0.0"
    category = "marketing"
    author = "Example Ltd"
    distribution = "kedai-guestbook"       # the Python distribution that provides it
    support_url = "https://example.com/support"
    permissions = ["customers:read"]
    requires = []

    [name]
    en = "Guestbook"
    zh-Hant = "留言簿"
    zh-Hans = "留言簿"

    [description]
    en = "Greets shoppers."
    zh-Hant = "…"
    zh-Hans = "…"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from marshmallow import ValidationError as SchemaError

from plugin_sdk.plugin import CATEGORIES, PERMISSIONS, Plugin

MANIFEST_LOCALES = ("en", "zh-Hant", "zh-Hans")


class _Localised(Schema):
    class Meta:
        unknown = RAISE

    en = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    zh_hant = fields.String(data_key="zh-Hant", required=True,
                            validate=validate.Length(min=1, max=2000))
    zh_hans = fields.String(data_key="zh-Hans", required=True,
                            validate=validate.Length(min=1, max=2000))


class ManifestSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{1,63}$", error="Use lowercase letters, digits and _."))
    version = fields.String(required=True, validate=validate.Regexp(
        r"^\d+\.\d+\.\d+([.-]?[A-Za-z0-9.]+)?$", error="Use a version like 1.2.0."))
    category = fields.String(required=True, validate=validate.OneOf(list(CATEGORIES)))
    author = fields.String(required=True, validate=validate.Length(min=1, max=200))
    distribution = fields.String(required=True, validate=validate.Length(min=1, max=200))
    support_url = fields.Url(required=True, schemes={"https", "http", "mailto"})
    permissions = fields.List(fields.String(validate=validate.OneOf(list(PERMISSIONS))),
                              load_default=list)
    requires = fields.List(fields.String(), load_default=list)
    name = fields.Nested(_Localised, required=True)
    description = fields.Nested(_Localised, required=True)
    screenshots = fields.List(fields.String(), load_default=list)


@dataclass(frozen=True)
class Manifest:
    id: str
    version: str
    category: str
    author: str
    distribution: str
    support_url: str
    name: dict[str, str]
    description: dict[str, str]
    permissions: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)
    source: str = ""

    def text(self, attribute: str, locale: str) -> str:
        values = getattr(self, attribute)
        key = {"zh_Hant": "zh_hant", "zh_Hans": "zh_hans", "zh-Hant": "zh_hant",
               "zh-Hans": "zh_hans"}.get(locale, locale)
        return values.get(key) or values["en"]


class ManifestInvalid(ValueError):
    def __init__(self, source: str, errors: dict[str, Any]) -> None:
        self.source = source
        self.errors = errors
        problems = "; ".join(f"{k}: {v}" for k, v in _flatten(errors).items())
        super().__init__(f"{source}: {problems}")


def _flatten(errors: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in errors.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return flat


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file; ``ManifestInvalid`` says what is wrong and where."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ManifestInvalid(str(path), {"toml": [str(exc)]}) from exc
    try:
        data = ManifestSchema().load(raw)
    except SchemaError as exc:
        raise ManifestInvalid(str(path), exc.normalized_messages()) from exc
    return Manifest(**data, source=str(path))


def disagreements(manifest: Manifest, plugin_class: type[Plugin]) -> list[str]:
    """Where the listing and the plugin class say different things."""
    problems = []
    for attribute in ("id", "version", "category"):
        listed, declared = getattr(manifest, attribute), getattr(plugin_class, attribute)
        if listed != declared:
            problems.append(f"{attribute}: the manifest says {listed!r}, the plugin {declared!r}")
    for attribute in ("permissions", "requires"):
        listed, declared = set(getattr(manifest, attribute)), set(getattr(plugin_class,
                                                                            attribute))
        if listed != declared:
            problems.append(
                f"{attribute}: the manifest lists {sorted(listed)}, the plugin {sorted(declared)}"
            )
    return problems
