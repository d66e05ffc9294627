"""Rows as a work queue: claim with a lease, so any number of processes can share the work.

A row is due when it is ``pending`` and its due time has come, or ``running`` with a lease that
ran out (its worker died). One conditional ``UPDATE`` moves it to ``running`` with a new lease
and one more attempt; the caller owns it only if the row count is 1. Nothing holds a
transaction open while the work runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.db import db, utcnow


@dataclass(frozen=True)
class LeasedQueue:
    model: Any
    #: The column saying when a pending row is due (``next_attempt_at``, ``run_after``).
    due_column: Any

    def due(self, now: datetime) -> sa.ColumnElement[bool]:
        model = self.model
        return sa.or_(
            sa.and_(model.status == "pending", self.due_column <= now),
            sa.and_(model.status == "running", model.lease_until < now),
        )

    def due_ids(self, *conditions: Any, limit: int = 50) -> list[int]:
        now = utcnow()
        ids = list(db.session.scalars(
            sa.select(self.model.id).where(self.due(now), *conditions)
            .order_by(self.due_column, self.model.id).limit(limit)
        ))
        db.session.rollback()
        return ids

    def claim(self, row_id: int, lease: timedelta) -> bool:
        """Take the row for this process; ``True`` only for the one caller that won it."""
        now = utcnow()
        result = db.session.execute(
            sa.update(self.model)
            .where(self.model.id == row_id, self.due(now))
            .values(status="running", lease_until=now + lease, attempts=self.model.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return result.rowcount == 1
