"""The marketplace catalogue: every plugin a merchant can see, with its listing.

Listings come from ``manifests/*.toml`` (first-party; ``KEDAI_MANIFESTS_PATH`` points
elsewhere) and from a ``manifest.toml`` inside each loaded plugin's package (third-party). A
loaded plugin without a manifest is listed from its class. A manifest whose plugin is not
present in this installation is listed as not available, with the distribution to install.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from core.plugins.manager import host
from plugin_sdk.manifest import Manifest, ManifestInvalid, disagreements, load_manifest
from plugin_sdk.plugin import Plugin

log = logging.getLogger("kedai.plugins")


@dataclass(frozen=True)
class Listing:
    manifest: Manifest
    plugin: Plugin | None
    problems: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def available(self) -> bool:
        return self.plugin is not None and not self.problems


def manifests_path() -> Path:
    default = Path(__file__).resolve().parents[2] / "manifests"
    return Path(os.environ.get("KEDAI_MANIFESTS_PATH", default))


def _from_class(plugin: Plugin) -> Manifest:
    text = {"en": plugin.name, "zh_hant": plugin.name, "zh_hans": plugin.name}
    description = plugin.description or plugin.name
    return Manifest(
        id=plugin.id, version=plugin.version, category=plugin.category,
        author=plugin.author or "unknown", distribution="", support_url="",
        name=text, description={"en": description, "zh_hant": description,
                                "zh_hans": description},
        permissions=list(plugin.permissions), requires=list(plugin.requires),
        source="plugin class",
    )


def listings() -> dict[str, Listing]:
    """Every listing by plugin id, sorted by id."""
    found: dict[str, Listing] = {}
    paths = sorted(manifests_path().glob("*.toml")) if manifests_path().is_dir() else []
    for plugin in host.plugins.values():
        own = plugin.package_path() / "manifest.toml"
        if own.exists():
            paths.append(own)
    for path in paths:
        try:
            manifest = load_manifest(path)
        except ManifestInvalid as exc:
            log.error("invalid manifest %s", exc)
            continue
        plugin = host.get(manifest.id)
        problems = tuple(disagreements(manifest, type(plugin))) if plugin else ()
        found[manifest.id] = Listing(manifest, plugin, problems)
    for plugin_id, plugin in host.plugins.items():
        if plugin_id not in found:
            found[plugin_id] = Listing(_from_class(plugin), plugin)
    return dict(sorted(found.items()))
