"""The event log is a transactional outbox with a per-store sequence (O-04)."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from core.customers.service import create_customer, update_customer
from core.db import db
from core.errors import Conflict
from core.events.models import Event
from core.events.service import customer_timeline, store_events
from core.stores.models import Store
from tests.conftest import events_of, make_store


def test_an_event_exists_exactly_when_its_change_committed(store):
    create_customer(store, {"email": "kept@example.com"})
    db.session.commit()
    create_customer(store, {"email": "dropped@example.com"})
    db.session.rollback()

    created = events_of(store, "customer.created")
    assert [e.payload["customer"]["email"] for e in created] == ["kept@example.com"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 1


def test_a_failed_change_leaves_no_event(store):
    create_customer(store, {"email": "one@example.com"})
    db.session.commit()
    with pytest.raises(Conflict):
        create_customer(store, {"email": "ONE@example.com"})
    db.session.rollback()
    assert len(events_of(store)) == 1


def test_sequence_is_per_store_and_gapless_within_a_store(store, other_store):
    for n in range(3):
        create_customer(store, {"email": f"a{n}@example.com"})
        create_customer(other_store, {"email": f"b{n}@example.com"})
        db.session.commit()
    assert [e.seq for e in events_of(store)] == [1, 2, 3]
    assert [e.seq for e in events_of(other_store)] == [1, 2, 3]
    assert db.session.get(type(store), store.id).last_event_seq == 3


def test_timeline_and_catch_up_read_one_store(store, other_store):
    customer = create_customer(store, {"email": "t@example.com"})
    db.session.commit()
    update_customer(store, customer, {"first_name": "Tan"})
    create_customer(other_store, {"email": "t@example.com"})
    db.session.commit()

    assert [e.type for e in customer_timeline(store, customer.id)] == [
        "customer.updated",
        "customer.created",
    ]
    assert [e.seq for e in store_events(store, since=1)] == [2]
    assert store_events(other_store, since=0)[0].payload["customer"]["email"] == "t@example.com"


@pytest.mark.usefixtures("committing_db")
def test_concurrent_writers_never_expose_a_lower_sequence_later(app):
    """Readers polling ``seq > last seen`` must never miss an event committed below it."""
    store_id = make_store("busy").id
    db.session.rollback()  # end the read so the writers' transactions can start
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        with app.app_context():
            try:
                local = db.session.get(Store, store_id)
                for n in range(15):
                    create_customer(local, {"email": f"w{worker}-{n}@example.com"})
                    db.session.commit()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        with app.app_context():
            last = 0
            while not stop.is_set() or last < 60:
                rows = db.session.scalars(
                    sa.select(Event.seq)
                    .where(Event.store_id == store_id, Event.seq > last)
                    .order_by(Event.seq)
                ).all()
                db.session.rollback()
                for seq in rows:
                    seen.append(seq)
                    last = seq
                if stop.is_set() and not rows:
                    break
                time.sleep(0.002)
            db.session.remove()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join(30)
    assert not errors
    assert seen == list(range(1, 61)), "the reader skipped an event that committed later"
