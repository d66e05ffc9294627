"""Enqueue, claim and run background jobs.

Handlers register by kind with ``@job_handler("customers.import")`` and receive a ``JobRun``
through which they report progress. A handler that raises is retried with exponential backoff
up to ``max_attempts``; then the job is ``failed`` with the error kept for the merchant.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from core.db import db, utcnow
from core.errors import NotFound
from core.jobs.models import Job

log = logging.getLogger(__name__)

#: How long a claimed job stays ours between progress reports, unless
#: ``KEDAI_JOB_LEASE_SECONDS`` says.
LEASE = timedelta(minutes=5)
Handler = Callable[["JobRun"], dict[str, Any] | None]
_handlers: dict[str, Handler] = {}
#: Set when a job is enqueued in this process, so the inline worker wakes at once.
wakeup = threading.Event()

#: Told after commit which jobs that transaction enqueued (the Celery executor sends each as a
#: task); the inline worker needs none of this, ``wakeup`` is enough for it.
JobsSubscriber = Callable[[list[int]], None]
_subscribers: list[JobsSubscriber] = []
_ENQUEUED = "kedai_enqueued_jobs"


def lease() -> timedelta:
    """The lease a claim or a progress report takes: ``KEDAI_JOB_LEASE_SECONDS``, else ``LEASE``.

    A job still ``running`` when its lease ends is taken for lost and runs again, so a handler
    must report progress more often than this (read each time, so tests can shorten it).
    """
    seconds = os.environ.get("KEDAI_JOB_LEASE_SECONDS")
    return timedelta(seconds=float(seconds)) if seconds else LEASE


def subscribe_enqueued(subscriber: JobsSubscriber) -> JobsSubscriber:
    """Call ``subscriber(job_ids)`` after each commit that enqueued jobs, outside the
    transaction; one that raises is logged and the job still runs (a sweep finds it)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


@sa_event.listens_for(Session, "after_commit")
def _tell_subscribers(session: Session) -> None:
    job_ids = session.info.pop(_ENQUEUED, None)
    for subscriber in list(_subscribers) if job_ids else []:
        try:
            subscriber(job_ids)
        except Exception:
            log.exception("job subscriber %r failed", subscriber)


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_enqueued(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_ENQUEUED, None)


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _handlers[kind] = func
        return func

    return register


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    store_id: int | None = None,
    created_by: str = "system",
    max_attempts: int = 5,
) -> Job:
    """Add a job in the current transaction: it exists exactly when the caller commits."""
    if kind not in _handlers:
        raise ValueError(f"no handler for job kind {kind!r}")
    job = Job(
        kind=kind,
        payload=payload,
        store_id=store_id,
        created_by=created_by,
        max_attempts=max_attempts,
    )
    db.session.add(job)
    db.session.flush()
    db.session.info.setdefault(_ENQUEUED, []).append(job.id)
    wakeup.set()
    return job


def get_job(store_id: int, job_id: int, kind: str | None = None) -> Job:
    query = sa.select(Job).where(Job.id == job_id, Job.store_id == store_id)
    if kind:
        query = query.where(Job.kind == kind)
    job = db.session.scalar(query)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def claim(job_id: int) -> bool:
    """Take the job for this process; ``True`` only for the one caller that won it."""
    now = utcnow()
    result = db.session.execute(
        sa.update(Job)
        .where(
            Job.id == job_id,
            sa.or_(
                sa.and_(Job.status == "pending", Job.run_after <= now),
                sa.and_(Job.status == "running", Job.lease_until < now),
            ),
        )
        .values(status="running", lease_until=now + lease(), attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def due_job_ids(limit: int = 20) -> list[int]:
    now = utcnow()
    return list(
        db.session.scalars(
            sa.select(Job.id)
            .where(
                sa.or_(
                    sa.and_(Job.status == "pending", Job.run_after <= now),
                    sa.and_(Job.status == "running", Job.lease_until < now),
                )
            )
            .order_by(Job.run_after, Job.id)
            .limit(limit)
        )
    )


class JobRun:
    """The handle a job handler works through."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.payload = job.payload

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress and extend the lease; commits, so call between units of work."""
        values: dict[str, Any] = {"progress_done": done, "lease_until": utcnow() + lease()}
        if total is not None:
            values["progress_total"] = total
        db.session.execute(
            sa.update(Job)
            .where(Job.id == self.job.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def run_job(job_id: int) -> bool:
    """Claim and run one job; returns whether this call ran it."""
    if not claim(job_id):
        return False
    job = db.session.get(Job, job_id)
    assert job is not None
    handler = _handlers.get(job.kind)
    try:
        if handler is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        result = handler(JobRun(job)) or {}
    except Exception as exc:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        assert job is not None
        log.exception("job %s (%s) failed on attempt %s", job.id, job.kind, job.attempts)
        job.error = "".join(traceback.format_exception_only(exc)).strip()[:5000]
        if job.attempts >= job.max_attempts:
            job.status = "failed"
            job.finished_at = utcnow()
        else:
            job.status = "pending"
            job.run_after = utcnow() + timedelta(seconds=min(30 * 2 ** (job.attempts - 1), 3600))
        job.lease_until = None
        db.session.commit()
        return True
    job = db.session.get(Job, job_id)
    assert job is not None
    job.status = "done"
    job.result = result
    job.error = ""
    job.finished_at = utcnow()
    job.lease_until = None
    db.session.commit()
    return True


def run_due_jobs(limit: int = 20) -> int:
    """Run what is due now; returns how many jobs this call ran."""
    return sum(run_job(job_id) for job_id in due_job_ids(limit))
