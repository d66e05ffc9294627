"""The Celery executor with real parts: a ``kedai worker`` process, the real Redis
(``KEDAI_TEST_REDIS_URL``, default database 5, a queue of its own per test) and the test
database (``committing_db``: the worker is another process). The test process plays the web
process: with ``KEDAI_EXECUTOR=celery`` it sends new work as tasks after commit. Nothing here is
eager; every assertion polls the database.

Skipped, saying why, only when Redis does not answer (``.ci/run`` starts it).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from core.customers.service import create_customer
from core.db import db, write_intent
from core.events.models import Event
from core.jobs.models import Job
from core.jobs.service import enqueue
from core.plugins import service
from core.plugins.models import EventDelivery, PluginKeyValue
from core.stores.models import Store
from tests.conftest import make_store
from tests.sdk.sample_plugins import Guestbook
from tests.sdk.slow_plugins import AppliedWork, Flaky, Slow, SlowBase, WorkerProcess, wait_until

REDIS_URL = os.environ.get("KEDAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
GUESTBOOK_SETTINGS = {"greeting": "Selamat datang", "api_key": "sk-test-123"}
EXTRA_PLUGINS = ",".join([
    "tests.sdk.sample_plugins:Guestbook", "tests.sdk.slow_plugins:Flaky",
    "tests.sdk.slow_plugins:Slow",
])


@pytest.fixture(scope="module")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (redis.exceptions.RedisError, OSError) as exc:
        pytest.skip(f"Redis does not answer at {REDIS_URL} ({exc}); .ci/run starts it")
    finally:
        client.close()
    return REDIS_URL


class Broker:
    """Redis as this test's worker sees it: one queue of its own (``KEDAI_CELERY_QUEUE``), so
    test runs sharing the Redis database on one machine (two CI legs, two developers) never
    take each other's messages; FLUSHDB would empty another run's queue under its feet."""

    def __init__(self, client: Any, queue: str) -> None:
        self.client = client
        self.queue = queue

    def waiting(self) -> int:
        return self.client.llen(self.queue)

    def drained(self) -> bool:
        """No message waiting in our queue, none taken and not yet acknowledged (acks_late:
        kombu keeps those in one ``unacked`` hash per database, tagged with the queue)."""
        taken = [json.loads(raw) for raw in self.client.hvals("unacked")]
        return self.waiting() == 0 and not [t for t in taken if t[2] == self.queue]


@pytest.fixture
def broker(redis_url: str, app: Flask, committing_db: None) -> Iterator[Broker]:
    """An empty queue, and a Celery app in this process that sends to it."""
    from core import celery_app

    client = redis.Redis.from_url(redis_url)
    queue = f"kedai-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    original = celery_app.celery
    celery_app.celery = celery_app.make_celery(redis_url, queue)
    try:
        yield Broker(client, queue)
    finally:
        celery_app.celery.close()
        celery_app.celery = original
        # The queue and kombu's records of its exchange, so runs leave nothing behind.
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()


@pytest.fixture
def celery_executor(app: Flask, broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process commits as a web process of the Celery executor does: sending tasks."""
    monkeypatch.setitem(app.config, "KEDAI_EXECUTOR", "celery")


@pytest.fixture
def applied_table(app: Flask, committing_db: None) -> Iterator[None]:
    SlowBase.metadata.create_all(db.engine)
    yield
    db.session.remove()
    SlowBase.metadata.drop_all(db.engine)


def start_worker(tmp_path: Path, broker: Broker, *args: str, **env: str) -> WorkerProcess:
    return WorkerProcess(
        ["-c", "from core.cli import main; main()", "worker", "--concurrency", "2",
         # Other test runs' workers may share this Redis: no need to meet them.
         "--without-mingle", "--without-gossip", *args],
        tmp_path / "worker.log",
        REDIS_URL=REDIS_URL,
        KEDAI_CELERY_QUEUE=broker.queue,
        KEDAI_EXTRA_PLUGINS=EXTRA_PLUGINS,
        KEDAI_TEST_FLAKY_DIR=str(tmp_path),
        KEDAI_TEST_SLOW_SECONDS="0.05",
        **env,
    )


def read(statement: Any) -> list[Any]:
    """Rows as committed now, ending the read at once (on SQLite: no write lock kept)."""
    token = write_intent.set(False)
    try:
        return list(db.session.execute(statement).all())
    finally:
        db.session.rollback()
        write_intent.reset(token)


def deliveries(plugin_id: str) -> list[Any]:
    return read(sa.select(EventDelivery.id, EventDelivery.status, EventDelivery.attempts,
                          EventDelivery.last_error)
                .where(EventDelivery.plugin_id == plugin_id).order_by(EventDelivery.id))


def job_state(job_id: int) -> Any:
    return read(sa.select(Job.status, Job.attempts, Job.result).where(Job.id == job_id))[0]


def signups(store_id: int) -> Any:
    rows = read(sa.select(PluginKeyValue.value).where(
        PluginKeyValue.store_id == store_id, PluginKeyValue.plugin_id == "guestbook",
        PluginKeyValue.key == "signups"))
    return rows[0][0] if rows else None


def open_store(slug: str, *plugins: tuple[str, dict[str, Any]]) -> int:
    store = make_store(slug)
    for plugin_id, settings in plugins:
        service.install(store, plugin_id, consent=True, actor="test")
        if settings:
            service.save_settings(store, plugin_id, settings)
        service.enable(store, plugin_id)
    db.session.commit()
    store_id = store.id
    db.session.rollback()
    return store_id


