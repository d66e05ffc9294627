"""The event log: an append-only record of what happened in a store (O-04).

Rows are written in the same transaction as the change they describe (a transactional
outbox). ``seq`` is a per-store sequence: see ``core.events.service`` for how it is taken.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, StoreScoped, utcnow


class Event(StoreScoped, Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    type: Mapped[str] = mapped_column(sa.String(100))
    #: Who or what caused it: ``staff:<id>``, ``customer:<id>``, ``api:<token id>``, ``system``,
    #: ``import:<job id>`` or ``plugin:<plugin id>``.
    actor: Mapped[str] = mapped_column(sa.String(100), default="system")
    #: Plain ids, not foreign keys: the log outlives merges and erasure.
    customer_id: Mapped[int | None]
    order_id: Mapped[int | None]
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("store_id", "seq"),
        sa.Index("ix_events_store_customer_seq", "store_id", "customer_id", "seq"),
        sa.Index("ix_events_store_type_seq", "store_id", "type", "seq"),
    )
