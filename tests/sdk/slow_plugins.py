"""Plugins and a background job for the executor tests, importable by worker processes.

A worker started by a test is another process: it loads these plugins through
``KEDAI_EXTRA_PLUGINS="tests.sdk.slow_plugins:Slow"`` (which imports this module, and so also
registers the ``slow.units`` job handler). Every unit of work writes one ``slow_applied`` row,
which has no unique constraint on purpose: work applied twice shows as two rows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import db
from core.jobs.service import JobRun, job_handler
from plugin_sdk import Plugin, hookimpl
from plugin_sdk.db import StoreScoped, model_base

SlowBase = model_base("slow")


class AppliedWork(StoreScoped, SlowBase):
    """One unit of work as applied: an event a plugin handled, or a unit of a job."""

    __tablename__ = "slow_applied"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(20))
    key: Mapped[str] = mapped_column(sa.String(100))
    #: The process that applied it, so a test can tell a restarted worker's work apart.
    pid: Mapped[int]


def pause() -> None:
    """The slow part of the work (``KEDAI_TEST_SLOW_SECONDS``, default 0.3 s)."""
    time.sleep(float(os.environ.get("KEDAI_TEST_SLOW_SECONDS", "0.3")))


class Slow(Plugin):
    """Applies each new customer once, slowly: the write is made, then the handler dawdles
    with it uncommitted, so a worker killed then must lose the write with the once-key."""

    id = "slow"
    name = "Slow"
    version = "1.0.0"
    category = "analytics"
    metadata = SlowBase.metadata

    @hookimpl
    def on_customer_created(self, ctx: Any, event: Any) -> None:
        if not ctx.once(event.id):
            return
        ctx.session.add(AppliedWork(store_id=ctx.store.id, source="slow", key=event.id,
                                    pid=os.getpid()))
        ctx.session.flush()
        pause()


class Flaky(Plugin):
    """Fails the first attempt at each event, then applies it once.

    The first attempt is remembered in a folder (``KEDAI_TEST_FLAKY_DIR``) because whatever a
    failed attempt wrote to the database rolls back.
    """

    id = "flaky"
    name = "Flaky"
    version = "1.0.0"
    category = "analytics"
    metadata = SlowBase.metadata

    @hookimpl
    def on_customer_created(self, ctx: Any, event: Any) -> None:
        marker = Path(os.environ["KEDAI_TEST_FLAKY_DIR"]) / event.id
        if not marker.exists():
            marker.touch()
            raise RuntimeError("flaky: the first attempt fails")
        if not ctx.once(event.id):
            return
        ctx.session.add(AppliedWork(store_id=ctx.store.id, source="flaky", key=event.id,
                                    pid=os.getpid()))


# --- a core background job (tests may use the core; plugins may not) ---------------------------


@job_handler("slow.units")
def slow_units(run: JobRun) -> dict[str, Any]:
    """Write one row per unit, slowly, checkpointing after each: a re-run resumes at the
    checkpoint, so each unit is applied once even if a worker dies mid-job."""
    total = int(run.payload["units"])
    for unit in range(run.job.progress_done, total):
        db.session.add(AppliedWork(store_id=run.job.store_id, source="job",
                                   key=f"{run.job.id}:{unit}", pid=os.getpid()))
        db.session.flush()
        pause()
        run.progress(unit + 1, total)  # commits the row together with the checkpoint
    return {"units": total}


# --- starting worker processes from a test -----------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """A worker started as a process group of its own (a Celery worker forks a pool), with its
    output kept in a file for the failure message."""

    def __init__(self, args: list[str], log_path: Path, **env: str) -> None:
        # The app fixture has put DATABASE_URL, KEDAI_INSTANCE_PATH and KEDAI_SECRET_KEY in the
        # environment: the worker reads the same database and decrypts the same settings.
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), environment.get("PYTHONPATH", "")) if p
        )
        environment.update(env)
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, *args], cwd=REPO, env=environment, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, no goodbye: what a crash or the OOM killer does."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, grace: float = 5) -> None:
        """SIGTERM (a Celery worker's warm shutdown), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        self._signal_group(signal.SIGKILL)  # whatever is left of its group (pool processes)
        self.process.wait(10)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)  # our child leads its own group


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str,
               worker: WorkerProcess | None = None) -> Any:
    """Poll ``condition`` until it returns something true, and return that; fail after
    ``timeout`` seconds saying what was awaited (and the worker's last output)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n--- worker output ---\n{worker.log_tail()}" if worker else ""
            raise AssertionError(f"waited {timeout} s for {what}{detail}")
        time.sleep(0.05)
