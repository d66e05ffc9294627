"""The Celery executor (``KEDAI_EXECUTOR=celery``): deliveries, webhooks and jobs as tasks.

Start workers with ``kedai worker`` (``--beat`` in exactly one of them) or
``celery -A core.celery_app worker``. Broker and result backend are ``REDIS_URL``.

A task is only a hint, "look at row N": the database claim (one conditional ``UPDATE`` with a
lease, see ``core.queue``) stays the only source of truth. A task for a row that is done, not
due yet or claimed by another process does nothing, so a duplicated message is harmless, and a
lost one costs at most a tick. Work reaches a worker three ways:

1. after commit, the process that committed sends one task per new event delivery, webhook
   delivery and job (``core.executor`` subscribes to the commits);
2. a delivery or job that failed sends itself again for when its backoff ends, when that is
   within ``RETRY_HORIZON`` (a long countdown would sit in a worker's memory and outlive the
   broker's visibility timeout);
3. ``kedai.tick``, sent by beat every ``KEDAI_CELERY_TICK_SECONDS`` (30), sends a task for
   everything due (later retries, messages lost to a Redis restart or to a process that died
   between commit and send, leases of killed workers that ran out) and runs the daily schedule.

Messages are acknowledged after the task ran (``acks_late``) and given back when the worker
process dies (``task_reject_on_worker_lost``); a worker takes one message at a time
(``worker_prefetch_multiplier=1``), so a long job never holds back short deliveries queued
behind it on the same process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from celery import Celery, Task, signals
from flask import Flask

log = logging.getLogger("kedai.celery")

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: Retries due later than this are left to the tick.
RETRY_HORIZON = timedelta(minutes=10)
#: The most rows of each kind one tick sends; the next tick sends the rest.
SWEEP_LIMIT = 500


def tick_seconds() -> float:
    return float(os.environ.get("KEDAI_CELERY_TICK_SECONDS") or 30)


# --- the Flask app each task runs in ------------------------------------------------------

_flask_app: Flask | None = None
_flask_app_lock = threading.Lock()


def flask_app() -> Flask:
    """This worker process's Flask app, built on first use.

    Built in each pool process, never in the parent before the fork, so no database connection
    is shared between processes. Follow-up work (events a plugin emits, jobs a delivery
    enqueues) is sent as tasks from here too, whatever ``KEDAI_EXECUTOR`` says.
    """
    global _flask_app
    with _flask_app_lock:
        if _flask_app is None:
            from core.app import create_app

            _flask_app = create_app({"KEDAI_EXECUTOR": "celery", "KEDAI_START_WORKER": False})
    return _flask_app


class AppContextTask(Task):  # type: ignore[misc]
    """Runs the task inside an app context, so ``db.session`` is the task's own and is removed
    (its connection returned) when the task ends."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with flask_app().app_context():
            return super().__call__(*args, **kwargs)


@signals.worker_process_init.connect
def _warm_up(**_: Any) -> None:
    # Build the app as each pool process starts rather than in its first task.
    try:
        flask_app()
    except Exception:
        log.exception("could not build the Flask app in a worker process")


# --- the Celery app --------------------------------------------------------------------------


