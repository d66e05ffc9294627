"""Calling hooks for one store, plugin by plugin, so that one plugin's failure is its own.

Request-time contributions are merged by ``priority`` then plugin id. A plugin that raises is
logged, its contribution skipped, and the failure counted against it; the failures of a request
are written after the request, in a transaction of their own, so they never mix with (or
block) the request's own work. A plugin that keeps failing is suspended for that store.
"""

from __future__ import annotations

import logging
import os
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core.db import db, utcnow, writing
from core.plugins.context import context_for, redact
from core.plugins.manager import call_impl, tag_plugin
from core.plugins.models import PluginError, PluginInstallation
from core.stores.models import Store

log = logging.getLogger("kedai.plugins")


def failure_limit() -> int:
    """Consecutive failures after which a plugin is suspended in a store."""
    return int(os.environ.get("KEDAI_PLUGIN_FAILURE_LIMIT", "10"))


@dataclass(frozen=True)
class Failure:
    store_id: int
    plugin_id: str
    hook: str
    message: str


_failures: ContextVar[list[Failure] | None] = ContextVar("kedai_plugin_failures", default=None)


def describe(exc: BaseException, secrets: list[str]) -> str:
    text = "".join(traceback.format_exception_only(exc)).strip()
    return redact(text, secrets)[:2000]


def note_failure(store_id: int, plugin_id: str, hook: str, exc: BaseException,
                 secrets: list[str]) -> None:
    message = describe(exc, secrets)
    log.error("plugin %s failed in %s (store %s): %s", plugin_id, hook, store_id, message)
    if isinstance(exc, sa.exc.SQLAlchemyError):
        # A failed statement poisons the transaction (PostgreSQL); the core's work goes on in
        # a fresh one.
        db.session.rollback()
    pending = _failures.get()
    if pending is None:
        pending = []
        _failures.set(pending)
    pending.append(Failure(store_id, plugin_id, hook, message))


def flush_failures() -> None:
    """Write the failures noted so far, count them, and suspend plugins over the limit."""
    pending = _failures.get()
    if not pending:
        return
    _failures.set([])
    with writing():
        db.session.rollback()
        for failure in pending:
            record_failure(failure)
        db.session.commit()


def record_failure(failure: Failure) -> None:
    """Count one failure against an installation in the current transaction."""
    from core.plugins.service import suspend

    db.session.add(PluginError(store_id=failure.store_id, plugin_id=failure.plugin_id,
                               hook=failure.hook, message=failure.message))
    count = db.session.execute(
        sa.update(PluginInstallation)
        .where(PluginInstallation.store_id == failure.store_id,
               PluginInstallation.plugin_id == failure.plugin_id)
        .values(failure_count=PluginInstallation.failure_count + 1, updated_at=utcnow())
        .returning(PluginInstallation.failure_count, PluginInstallation.status)
        .execution_options(synchronize_session=False)
    ).first()
    if count is not None and count[0] >= failure_limit() and count[1] == "enabled":
        suspend(failure.store_id, failure.plugin_id,
                f"suspended after {count[0]} failures in a row; last: {failure.hook}: "
                f"{failure.message}")


def contributions(store: Store, hook: str, *, shopper: Any = None, **kwargs: Any) -> list[Any]:
    """Call ``hook`` on every plugin enabled in ``store``; merge what they return."""
    from core.plugins.service import store_view

    view = store_view(store)
    results: list[Any] = []
    for plugin_id, impl in view.implementations(hook):
        ctx = context_for(store, plugin_id, view.installations[plugin_id], shopper)
        try:
            value = call_impl(impl, {"ctx": ctx, "shopper": shopper, **kwargs})
        except Exception as exc:
            note_failure(store.id, plugin_id, hook, exc, ctx.secrets)
            continue
        if value is None:
            continue
        items = value if isinstance(value, list | tuple) else [value]
        results.extend(tag_plugin(item, plugin_id) for item in items)
    results.sort(key=lambda item: (getattr(item, "priority", 100),
                                   getattr(item, "plugin_id", "")))
    return results


def first_answer(store: Store, hook: str, **kwargs: Any) -> tuple[str, Any] | None:
    """The first non-``None`` answer and the plugin that gave it, in plugin id order."""
    from core.plugins.service import store_view

    view = store_view(store)
    for plugin_id, impl in view.implementations(hook):
        ctx = context_for(store, plugin_id, view.installations[plugin_id])
        try:
            value = call_impl(impl, {"ctx": ctx, **kwargs})
        except Exception as exc:
            note_failure(store.id, plugin_id, hook, exc, ctx.secrets)
            continue
        if value is not None:
            return plugin_id, value
    return None


def each_enabled(store: Store, hook: str, **kwargs: Any) -> dict[str, Any]:
    """Call ``hook`` on every enabled plugin and let exceptions through (privacy hooks: an
    erasure must not be reported done while a plugin kept the data)."""
    from core.plugins.service import store_view

    view = store_view(store)
    answers = {}
    for plugin_id, impl in view.implementations(hook):
        ctx = context_for(store, plugin_id, view.installations[plugin_id])
        answers[plugin_id] = call_impl(impl, {"ctx": ctx, **kwargs})
    return answers
