"""The inline executor killed for real: SIGKILL a worker mid-batch, start another, and every
event is applied once and the interrupted job runs again from its checkpoint.

The worker is the real ``InlineWorker`` thread in a process of its own, on the test database
(``committing_db``: its commits must be visible across processes). Leases are shortened to 2 s
in both workers (``KEDAI_DELIVERY_LEASE_SECONDS``, ``KEDAI_JOB_LEASE_SECONDS``): the lease a
killed worker leaves behind is the one it took, so it is the first worker's that must be short.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from core.customers.service import create_customer
from core.db import db, write_intent
from core.events.models import Event
from core.jobs.models import Job
from core.jobs.service import enqueue
from core.plugins import service
from core.plugins.models import EventDelivery, PluginProcessedKey
from tests.conftest import make_store
from tests.sdk.slow_plugins import AppliedWork, Slow, SlowBase, WorkerProcess, wait_until

CUSTOMERS = 8
UNITS = 6
LEASE_SECONDS = "2"

INLINE_WORKER = """
import threading
from core.app import create_app
from core.jobs.worker import InlineWorker

InlineWorker(create_app()).start()
threading.Event().wait()
"""


@pytest.fixture
def slow_table(app: Flask, committing_db: None) -> Iterator[None]:
    SlowBase.metadata.create_all(db.engine)
    yield
    db.session.remove()
    SlowBase.metadata.drop_all(db.engine)


def start_worker(tmp_path: Path, name: str) -> WorkerProcess:
    return WorkerProcess(
        ["-c", INLINE_WORKER], tmp_path / f"{name}.log",
        KEDAI_EXECUTOR="inline",
        KEDAI_EXTRA_PLUGINS="tests.sdk.slow_plugins:Slow",
        KEDAI_DELIVERY_LEASE_SECONDS=LEASE_SECONDS,
        KEDAI_JOB_LEASE_SECONDS=LEASE_SECONDS,
        KEDAI_TEST_SLOW_SECONDS="0.4",
    )


def read(statement: Any) -> list[Any]:
    """Rows as committed now; the read ends at once, so no transaction (and on SQLite no
    write lock) is held while the workers run."""
    token = write_intent.set(False)
    try:
        return list(db.session.execute(statement).all())
    finally:
        db.session.rollback()
        write_intent.reset(token)


def deliveries() -> list[Any]:
    return read(sa.select(EventDelivery.id, EventDelivery.status, EventDelivery.attempts,
                          EventDelivery.lease_until, EventDelivery.event_id)
                .where(EventDelivery.plugin_id == "slow").order_by(EventDelivery.id))


def applied(source: str) -> list[Any]:
    return read(sa.select(AppliedWork.key, AppliedWork.pid).where(AppliedWork.source == source))


def test_a_worker_killed_mid_batch_loses_no_event_and_applies_none_twice(
    register_plugin: Any, slow_table: None, tmp_path: Path
) -> None:
    register_plugin(Slow)
    store = make_store("slowtea")
    service.install(store, "slow", consent=True, actor="test")
    service.enable(store, "slow")
    for n in range(CUSTOMERS):
        create_customer(store, {"email": f"c{n}@example.com"})
    db.session.commit()
    event_ids = {row.id for row in read(sa.select(Event.id).where(
        Event.type == "customer.created"))}
    assert len(deliveries()) == CUSTOMERS

    first = start_worker(tmp_path, "first")
    second = None
    try:
        seen_running: set[int] = set()

        def fresh_claim_after_two_done() -> bool:
            # Kill just after a claim, so the handler is surely mid-way (it dawdles 0.4 s with
            # its write uncommitted), not between two deliveries.
            rows = deliveries()
            running = {row.id for row in rows if row.status == "running"}
            fresh = running - seen_running
            seen_running.update(running)
            return sum(row.status == "done" for row in rows) >= 2 and bool(fresh)

        wait_until(fresh_claim_after_two_done, timeout=20, worker=first,
                   what="the first worker to be mid-batch")
        first.kill()

        rows = deliveries()
        done = [row for row in rows if row.status == "done"]
        left_running = [row for row in rows if row.status == "running"]
        assert left_running, "the killed worker left no claimed delivery behind"
        assert all(row.lease_until is not None for row in left_running)
        assert len(done) < CUSTOMERS
        # The interrupted handler's write died with its transaction.
        assert len(applied("slow")) == len(done)

        second = start_worker(tmp_path, "second")
        wait_until(lambda: all(row.status == "done" for row in deliveries()), timeout=20,
                   worker=second, what="the second worker to finish every delivery")
    finally:
        first.stop()
        if second is not None:
            second.stop()

    rows = applied("slow")
    assert len(rows) == CUSTOMERS, "an event was applied twice or not at all"
    assert {row.key for row in rows} == event_ids
    once_keys = read(sa.select(sa.func.count()).select_from(PluginProcessedKey)
                     .where(PluginProcessedKey.plugin_id == "slow"))
    assert once_keys[0][0] == CUSTOMERS
    attempts = {row.id: row.attempts for row in deliveries()}
    for row in left_running:
        assert attempts[row.id] == 2  # claimed again once its lease ran out
        assert {r.pid for r in rows if r.key == row.event_id} == {second.pid}
    assert sum(attempts.values()) == CUSTOMERS + len(left_running)


def test_a_job_killed_mid_run_runs_again_from_its_checkpoint(
    slow_table: None, tmp_path: Path
) -> None:
    store = make_store("slowjobs")
    job_id = enqueue("slow.units", {"units": UNITS}, store_id=store.id).id
    db.session.commit()

    def job() -> Any:
        return read(sa.select(Job.status, Job.attempts, Job.lease_until, Job.progress_done,
                              Job.result).where(Job.id == job_id))[0]

    first = start_worker(tmp_path, "first")
    second = None
    try:
        wait_until(lambda: job().progress_done >= 2, timeout=20, worker=first,
                   what="the job to be two units in")
        first.kill()

        interrupted = job()
        assert interrupted.status == "running" and interrupted.lease_until is not None
        assert interrupted.attempts == 1
        assert 2 <= interrupted.progress_done < UNITS
        # Each unit commits with its checkpoint: nothing past the checkpoint survived.
        assert len(applied("job")) == interrupted.progress_done

        second = start_worker(tmp_path, "second")
        wait_until(lambda: job().status == "done", timeout=20, worker=second,
                   what="the second worker to finish the job")
    finally:
        first.stop()
        if second is not None:
            second.stop()

    finished = job()
    assert finished.attempts == 2
    assert finished.progress_done == UNITS and finished.result == {"units": UNITS}
    rows = applied("job")
    assert sorted(row.key for row in rows) == sorted(f"{job_id}:{n}" for n in range(UNITS))
    resumed = {row.key for row in rows if row.pid == second.pid}
    assert resumed == {f"{job_id}:{n}" for n in range(interrupted.progress_done, UNITS)}