def make_celery(redis_url: str | None = None, queue: str | None = None) -> Celery:
    """A Celery app configured from the environment (``REDIS_URL``, ``KEDAI_CELERY_QUEUE``,
    ``KEDAI_CELERY_TICK_SECONDS``, ``KEDAI_INSTANCE_PATH``); the arguments override the first
    two."""
    url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    queue = queue or os.environ.get("KEDAI_CELERY_QUEUE") or "kedai"
    instance = Path(os.environ.get("KEDAI_INSTANCE_PATH", "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    app = Celery("kedai", task_cls=AppContextTask)
    app.conf.update(
        broker_url=url,
        result_backend=url,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Outcomes live in the database rows; storing every task's return value in Redis would
        # only cost memory. (``apply_async(ignore_result=False)`` still stores one on request.)
        task_ignore_result=True,
        result_expires=3600,
        # A queue of its own, so a Redis shared with another Celery application (or another
        # Kedai deployment, or a second test run) stays apart.
        task_default_queue=queue,
        beat_schedule={
            "kedai.tick": {
                "task": "kedai.tick",
                "schedule": tick_seconds(),
                # A tick that waited longer than one period is superseded by the next one.
                "options": {"expires": tick_seconds()},
            }
        },
        beat_schedule_filename=str(instance / "celerybeat-schedule"),
        timezone="UTC",
    )
    return app


celery = make_celery()


# --- sending ---------------------------------------------------------------------------------


def send(task_name: str, ids: Iterable[int], *, eta: datetime | None = None) -> int:
    """Send ``task_name(id)`` for each id over one producer connection; returns how many."""
    ids = list(ids)
    if not ids:
        return 0
    app = celery  # looked up per call: tests point the module at their own broker
    with app.producer_or_acquire() as producer:
        for row_id in ids:
            app.send_task(task_name, args=[row_id], eta=eta, producer=producer,
                          ignore_result=True)
    return len(ids)


@contextmanager
def _reading() -> Iterator[Any]:
    """A connection of its own for a read after commit, when the session that committed may
    not run SQL; on SQLite it reads without taking the write lock."""
    from core.db import db, write_intent

    token = write_intent.set(False)
    try:
        with db.engine.connect() as connection:
            yield connection
    finally:
        write_intent.reset(token)


def send_for_events(event_ids: list[str]) -> int:
    """Send a task for each pending plugin delivery and webhook delivery of these events."""
    import sqlalchemy as sa

    from core.plugins.models import EventDelivery
    from core.webhooks.models import WebhookDelivery

    deliveries: list[int] = []
    webhooks: list[int] = []
    with _reading() as connection:
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            for model, found in ((EventDelivery, deliveries), (WebhookDelivery, webhooks)):
                found.extend(connection.scalars(sa.select(model.id).where(
                    model.event_id.in_(chunk), model.status == "pending")))
    return send("kedai.deliver", deliveries) + send("kedai.send_webhook", webhooks)


def _send_retry(task_name: str, row_id: int, due: datetime | None) -> None:
    """Send the task again for when the row's backoff ends, if that is soon; a row due now
    (released, not failed) or far ahead is left to the tick."""
    from core.db import utcnow

    if due is None:
        return
    wait = due - utcnow()
    if timedelta(0) < wait <= RETRY_HORIZON:
        send(task_name, [row_id], eta=due)


def _values_of(model: Any, row_id: int, *columns: str) -> Any:
    import sqlalchemy as sa

    from core.db import db

    row = db.session.execute(
        sa.select(*(getattr(model, c) for c in columns)).where(model.id == row_id)
    ).one()
    db.session.rollback()  # end the read: no transaction (no SQLite write lock) kept open
    return row


# --- tasks -----------------------------------------------------------------------------------


@celery.task(name="kedai.deliver")
def deliver(delivery_id: int) -> str | None:
    """Claim and run one plugin delivery; a no-op unless it is due and this task wins it."""
    from core.plugins import delivery
    from core.plugins.dispatch import flush_failures
    from core.plugins.models import EventDelivery

    status = delivery.deliver(delivery_id)
    flush_failures()
    if status == "pending":
        (due,) = _values_of(EventDelivery, delivery_id, "next_attempt_at")
        _send_retry("kedai.deliver", delivery_id, due)
    return status


@celery.task(name="kedai.send_webhook")
def send_webhook(delivery_id: int) -> str | None:
    """Claim and send one webhook delivery; a no-op unless it is due and this task wins it."""
    from core.webhooks import service
    from core.webhooks.models import WebhookDelivery

    status = service.send(delivery_id)
    if status == "pending":
        (due,) = _values_of(WebhookDelivery, delivery_id, "next_attempt_at")
        _send_retry("kedai.send_webhook", delivery_id, due)
    return status


@celery.task(name="kedai.run_job")
def run_job(job_id: int) -> bool:
    """Claim and run one background job; a no-op unless it is due and this task wins it."""
    from core.jobs import service
    from core.jobs.models import Job

    ran = service.run_job(job_id)
    if ran:
        status, due = _values_of(Job, job_id, "status", "run_after")
        if status == "pending":
            _send_retry("kedai.run_job", job_id, due)
    return ran


@celery.task(name="kedai.tick")
def tick() -> dict[str, int]:
    """The sweep: send a task for every due delivery, webhook and job, then run the daily
    schedule. Returns what it sent and how many scheduled runs it made."""
    from core.db import db
    from core.jobs.service import due_job_ids
    from core.plugins.delivery import due_delivery_ids
    from core.plugins.dispatch import flush_failures
    from core.plugins.schedule import run_schedule
    from core.webhooks.service import queue as webhook_queue

    job_ids = due_job_ids(limit=SWEEP_LIMIT)
    db.session.rollback()
    sent = {
        "deliveries": send("kedai.deliver", due_delivery_ids(limit=SWEEP_LIMIT)),
        "webhooks": send("kedai.send_webhook", webhook_queue.due_ids(limit=SWEEP_LIMIT)),
        "jobs": send("kedai.run_job", job_ids),
    }
    sent["scheduled_runs"] = run_schedule()
    flush_failures()
    if any(sent.values()):
        log.info("tick: %s", sent)
    return sent
