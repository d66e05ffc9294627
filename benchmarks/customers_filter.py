"""Customer list with three filters on 1,000,000 customers and 5,000,000 orders (PostgreSQL).

Measures p50/p95 of one list page (count + page + tags), through ``search_customers`` and
through the same SQL sent with psycopg directly, in the same run, and prints both and the ratio.
Target: p95 under 300 ms.

    python benchmarks/customers_filter.py [--database-url URL] [--customers N] [--orders N]
        [--runs 40] [--reuse]

The data lives in its own schema (``kedai_bench_filter``); ``--reuse`` keeps it between runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
import sqlalchemy as sa

SCHEMA = "kedai_bench_filter"


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def generate(store_id: int, customers: int, orders: int) -> None:
    from core.db import db

    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            f"""
            INSERT INTO customers (store_id, email, phone, first_name, last_name,
                accepts_marketing, note, location, salesperson, source, blacklisted,
                blacklist_reason, orders_count, total_spent, created_at, updated_at)
            SELECT {store_id}, 'c' || g || '@example.com',
                   '+6012' || lpad((g % 10000000)::text, 7, '0'),
                   'First' || (g % 5000), 'Last' || (g % 3000), g % 3 = 0, '', '', '', 'import',
                   g % 97 = 0, '', 0, 0,
                   now() - ((g % 730) || ' days')::interval, now()
            FROM generate_series(1, {customers}) AS g
            """
        ))
        first_id = conn.exec_driver_sql(
            f"SELECT min(id) FROM customers WHERE store_id = {store_id}"
        ).scalar_one()
        conn.execute(sa.text(
            f"""
            INSERT INTO orders (store_id, number, customer_id, email, currency, status, subtotal,
                discount_total, shipping_total, total, refunded_total, adjustments, note, source,
                placed_at, paid_at)
            SELECT {store_id}, 1000 + g, {first_id} + ((g * 7919) % {customers}), NULL, 'MYR',
                   CASE WHEN g % 10 = 0 THEN 'created' ELSE 'paid' END,
                   (g * 37) % 50000, 0, 0, (g * 37) % 50000, 0, '[]', '', 'storefront',
                   now() - ((g % 900) || ' days')::interval, now()
            FROM generate_series(1::bigint, {orders}) AS g
            """
        ))
        conn.exec_driver_sql(
            f"""
            UPDATE customers c SET orders_count = s.n, total_spent = s.spent,
                   last_order_at = s.last
            FROM (SELECT customer_id, count(*) AS n, sum(total - refunded_total) AS spent,
                         max(placed_at) AS last
                  FROM orders WHERE store_id = {store_id} AND status IN ('paid', 'fulfilled',
                  'refunded') GROUP BY customer_id) s
            WHERE c.id = s.customer_id
            """
        )
        conn.exec_driver_sql(f"UPDATE stores SET last_order_number = {1000 + orders}")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE customers")
        conn.exec_driver_sql("VACUUM ANALYZE orders")
    print(f"generated {customers:,} customers and {orders:,} orders in "
          f"{time.perf_counter() - started:.0f} s")


RAW_WHERE = """
    WHERE store_id = %(store)s AND merged_into_id IS NULL AND erased_at IS NULL
      AND total_spent >= %(spent)s AND orders_count >= %(orders)s AND last_order_at < %(before)s
"""


def raw_page(conn: psycopg.Connection, params: dict) -> tuple[int, list]:
    total = conn.execute("SELECT count(*) FROM customers" + RAW_WHERE, params).fetchone()[0]
    rows = conn.execute(
        "SELECT * FROM customers" + RAW_WHERE
        + " ORDER BY total_spent DESC, id DESC LIMIT 50 OFFSET 0",
        params,
    ).fetchall()
    ids = [row[0] for row in rows]
    conn.execute(
        "SELECT ct.customer_id, t.* FROM customer_tags ct JOIN tags t ON t.id = ct.tag_id "
        "WHERE ct.customer_id = ANY(%s)", (ids,)
    ).fetchall()
    return total, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "KEDAI_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="keep and reuse generated data")
    args = parser.parse_args()

    base_url = args.database_url
    admin = sa.create_engine(base_url)
    with admin.begin() as conn:
        exists = conn.exec_driver_sql(
            f"SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{SCHEMA}'"
        ).scalar_one()
        if exists and not args.reuse:
            conn.exec_driver_sql(f"DROP SCHEMA {SCHEMA} CASCADE")
            exists = 0
        if not exists:
            conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    admin.dispose()

    url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{SCHEMA}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("KEDAI_INSTANCE_PATH", tempfile.mkdtemp(prefix="kedai-bench-"))
    from core.app import create_app
    from core.customers.service import CustomerFilter, search_customers
    from core.db import db
    from core.migrate import upgrade_all
    from core.stores.models import Store
    from core.stores.service import create_store

    app = create_app({"KEDAI_START_WORKER": False})
    with app.app_context():
        upgrade_all()
        store = db.session.scalar(sa.select(Store).where(Store.slug == "bench"))
        if store is None:
            store = create_store("bench", "Bench", timezone="UTC")
            db.session.commit()
        # Generation is one transaction: a run that died in it leaves the store and no rows.
        if not db.session.scalar(sa.text("SELECT count(*) FROM customers")):
            db.session.rollback()
            generate(store.id, args.customers, args.orders)
        store_id = store.id
        count = db.session.scalar(sa.text("SELECT count(*) FROM customers"))
        order_count = db.session.scalar(sa.text("SELECT count(*) FROM orders"))
        print(f"data: {count:,} customers, {order_count:,} orders")
        if (count, order_count) != (args.customers, args.orders):
            print("  (reused data of another size: drop --reuse once to regenerate)")

        before = date.today() - timedelta(days=60)
        flt = CustomerFilter(spent_min=100_000, orders_min=4, last_order_before=before)
        params = {"store": store_id, "spent": 100_000, "orders": 4, "before": before}

        orm_times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            page = search_customers(store, flt, sort="spent")
            _ = [c.tags for c in page.items]
            orm_times.append(time.perf_counter() - started)
            db.session.rollback()
        matched = page.total

    raw_url = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw_url, options=f"-csearch_path={SCHEMA}") as conn:
        raw_times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            total, _rows = raw_page(conn, params)
            raw_times.append(time.perf_counter() - started)
        assert total == matched, (total, matched)

    def ms(value: float) -> str:
        return f"{value * 1000:.1f} ms"

    orm_p50, orm_p95 = percentile(orm_times, 50), percentile(orm_times, 95)
    raw_p50, raw_p95 = percentile(raw_times, 50), percentile(raw_times, 95)
    print(f"filter: spent >= 1000.00, orders >= 4, last order before {before}: {matched:,} match")
    print(f"kedai search_customers  p50 {ms(orm_p50)}  p95 {ms(orm_p95)}")
    print(f"raw SQL (psycopg)       p50 {ms(raw_p50)}  p95 {ms(raw_p95)}")
    mean_ratio = statistics.mean(orm_times) / statistics.mean(raw_times)
    print(f"ratio kedai/raw p95: {orm_p95 / raw_p95:.2f}  (mean {mean_ratio:.2f})")
    print(f"target p95 < 300 ms: {'met' if orm_p95 < 0.3 else 'NOT met'}")
    if not args.reuse:
        engine = sa.create_engine(base_url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {SCHEMA} CASCADE")
        engine.dispose()


if __name__ == "__main__":
    main()
