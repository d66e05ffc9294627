"""Hook dispatch with 0, 10 and 50 installed-but-disabled plugins in the store.

DESIGN promises that plugins installed but disabled in a store cost nothing per call. This run
measures, in one store with one enabled plugin and 0, then 10, then 50 disabled ones (generated
classes that implement the same hooks plus ``on_event``, registered with
``core.plugins.manager.host`` and installed in the store):

* a request-time hook: ``core.plugins.dispatch.contributions(store, "storefront_widgets")``;
* an event: create a customer and commit, which records ``customer.created`` and fans it out
  (one ``EventDelivery`` per enabled plugin implementing the hook) in the same transaction;

and, as the baseline measured in the same run, a bare pluggy hook call with one implementation.
It prints microseconds per operation, SQL statements per operation, the ratio to the baseline
and the ratio to the store with no disabled plugins, whose growth should stay within noise.

    python benchmarks/hook_dispatch.py [--calls 5000] [--events 300] [--rounds 5]
        [--database-url URL]

Without ``--database-url`` it uses a SQLite file in a temporary folder; a PostgreSQL URL runs in
a schema of its own (``kedai_bench_dispatch``), dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pluggy
import sqlalchemy as sa

SCHEMA = "kedai_bench_dispatch"
DISABLED_COUNTS = (0, 10, 50)
GROWTH_TOLERANCE = 1.15


# --- plugins -----------------------------------------------------------------------------------


def _plugin_classes(count: int) -> tuple[type, list[type]]:
    """The enabled plugin, and ``count`` trivial plugins generated to stay disabled."""
    from plugin_sdk import Plugin, Widget, hookimpl

    class Active(Plugin):
        id = "bench_active"
        name = "Active"
        version = "1.0.0"
        category = "marketing"

        @hookimpl
        def on_customer_created(self, ctx: Any, event: Any) -> None:
            pass

        @hookimpl
        def storefront_widgets(self, ctx: Any, page: str) -> list[Widget]:
            return [Widget(slot="header", html="<b>hello</b>")]

    def idle(index: int) -> type:
        def on_customer_created(self: Any, ctx: Any, event: Any) -> None:
            pass

        def on_event(self: Any, ctx: Any, event: Any) -> None:
            pass

        def storefront_widgets(self: Any, ctx: Any, page: str) -> list[Widget]:
            return [Widget(slot="footer", html=f"<i>idle {index}</i>")]

        return type(f"Idle{index:02d}", (Plugin,), {
            "id": f"bench_idle_{index:02d}", "name": f"Idle {index}", "version": "1.0.0",
            "category": "analytics",
            "on_customer_created": hookimpl(on_customer_created),
            "on_event": hookimpl(on_event),
            "storefront_widgets": hookimpl(storefront_widgets),
        })

    return Active, [idle(i) for i in range(count)]


# --- measuring ---------------------------------------------------------------------------------


class StatementCounter:
    """Counts SQL statements sent through an engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1


