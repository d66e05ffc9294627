"""Schema migrations: the core's Alembic branch, then one branch per plugin distribution.

``kedai db upgrade`` runs them all. Installing a plugin in a store never changes the schema:
tables come from here, for every plugin present in the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config

from sqlalchemy import MetaData

from core.db import Base, db
from plugin_sdk.plugin import Plugin


@dataclass(frozen=True)
class MigrationBranch:
    name: str
    script_location: str
    version_table: str
    tables: frozenset[str] | None = None


CORE_BRANCH = MigrationBranch(
    name="core",
    script_location=str(Path(__file__).parent / "migrations"),
    version_table="alembic_version",
)


def branches() -> list[MigrationBranch]:
    """The core's branch first, then those the plugin host reports."""
    found = [CORE_BRANCH]
    try:
        from core.plugins.manager import plugin_migration_branches
    except ImportError:  # the plugin host is not part of this build yet
        return found
    return found + plugin_migration_branches()


def _config(branch: MigrationBranch, connection: object) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", branch.script_location)
    cfg.attributes.update(
        connection=connection,
        metadata=Base.metadata,
        version_table=branch.version_table,
        tables=branch.tables if branch.name != "core" else _core_tables(),
    )
    return cfg


def _core_tables() -> frozenset[str]:
    return frozenset(
        name for name, table in Base.metadata.tables.items() if table.info.get("plugin") is None
    )


def upgrade_all(revision: str = "heads") -> list[str]:
    """Upgrade the core and every plugin branch; returns the branch names upgraded."""
    done = []
    for branch in branches():
        with db.engine.begin() as connection:
            command.upgrade(_config(branch, connection), revision)
        done.append(branch.name)
    return done


def make_revision(message: str, branch: MigrationBranch = CORE_BRANCH) -> None:
    """Autogenerate a revision for ``branch`` against the current database (development).
    Plugins share the core's ``env.py``: their ``migrations/`` folder needs only
    ``versions/``."""
    branch.versions.mkdir(parents=True, exist_ok=True)
    first = not any(branch.versions.glob("*.py"))
    with db.engine.begin() as connection:
        command.revision(
            _config(branch, connection), message=message, autogenerate=True,
            head="base" if first else "head", branch_label=branch.name if first else None,
            version_path=str(branch.versions),
        )


def branch_named(name: str) -> MigrationBranch:
    for branch in branches():
        if branch.name == name:
            return branch
    raise LookupError(f"no migration branch {name!r}: is the plugin loaded and has it tables?")
