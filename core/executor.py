"""Running background work: jobs, plugin deliveries and daily schedules.

Two executors, chosen with ``KEDAI_EXECUTOR``:

``inline`` (default)
    A daemon thread in each web process (``core.jobs.worker``) calls ``work_once`` in a loop,
    woken as soon as something is committed in that process, else every few seconds.
``celery``
    Celery workers with Redis as broker (``kedai worker``; see ``core.celery_app``). New work
    is sent as tasks after commit; a beat task sweeps for anything due (retries, lost
    messages) and runs the schedule.

Both claim the same database rows the same way, so any mix of processes is safe: ``kedai
work-once`` (``drain``) may run beside either.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, has_app_context

from core.events.dispatch import subscribe
from core.jobs.service import run_due_jobs, subscribe_enqueued, wakeup
from core.plugins.delivery import run_due_deliveries
from core.plugins.dispatch import flush_failures
from core.plugins.schedule import run_schedule
from core.webhooks.service import run_due_webhooks

SCHEDULE_EVERY = 60.0
_last_schedule = 0.0


@subscribe
def _wake_on_commit(events: list[dict[str, Any]]) -> None:
    wakeup.set()


def _celery_executor() -> bool:
    return has_app_context() and current_app.config.get("KEDAI_EXECUTOR") == "celery"


@subscribe
def _send_deliveries_on_commit(events: list[dict[str, Any]]) -> None:
    # Imported only here: the inline executor runs without Celery installed.
    if _celery_executor():
        from core.celery_app import send_for_events

        send_for_events([event["id"] for event in events])


@subscribe_enqueued
def _send_jobs_on_commit(job_ids: list[int]) -> None:
    if _celery_executor():
        from core.celery_app import send

        send("kedai.run_job", job_ids)


def work_once(*, schedule: bool | None = None) -> int:
    """Run everything due now once; returns how much work was done. The daily schedule is
    looked at once a minute unless ``schedule`` says otherwise."""
    global _last_schedule
    done = run_due_deliveries() + run_due_webhooks() + run_due_jobs()
    if schedule is None:
        schedule = time.monotonic() - _last_schedule >= SCHEDULE_EVERY
    if schedule:
        _last_schedule = time.monotonic()
        done += run_schedule()
    flush_failures()
    return done


def drain(max_rounds: int = 100, *, schedule: bool = False) -> int:
    """Run until nothing is due (deliveries may create events that create deliveries).

    ``schedule=True`` runs the daily jobs that are due in the first round (the rounds after it
    deliver what they caused)."""
    total = 0
    for round_number in range(max_rounds):
        done = work_once(schedule=schedule and round_number == 0)
        total += done
        if not done:
            break
    return total