def per_op_us(operation: Callable[[], Any], ops: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean time of one operation, in microseconds."""
    return interleaved({"op": operation}, ops, rounds)["op"]


def interleaved(operations: dict[Any, Callable[[], Any]], ops: int, rounds: int
                ) -> dict[Any, float]:
    """Per operation, the median over ``rounds`` of the mean time of one call (µs). The
    operations take turns round by round, so a change in machine load hits them alike."""
    means: dict[Any, list[float]] = {key: [] for key in operations}
    for _ in range(rounds):
        for key, operation in operations.items():
            started = time.perf_counter()
            for _ in range(ops):
                operation()
            means[key].append((time.perf_counter() - started) / ops * 1e6)
    return {key: statistics.median(values) for key, values in means.items()}


def bare_pluggy(calls: int, rounds: int) -> tuple[float, float]:
    """One pluggy hook call with one implementation; and a ``subset_hook_caller`` that leaves
    out 50 other implementations (what the per-store view avoids), for comparison."""
    from plugin_sdk import Widget

    spec = pluggy.HookspecMarker("bench")
    impl = pluggy.HookimplMarker("bench")

    class Specs:
        @spec
        def storefront_widgets(self, ctx: Any, page: str, shopper: Any) -> list[Any]:
            """The same shape as Kedai's hook."""

    class One:
        @impl
        def storefront_widgets(self, ctx: Any, page: str) -> list[Any]:
            return [Widget(slot="header", html="<b>hello</b>")]

    class Other:
        @impl
        def storefront_widgets(self, ctx: Any, page: str) -> list[Any]:
            return []

    manager = pluggy.PluginManager("bench")
    manager.add_hookspecs(Specs)
    manager.register(One())
    call = manager.hook.storefront_widgets
    bare = per_op_us(lambda: call(ctx=None, page="home", shopper=None), calls, rounds)

    others = [Other() for _ in range(50)]
    for other in others:
        manager.register(other)
    subset = manager.subset_hook_caller("storefront_widgets", remove_plugins=others)
    filtered = per_op_us(lambda: subset(ctx=None, page="home", shopper=None), calls, rounds)
    return bare, filtered


# --- the run -----------------------------------------------------------------------------------


def _environment(database_url: str | None) -> tuple[str, str | None]:
    instance = tempfile.mkdtemp(prefix="kedai-bench-dispatch-")
    os.environ["KEDAI_INSTANCE_PATH"] = instance
    os.environ.setdefault("KEDAI_SECRET_KEY", "bench-secret-key-not-for-production")
    os.environ["KEDAI_START_WORKER"] = "0"
    os.environ["KEDAI_LOAD_PLUGINS"] = ""  # only the plugins this run registers
    schema = None
    if database_url and database_url.startswith("postgresql"):
        schema = SCHEMA
        engine = sa.create_engine(database_url)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
        separator = "&" if "?" in database_url else "?"
        database_url = f"{database_url}{separator}options=-csearch_path%3D{schema}"
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{Path(instance) / 'bench.db'}"
    return os.environ["DATABASE_URL"], schema


def run(calls: int, events: int, rounds: int, database_url: str | None) -> None:
    """Set up the stores and plugins, measure, print."""
    url, schema = _environment(database_url)

    from core.app import create_app
    from core.customers.service import create_customer
    from core.db import db
    from core.migrate import upgrade_all
    from core.plugins import service
    from core.plugins.dispatch import contributions
    from core.plugins.manager import host
    from core.plugins.models import EventDelivery
    from core.stores.service import create_store

    app = create_app({"KEDAI_START_WORKER": False})
    with app.app_context():
        upgrade_all()
        active, idle = _plugin_classes(max(DISABLED_COUNTS))
        for plugin_class in [active, *idle]:
            host.register(plugin_class)
        # One store per scenario, so that the scenarios can take turns while measuring.
        stores = {}
        for disabled in DISABLED_COUNTS:
            store = create_store(f"bench{disabled}", f"Bench {disabled}")
            db.session.commit()
            service.install(store, active.id, consent=True)
            service.enable(store, active.id)
            for plugin_class in idle[:disabled]:
                service.install(store, plugin_class.id, consent=True)
            db.session.commit()
            stores[disabled] = store
        statements = StatementCounter(db.engine)
        serial = iter(range(10**9))

        def emitter(store: Any) -> Callable[[], None]:
            def emit_one() -> None:
                create_customer(store, {"email": f"bench{next(serial)}@example.com"})
                db.session.commit()

            return emit_one

        def caller(store: Any) -> Callable[[], Any]:
            return lambda: contributions(store, "storefront_widgets", page="home")

        def deliveries() -> int:
            return db.session.scalar(sa.select(sa.func.count()).select_from(EventDelivery))

        bare, subset = bare_pluggy(calls, rounds)
        sql: dict[int, tuple[int, int, int]] = {}
        for disabled, store in stores.items():
            emitter(store)()  # warm up: the store's view is built once per installation change
            db.session.refresh(store)
            [widget] = caller(store)()
            assert widget.plugin_id == active.id
            before = statements.count
            caller(store)()
            request_sql = statements.count - before
            count_before, before = deliveries(), statements.count
            emitter(store)()
            sql[disabled] = (request_sql, statements.count - before, deliveries() - count_before)
            db.session.refresh(store)

        request = interleaved({d: caller(s) for d, s in stores.items()}, calls, rounds)
        event = interleaved({d: emitter(s) for d, s in stores.items()},
                            max(1, events // rounds), rounds)
        rows = [(d, request[d], sql[d][0], event[d], sql[d][1], sql[d][2])
                for d in DISABLED_COUNTS]
        db.session.remove()
        db.engine.dispose()

    if schema:
        engine = sa.create_engine(database_url or "")
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        engine.dispose()

    print(f"Hook dispatch on {url.split('?')[0]}: one enabled plugin and N installed-but-disabled"
          f" plugins (each implementing the same hooks and on_event) in the store.")
    print(f"baseline, bare pluggy hook call with one implementation: {bare:.2f} µs")
    print(f"(for comparison: pluggy subset_hook_caller leaving out 50 plugins: {subset:.2f} µs)")
    print()
    print(f'request-time hook: contributions(store, "storefront_widgets"), per call '
          f"(median of {rounds} rounds of {calls})")
    print(f"{'disabled':>9} {'µs/call':>9} {'SQL/call':>9} {'x bare pluggy':>14} "
          f"{'x 0 disabled':>13}")
    for disabled, request_us, request_sql, *_ in rows:
        print(f"{disabled:>9} {request_us:>9.2f} {request_sql:>9} {request_us / bare:>14.1f} "
              f"{request_us / rows[0][1]:>13.2f}")
    print()
    print(f"event: create a customer + commit with fan-out, per event "
          f"(median of {rounds} rounds of {max(1, events // rounds)})")
    print(f"{'disabled':>9} {'µs/event':>9} {'SQL/event':>10} {'deliveries':>11} "
          f"{'x bare pluggy':>14} {'x 0 disabled':>13}")
    for disabled, _, _, event_us, event_sql, per_event in rows:
        print(f"{disabled:>9} {event_us:>9.1f} {event_sql:>10} {per_event:>11} "
              f"{event_us / bare:>14.0f} {event_us / rows[0][3]:>13.2f}")
    print()
    request_growth = rows[-1][1] / rows[0][1]
    event_growth = rows[-1][3] / rows[0][3]
    same_sql = len({(r[2], r[4], r[5]) for r in rows}) == 1
    flat = max(request_growth, event_growth) <= GROWTH_TOLERANCE and same_sql
    print(f"50 disabled vs 0: request-time {request_growth:.2f}x, event {event_growth:.2f}x; "
          f"SQL statements and deliveries {'identical' if same_sql else 'DIFFER'}")
    print("verdict: cost does not grow with disabled plugins" if flat else
          f"verdict: cost GROWS with disabled plugins (tolerance {GROWTH_TOLERANCE}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="request-time calls per round")
    parser.add_argument("--events", type=int, default=300, help="events per scenario")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    run(args.calls, args.events, args.rounds, args.database_url)


if __name__ == "__main__":
    main()
