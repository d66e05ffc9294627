"""Recording events in the transaction of the change they describe.

``record_event`` queues an event on the session. Just before the transaction commits, all
queued events of that transaction are numbered from the store's counter with one
``UPDATE stores SET last_event_seq = last_event_seq + n … RETURNING`` and inserted. Taking the
number as late as possible matters: the row lock on the store is held from that moment until
commit, so per store, event numbers become visible in increasing order and a reader who has
seen ``seq`` N will never later find a committed event below N. If the transaction rolls back,
the events vanish with it; if it commits, they are there (the transactional outbox).

Record events outside savepoints that may roll back: a rolled-back savepoint does not take its
queued events with it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from core.db import db, utcnow
from core.events.models import Event
from core.stores.models import Store

_PENDING = "kedai_pending_events"
_COMMITTED = "kedai_committed_events"

#: Called in the event's own transaction, once per store with that store's new events:
#: ``consumer(session, store_id, plugins_version, rows)``. The plugin host and the webhook
#: sender create their deliveries here, so a delivery exists exactly when its event does.
OutboxConsumer = Callable[[Session, int, int, list[dict[str, Any]]], None]
_consumers: list[OutboxConsumer] = []


def register_outbox_consumer(consumer: OutboxConsumer) -> OutboxConsumer:
    if consumer not in _consumers:
        _consumers.append(consumer)
    return consumer


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def record_event(
    store_id: int,
    type: str,
    payload: dict[str, Any] | None = None,
    *,
    actor: str = "system",
    customer_id: int | None = None,
    order_id: int | None = None,
    session: Session | None = None,
) -> str:
    """Queue an event to be written when the current transaction commits; return its id."""
    session = session or db.session()
    event_id = new_event_id()
    session.info.setdefault(_PENDING, []).append(
        {
            "id": event_id,
            "store_id": store_id,
            "type": type,
            "actor": actor,
            "customer_id": customer_id,
            "order_id": order_id,
            "payload": payload or {},
            "occurred_at": utcnow(),
        }
    )
    return event_id


def _flush_pending_events(session: Session) -> None:
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    by_store: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in pending:
        by_store[row["store_id"]].append(row)
    # Lock stores in id order so two transactions touching the same stores cannot deadlock.
    versions = {}
    for store_id in sorted(by_store):
        rows = by_store[store_id]
        last, versions[store_id] = session.execute(
            sa.update(Store)
            .where(Store.id == store_id)
            .values(last_event_seq=Store.last_event_seq + len(rows))
            .returning(Store.last_event_seq, Store.plugins_version)
            .execution_options(synchronize_session=False)
        ).one()
        for offset, row in enumerate(rows):
            row["seq"] = last - len(rows) + 1 + offset
    # Core, not ORM, insert: the rows are plain dicts and nothing is loaded back.
    session.connection().execute(sa.insert(Event.__table__), pending)
    for store_id, rows in by_store.items():
        for consumer in _consumers:
            consumer(session, store_id, versions[store_id], rows)
    session.info.setdefault(_COMMITTED, []).extend(pending)


@sa_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Flush the change first so the event's numbering is the last thing the transaction does.
    session.flush()
    _flush_pending_events(session)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    committed = session.info.pop(_COMMITTED, [])
    if committed:
        from core.events.dispatch import events_committed

        events_committed(committed)


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_PENDING, None)
        session.info.pop(_COMMITTED, None)


def customer_timeline(
    store: Store, customer_id: int, *, limit: int = 100, before: int | None = None
) -> list[Event]:
    """The newest events about one customer (C-10), newest first."""
    query = sa.select(Event).where(Event.store_id == store.id, Event.customer_id == customer_id)
    if before is not None:
        query = query.where(Event.seq < before)
    return list(db.session.scalars(query.order_by(Event.seq.desc()).limit(limit)))


def store_events(
    store: Store, *, since: int = 0, types: list[str] | None = None, limit: int = 100
) -> list[Event]:
    """Events of a store after sequence ``since``, oldest first: the catch-up cursor."""
    query = sa.select(Event).where(Event.store_id == store.id, Event.seq > since)
    if types:
        query = query.where(Event.type.in_(types))
    return list(db.session.scalars(query.order_by(Event.seq).limit(limit)))
