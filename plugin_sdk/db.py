"""Tables for plugins: a declarative base per plugin, UTC timestamps, store scoping.

    from plugin_sdk.db import model_base, StoreScoped

    Base = model_base("rewards")

    class Account(StoreScoped, Base):
        __tablename__ = "rewards_accounts"
        ...

Set ``metadata = Base.metadata`` on the plugin class. Every table carries ``store_id`` (the
host deletes a store's rows on uninstall) and is named ``<plugin id>_…``. Its migrations live in
the plugin package's ``migrations/`` folder, an Alembic branch of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no zone, PostgreSQL does; this type makes both hand back aware UTC values and
    refuses naive ones, so local time can never slip into the database.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_registry() -> registry:
    return registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def model_base(plugin_id: str) -> type[DeclarativeBase]:
    """A declarative base whose tables belong to ``plugin_id``."""

    class PluginBase(DeclarativeBase):
        registry = new_registry()

    PluginBase.metadata.info["plugin"] = plugin_id
    PluginBase.__name__ = f"{plugin_id.title().replace('_', '')}Base"
    return PluginBase


class StoreScoped:
    """Every plugin row belongs to one store. No foreign key: plugin tables live on their own
    migration branch; the host deletes a store's rows on uninstall."""

    store_id: Mapped[int] = mapped_column(sa.Integer, index=True)
