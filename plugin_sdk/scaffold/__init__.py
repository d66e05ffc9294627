"""The project template behind ``kedai plugins new NAME``: a working third-party plugin.

The files under ``template/`` are ``string.Template`` texts (``${id}``, ``${package}`` …) with a
``.tmpl`` suffix, so that neither Python tools nor pytest mistake them for code. In paths,
``__package__`` and ``__id__`` are replaced by the package name and the plugin id, and a leading
``dot_`` becomes ``.``.

The generated project is an ordinary Python distribution ``kedai-<id>`` holding the package
``kedai_<id>`` and an entry point in the ``kedai.plugins`` group; its tests use the SDK's
harness and pass as generated.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).resolve().parent / "template"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class ScaffoldError(ValueError):
    """The name or the target folder cannot be used."""


@dataclass(frozen=True)
class ProjectNames:
    """Every name the template needs, derived from the plugin id."""

    id: str
    package: str
    distribution: str
    class_name: str
    title: str
    version: str
    core_version: str


def names_for(plugin_id: str, *, core_version: str, version: str = "0.1.0") -> ProjectNames:
    """``loyalty_stamps`` → package ``kedai_loyalty_stamps``, class ``LoyaltyStampsPlugin`` …"""
    if not ID_PATTERN.fullmatch(plugin_id):
        suggestion = re.sub(r"[^a-z0-9_]", "_", plugin_id.lower()).strip("_")
        hint = f" (e.g. {suggestion!r})" if ID_PATTERN.fullmatch(suggestion) else ""
        raise ScaffoldError(
            f"{plugin_id!r} cannot be a plugin id: use 2-64 lowercase letters, digits and _, "
            f"starting with a letter{hint}"
        )
    words = [word for word in plugin_id.split("_") if word]
    return ProjectNames(
        id=plugin_id,
        package=f"kedai_{plugin_id}",
        distribution="kedai-" + plugin_id.replace("_", "-"),
        class_name="".join(word.capitalize() for word in words) + "Plugin",
        title=" ".join(words).capitalize(),
        version=version,
        core_version=core_version,
    )


def _target_path(relative: Path, names: ProjectNames) -> Path:
    parts = []
    for part in relative.parts:
        part = part.replace("__package__", names.package).replace("__id__", names.id)
        if part.startswith("dot_"):
            part = "." + part[len("dot_"):]
        parts.append(part.removesuffix(".tmpl"))
    return Path(*parts)


def template_files() -> list[Path]:
    """The template's files, relative to ``TEMPLATE``."""
    return sorted(
        path.relative_to(TEMPLATE) for path in TEMPLATE.rglob("*.tmpl") if path.is_file()
    )


def create_project(plugin_id: str, target: Path, *, core_version: str) -> list[Path]:
    """Write a new plugin project into ``target`` (absent or empty); return the files written."""
    names = names_for(plugin_id, core_version=core_version)
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty")
    values = asdict(names)
    written = []
    for relative in template_files():
        text = Template((TEMPLATE / relative).read_text(encoding="utf-8")).substitute(values)
        destination = target / _target_path(relative, names)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
        written.append(destination)
    return written
