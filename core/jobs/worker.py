"""The inline executor: a daemon thread in the web process that runs due work.

Several processes may run one each (``kedai serve`` starts several gunicorn workers); the
conditional claim in ``core.jobs.service`` makes sure each job runs in one of them.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from core.executor import work_once
from core.jobs import service

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0


class InlineWorker:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="kedai-inline-worker", daemon=True)

    def start(self) -> InlineWorker:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self.stopping.set()
        service.wakeup.set()
        self.thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            ran = 0
            try:
                with self.app.app_context():
                    ran = work_once()
            except Exception:
                log.exception("inline worker pass failed")
            if not ran:
                service.wakeup.wait(POLL_SECONDS)
                service.wakeup.clear()


def start_inline_worker(app: Flask) -> InlineWorker | None:
    if app.config.get("KEDAI_EXECUTOR", "inline") != "inline":
        return None
    if not app.config.get("KEDAI_START_WORKER", True):
        return None
    return InlineWorker(app).start()