def add_customers(store_id: int, count: int) -> None:
    store = db.session.get(Store, store_id)
    for n in range(count):
        create_customer(store, {"email": f"c{n}@example.com"})
    db.session.commit()


def test_new_work_is_sent_after_commit_and_applied_once_despite_duplicate_messages(
    register_plugin: Any, celery_executor: None, broker: Broker, applied_table: None,
    tmp_path: Path,
) -> None:
    from core import celery_app

    register_plugin(Guestbook)
    register_plugin(Slow)
    # Guestbook counts signups by reading and writing one key, which two deliveries running at
    # once could interleave: it gets a store with one customer. Slow only inserts, guarded by
    # ctx.once, so its deliveries may race freely.
    greeting_store = open_store("celerytea", ("guestbook", GUESTBOOK_SETTINGS))
    busy_store = open_store("busytea", ("slow", {}))
    add_customers(greeting_store, 1)
    add_customers(busy_store, 3)
    job_id = enqueue("slow.units", {"units": 3}, store_id=busy_store).id
    db.session.commit()
    # One task per new delivery and per job, sent as each transaction committed.
    assert broker.waiting() == 1 + 3 + 1

    # The same messages again, as a broker redelivery would bring them; with two pool processes
    # they race the originals, and the claim in the database lets each through once.
    delivery_ids = [row.id for row in deliveries("guestbook") + deliveries("slow")]
    celery_app.send("kedai.deliver", delivery_ids)
    celery_app.send("kedai.run_job", [job_id])

    worker = start_worker(tmp_path, broker)
    try:
        wait_until(lambda: all(row.status == "done" for row in deliveries("guestbook")),
                   timeout=20, worker=worker, what="the worker to deliver to the guestbook")
        wait_until(lambda: all(row.status == "done" for row in deliveries("slow")),
                   timeout=20, worker=worker, what="the worker to deliver to slow")
        wait_until(lambda: job_state(job_id).status == "done", timeout=20, worker=worker,
                   what="the worker to run the job")
        wait_until(broker.drained, timeout=20, worker=worker,
                   what="the duplicate messages to be consumed")
    finally:
        worker.stop()

    (greeted,) = deliveries("guestbook")
    assert greeted.attempts == 1 and signups(greeting_store) == 1
    signed = read(sa.select(Event.id).where(Event.type == "guestbook.signed"))
    assert len(signed) == 1  # emitted by the plugin in the worker, once
    rows = deliveries("slow")
    assert len(rows) == 3 and all(row.attempts == 1 for row in rows)
    applied = read(sa.select(AppliedWork.key).where(AppliedWork.source == "slow"))
    assert len(applied) == len({key for (key,) in applied}) == 3  # each event applied once
    job = job_state(job_id)
    assert job.attempts == 1 and job.result == {"units": 3}
    units = read(sa.select(AppliedWork.key).where(AppliedWork.source == "job"))
    assert sorted(key for (key,) in units) == [f"{job_id}:{n}" for n in range(3)]


def test_a_failing_delivery_is_retried_by_the_worker_after_its_backoff(
    register_plugin: Any, celery_executor: None, broker: Broker, applied_table: None,
    tmp_path: Path,
) -> None:
    register_plugin(Flaky)
    store_id = open_store("flakytea", ("flaky", {}))
    worker = start_worker(tmp_path, broker)
    try:
        add_customers(store_id, 1)
        failed_once = wait_until(
            lambda: [r for r in deliveries("flaky") if r.attempts == 1 and r.status == "pending"],
            timeout=20, worker=worker, what="the first attempt to fail",
        )
        assert "the first attempt fails" in failed_once[0].last_error
        # The backoff after a first failure is 10 s ± 20 %; the failed task sent itself again
        # for then, with no tick to help (this worker runs no beat).
        wait_until(lambda: deliveries("flaky")[0].status == "done", timeout=20, worker=worker,
                   what="the retry to succeed")
    finally:
        worker.stop()

    (row,) = deliveries("flaky")
    assert row.attempts == 2 and row.last_error == ""
    assert len(read(sa.select(AppliedWork.id).where(AppliedWork.source == "flaky"))) == 1


def test_the_tick_picks_up_work_whose_message_was_lost(
    register_plugin: Any, broker: Broker, applied_table: None, tmp_path: Path
) -> None:
    """Work committed while no task was sent (here: this process runs the inline executor,
    as if its messages were lost) is found by ``kedai.tick`` from beat."""
    register_plugin(Guestbook)
    store_id = open_store("losttea", ("guestbook", GUESTBOOK_SETTINGS))
    add_customers(store_id, 2)
    job_id = enqueue("slow.units", {"units": 1}, store_id=store_id).id
    db.session.commit()
    assert broker.waiting() == 0, "no message may exist for this work"

    worker = start_worker(tmp_path, broker, "--beat", KEDAI_CELERY_TICK_SECONDS="1")
    try:
        wait_until(lambda: all(row.status == "done" for row in deliveries("guestbook")),
                   timeout=20, worker=worker, what="the tick to find the deliveries")
        wait_until(lambda: job_state(job_id).status == "done", timeout=20, worker=worker,
                   what="the tick to find the job")
    finally:
        worker.stop()
    assert signups(store_id) == 2
