"""Daily jobs per store, in the store's timezone: the core's and those plugins register.

A job is due in a store once its store-local time of day has passed; the run for that store and
store-local day is claimed by inserting its ``ScheduledRun`` row (unique on store, job, day),
so two workers, a restart, or a second tick in the same day never run it twice. A run that
raises is recorded as failed with its error and is not retried the same day.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.db import db, utcnow
from core.plugins.manager import call_impl, host
from core.plugins.models import ScheduledRun
from core.stores.models import Store

log = logging.getLogger("kedai.schedule")


@dataclass(frozen=True)
class DailyJob:
    name: str
    at: str
    run: Callable[[Store, Any], Any]


_core_jobs: list[DailyJob] = []


def core_job(name: str, at: str) -> Callable[[Callable[[Store, Any], Any]], Any]:
    def register(func: Callable[[Store, Any], Any]) -> Callable[[Store, Any], Any]:
        _core_jobs.append(DailyJob(f"core:{name}", at, func))
        return func

    return register


def plugin_jobs() -> dict[str, list[Any]]:
    """``{plugin_id: [ScheduledJob …]}`` from every loaded plugin's ``register_jobs``."""
    jobs: dict[str, list[Any]] = {}
    caller = host.pm.hook.register_jobs
    for impl in caller.get_hookimpls():
        try:
            jobs[impl.plugin_name] = list(call_impl(impl, {}) or [])
        except Exception:
            log.exception("register_jobs of %s failed", impl.plugin_name)
    return jobs


def _claim(store: Store, job: str, day: str) -> int | None:
    exists = db.session.scalar(sa.select(ScheduledRun.id).where(
        ScheduledRun.store_id == store.id, ScheduledRun.job == job, ScheduledRun.day == day))
    if exists:
        return None
    run = ScheduledRun(store_id=store.id, job=job, day=day)
    db.session.add(run)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        return None
    return run.id


def _finish(run_id: int, error: str = "") -> None:
    db.session.execute(
        sa.update(ScheduledRun).where(ScheduledRun.id == run_id)
        .values(status="failed" if error else "done", error=error[:5000], finished_at=utcnow())
    )
    db.session.commit()


def run_schedule(now: datetime | None = None) -> int:
    """Run every job due now in every store; returns how many runs this call made."""
    from core.plugins.context import context_for
    from core.plugins.service import store_view

    now = now or utcnow()
    ran = 0
    registered = plugin_jobs()
    store_ids = list(db.session.scalars(sa.select(Store.id).order_by(Store.id)))
    for store_id in store_ids:
        store = db.session.get(Store, store_id)
        local = now.astimezone(ZoneInfo(store.timezone))
        day, clock = local.date().isoformat(), local.strftime("%H:%M")
        today = local.date()
        due: list[tuple[str, Callable[[], Any]]] = [
            (job.name, lambda job=job, store=store, today=today: job.run(store, today))
            for job in _core_jobs if clock >= job.at
        ]
        view = store_view(store)
        for plugin_id, jobs in registered.items():
            if not view.enabled(plugin_id):
                continue
            for job in jobs:
                if clock >= job.at:
                    ctx = context_for(store, plugin_id, view.installations[plugin_id])
                    due.append((f"{plugin_id}:{job.name}", lambda job=job, ctx=ctx: job.run(ctx)))
        for name, run in due:
            run_id = _claim(store, name, day)
            if run_id is None:
                continue
            try:
                run()
                db.session.commit()
                _finish(run_id)
            except Exception as exc:
                db.session.rollback()
                log.exception("daily job %s failed in store %s", name, store.slug)
                _finish(run_id, "".join(traceback.format_exception_only(exc)).strip())
            ran += 1
    return ran
