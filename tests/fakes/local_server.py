"""A werkzeug server on an ephemeral 127.0.0.1 port, in a thread, that records every request.

The SMS fakes build on it: a fake is a WSGI app with state a test can set and inspect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    args: dict[str, str]
    form: dict[str, list[str]]
    headers: dict[str, str]
    raw_query: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class LocalServer:
    """Serve ``handle(request) -> Response`` on 127.0.0.1 until ``stop()``."""

    def __init__(self, handle: Callable[[Request], Response]) -> None:
        self.handle = handle
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        recorded = Recorded(
            method=request.method,
            path=request.path,
            args=request.args.to_dict(),
            form={k: request.form.getlist(k) for k in request.form},
            headers=dict(request.headers),
            raw_query=request.query_string.decode("latin-1"),
        )
        with self._lock:
            self.requests.append(recorded)
            response = self.handle(request)
        return response(environ, start_response)
