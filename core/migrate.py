"""Schema migrations: the core's Alembic branch, then one branch per plugin with tables.

``kedai db upgrade`` runs them all. Installing a plugin in a store never changes the schema:
tables come from here, for every plugin present in the environment. Every branch runs the
core's ``env.py`` and revision template; a plugin's package needs only
``migrations/versions/``, and gets its own version table ``alembic_version_<id>`` (Indico's
scheme), so branches of different distributions never meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from core.db import Base, db
from plugin_sdk.plugin import Plugin

SCRIPT_LOCATION = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class MigrationBranch:
    name: str
    versions: Path
    version_table: str
    metadata: MetaData


CORE_BRANCH = MigrationBranch(
    name="core",
    versions=SCRIPT_LOCATION / "versions",
    version_table="alembic_version",
    metadata=Base.metadata,
)


def plugin_branch(plugin: Plugin) -> MigrationBranch | None:
    """A plugin's branch, if it declares ``metadata`` and has ``migrations/versions/``."""
    metadata = getattr(plugin, "metadata", None)
    versions = plugin.package_path() / "migrations" / "versions"
    if metadata is None or not versions.is_dir():
        return None
    return MigrationBranch(
        name=plugin.id,
        versions=versions,
        version_table=f"alembic_version_{plugin.id}",
        metadata=metadata,
    )


def branches() -> list[MigrationBranch]:
    """The core's branch first, then one per loaded plugin that has tables."""
    from core.plugins.manager import host

    found = [CORE_BRANCH]
    for plugin_id in sorted(host.plugins):
        branch = plugin_branch(host.plugins[plugin_id])
        if branch is not None:
            found.append(branch)
    return found


def branch_named(name: str) -> MigrationBranch:
    for branch in branches():
        if branch.name == name:
            return branch
    raise LookupError(f"no migration branch {name!r}: is the plugin loaded and has it tables?")


def _config(branch: MigrationBranch, connection: object) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(branch.versions))
    cfg.attributes.update(
        connection=connection, metadata=branch.metadata, version_table=branch.version_table
    )
    return cfg


def upgrade_all(revision: str = "heads") -> list[str]:
    """Upgrade the core and every plugin branch; returns the branch names upgraded."""
    done = []
    for branch in branches():
        with db.engine.begin() as connection:
            command.upgrade(_config(branch, connection), revision)
        done.append(branch.name)
    return done


def make_revision(message: str, branch: MigrationBranch = CORE_BRANCH) -> None:
    """Autogenerate a revision for ``branch`` against the current database (development)."""
    branch.versions.mkdir(parents=True, exist_ok=True)
    first = not any(branch.versions.glob("*.py"))
    with db.engine.begin() as connection:
        command.revision(
            _config(branch, connection), message=message, autogenerate=True,
            head="base" if first else f"{branch.name}@head",
            branch_label=branch.name if first else None, version_path=str(branch.versions),
        )
