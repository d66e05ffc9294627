"""Database access: one SQLAlchemy registry for the core, typed models, UTC timestamps.

Models use SQLAlchemy 2.0 typed declarations. ``db.session`` is scoped to the Flask app context,
so web requests, CLI commands and worker threads each get their own session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from plugin_sdk.db import NAMING_CONVENTION, UTCDateTime, new_registry, utcnow

__all__ = ["NAMING_CONVENTION", "Base", "UTCDateTime", "db", "utcnow"]

class Base(DeclarativeBase):
    registry = new_registry()


db = SQLAlchemy(model_class=Base)


class StoreScoped:
    """Mixin for every table that holds merchant data: the row belongs to exactly one store."""

    store_id: Mapped[int] = mapped_column(
        sa.ForeignKey("stores.id", ondelete="CASCADE"), index=True
    )


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _is_sqlite_dbapi(dbapi_connection: Any) -> bool:
    return type(dbapi_connection).__module__.startswith(("sqlite3", "pysqlite"))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL lets readers run beside one writer; foreign keys are off by default in SQLite.

    The driver's own transaction handling is switched off and SQLAlchemy emits ``BEGIN``
    itself, so that savepoints and transaction boundaries work as on PostgreSQL.
    """
    if not _is_sqlite_dbapi(dbapi_connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


#: Whether transactions begun now may write. On SQLite a writing transaction begins with
#: ``BEGIN IMMEDIATE``: it takes the write lock up front, waiting up to the busy timeout, where a
#: deferred transaction that read first would fail at once with "database is locked" if another
#: process wrote in between. Read-only requests (GET, HEAD) turn it off so they run side by side
#: in WAL mode. It defaults to on: CLI commands, workers and tests write.
write_intent: ContextVar[bool] = ContextVar("kedai_write_intent", default=True)


@contextmanager
def writing() -> Iterator[None]:
    """Mark transactions begun inside as writing (e.g. a GET request that records something)."""
    token = write_intent.set(True)
    try:
        yield
    finally:
        write_intent.reset(token)


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
