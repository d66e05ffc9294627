"""Requests/s of the anonymous storefront widget list under gunicorn, against a bare Flask app.

Prepares a SQLite database in a temporary instance folder with one store and six enabled
widget plugins (``benchmarks/_sample_plugins.py``, loaded in every gunicorn worker through
``KEDAI_EXTRA_PLUGINS``), then serves ``core.wsgi:app`` with gunicorn (2 workers, 4 threads
each, as ``kedai serve``; ``KEDAI_START_WORKER=0``). The load generator requests
``GET /storefront/bench/widgets?page=home`` over keep-alive connections on loopback, without
``If-None-Match``, so every request goes through the store lookup, the ETag and the in-process
cache of rendered lists. The baseline, in the same run, is ``benchmarks/_bare_app.py`` served by
the same gunicorn setup: the same path answering the same bytes and nothing else. Kedai's own
``/healthz`` (one ``SELECT 1`` through the app) is measured too, as what any Kedai request
costs. They take turns, a few rounds each; the medians and the ratio are printed (target ≥ 0.8).

    python benchmarks/widgets_endpoint.py [--duration 5] [--rounds 3] [--connections 8]
        [--workers 2] [--threads 4] [--requests 20000]

The load comes from ``wrk`` when it is installed (``apt-get install wrk``), else from a Python
thread pool with keep-alive ``http.client`` connections and ``--requests`` requests per round.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PATH = "/storefront/bench/widgets?page=home"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(instance: Path) -> dict[str, str]:
    from _sample_plugins import PLUGINS

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEDAI_", "DATABASE_URL"))}
    env.update({
        "KEDAI_INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'kedai.db'}",
        "KEDAI_SECRET_KEY": "bench-secret-key-not-for-production",
        "KEDAI_START_WORKER": "0",
        "KEDAI_LOAD_PLUGINS": "",  # no entry-point plugins: only the six below
        "KEDAI_EXTRA_PLUGINS": ",".join(f"_sample_plugins:{p.__name__}" for p in PLUGINS),
        "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")]),
    })
    return env


def prepare(env: dict[str, str]) -> None:
    """Migrate, create the store, install, configure and enable the six plugins."""
    os.environ.update(env)
    from _sample_plugins import PLUGINS

    from core.app import create_app
    from core.db import db
    from core.migrate import upgrade_all
    from core.plugins import service
    from core.stores.service import create_store

    app = create_app({"KEDAI_START_WORKER": False})
    with app.app_context():
        upgrade_all()
        store = create_store("bench", "Bench Tea")
        db.session.commit()
        for plugin in PLUGINS:
            service.install(store, plugin.id, consent=True)
            service.save_settings(store, plugin.id, {"heading": f"{plugin.name}!",
                                                     "colour": "#2e7d32"})
            service.enable(store, plugin.id)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


class Server:
    """A gunicorn serving ``app`` until stopped."""

    def __init__(self, app: str, env: dict[str, str], cwd: Path, workers: int,
                 threads: int) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads",
             str(threads), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", app],
            env=env, cwd=cwd,
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                status, _ = get(self.port, "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wrk(port: int, path: str, duration: float, connections: int) -> float:
    result = subprocess.run(
        ["wrk", "--threads", "1", "--connections", str(connections), "--duration",
         f"{duration:g}s", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    )
    if "Non-2xx" in result.stdout or "Socket errors" in result.stdout:
        raise RuntimeError(f"wrk saw errors:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{result.stdout}")
    return float(match.group(1))


def python_load(port: int, path: str, requests: int, connections: int) -> float:
    """``requests`` GETs over ``connections`` keep-alive connections; returns requests/s."""
    per_connection = requests // connections
    errors: list[str] = []

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(per_connection):
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(str(response.status))
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return per_connection * connections / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--requests", type=int, default=20000,
                        help="requests per round without wrk")
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    instance = Path(tempfile.mkdtemp(prefix="kedai-bench-widgets-"))
    env = environment(instance)
    prepare(env)
    use_wrk = shutil.which("wrk") is not None

    def load(port: int, path: str = PATH) -> float:
        if use_wrk:
            return wrk(port, path, args.duration, args.connections)
        return python_load(port, path, args.requests, args.connections)

    servers: list[Server] = []
    try:
        kedai = Server("core.wsgi:app", env, ROOT, args.workers, args.threads)
        servers.append(kedai)
        status, body = get(kedai.port, PATH)
        payload: dict[str, Any] = json.loads(body)
        if status != 200 or len(payload["widgets"]) != 6:
            raise RuntimeError(f"unexpected widget list ({status}): {body[:300]!r}")
        body_file = instance / "body.json"
        body_file.write_bytes(body)
        bare = Server("_bare_app:app", {**env, "BENCH_BODY_FILE": str(body_file)}, HERE,
                      args.workers, args.threads)
        servers.append(bare)
        if get(bare.port, PATH)[1] != body:
            raise RuntimeError("the bare app does not answer the same bytes")

        # Kedai's /healthz (one SELECT 1 through the app) shows what any Kedai request costs
        # before the widget list does anything.
        series = {"kedai": (kedai.port, PATH), "healthz": (kedai.port, "/healthz"),
                  "bare": (bare.port, PATH)}
        for port, path in series.values():  # warm up: imports, caches, connections
            load(port, path)
        rates: dict[str, list[float]] = {name: [] for name in series}
        for _ in range(args.rounds):
            for name, (port, path) in series.items():
                rates[name].append(load(port, path))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(instance, ignore_errors=True)

    kedai_rate = statistics.median(rates["kedai"])
    healthz_rate = statistics.median(rates["healthz"])
    bare_rate = statistics.median(rates["bare"])
    ratio = kedai_rate / bare_rate
    generator = (f"wrk, 1 thread, {args.connections} connections, {args.duration:g} s"
                 if use_wrk else f"Python, {args.connections} keep-alive connections, "
                                 f"{args.requests} requests")
    print(f"GET {PATH} (anonymous, no If-None-Match), {len(body)} bytes, 6 widget plugins")
    print(f"gunicorn: {args.workers} workers x {args.threads} threads; load: {generator}; "
          f"median of {args.rounds} rounds each, taking turns")
    for label, name, rate in (("kedai widget list", "kedai", kedai_rate),
                              ("kedai /healthz (reference)", "healthz", healthz_rate),
                              ("bare Flask, same bytes", "bare", bare_rate)):
        print(f"{label:<27} {rate:8.0f} req/s  ({rate / bare_rate:.2f} of bare)  rounds "
              f"{', '.join(f'{r:.0f}' for r in rates[name])}")
    print(f"ratio kedai/bare: {ratio:.2f}  (target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'})")


if __name__ == "__main__":
    main()
