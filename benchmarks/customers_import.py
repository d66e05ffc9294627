"""Customer import of a 100,000-row CSV through the real import code, against a raw baseline.

Generates a CSV (UTF-8, Chinese names, tags, a custom field), imports it with
``core.customers.importing.import_customers`` into a fresh SQLite database (and PostgreSQL when
``--database-url`` is given), and measures rows/s and the peak memory of the process doing it
(``ru_maxrss`` of a child process, so each run is measured alone). The baseline inserts the same
rows with a raw DBAPI ``executemany`` into a bare ``customers`` table, in transactions of the
same size. Targets: 5,000 rows/s on SQLite, peak memory under 200 MB.

    python benchmarks/customers_import.py [--rows 100000] [--database-url URL] [--keep]

PostgreSQL runs in schemas of their own (``kedai_bench_import``, ``kedai_bench_import_raw``),
dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCHEMA = "kedai_bench_import"
BATCH = 500
HEADER = ["email", "phone", "名", "姓", "生日", "接受行銷", "標籤", "備註", "城市"]
_SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊"
_GIVEN = ["志明", "淑芬", "美玲", "家豪", "雅婷", "冠宇", "怡君", "俊傑", "詩涵", "宗翰"]
_CITIES = ["台北", "新竹", "台中", "高雄", "吉隆坡", "檳城", "新山"]
_TAGS = ["VIP", "茶友", "新客", "批發", "回購"]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` customers, each with a distinct email and Malaysian mobile number."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(
                [
                    f"customer{i}@example.com",
                    f"01{rng.choice('2346789')}-{2_000_000 + i % 7_000_000:07d}",
                    rng.choice(_GIVEN),
                    rng.choice(_SURNAMES),
                    f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    rng.choice(["yes", "no", "是", "否"]),
                    ", ".join(rng.sample(_TAGS, rng.randint(0, 2))),
                    "喜歡烏龍茶" if i % 7 == 0 else "",
                    rng.choice(_CITIES),
                ]
            )


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def _reset_schema(url: str, schema: str, *, drop_only: bool = False) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        if not drop_only:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()


def _maxrss_mb() -> float:
    # Linux reports kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the two measured runs, each in a child process ------------------------------------------


def child_import(csv_path: Path, database_url: str, instance: Path) -> dict[str, float]:
    os.environ["KEDAI_INSTANCE_PATH"] = str(instance)
    os.environ["DATABASE_URL"] = database_url
    os.environ["KEDAI_START_WORKER"] = "0"
    os.environ.setdefault("KEDAI_SECRET_KEY", "benchmark")
    import sqlalchemy as sa
    from flask_babel import force_locale

    from core.app import create_app
    from core.customers import service
    from core.customers.importing import import_customers
    from core.customers.models import Customer
    from core.db import db
    from core.events.models import Event
    from core.migrate import upgrade_all
    from core.stores.service import create_store

    app = create_app()
    with app.app_context(), force_locale("en"):
        upgrade_all()
        store = create_store("bench", "Bench Tea")
        service.define_field(store, key="city", label="城市", field_type="text")
        db.session.commit()
        before = _maxrss_mb()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = import_customers(store, csv_path, report_path=instance / "rejected.csv")
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        peak = _maxrss_mb()
        customers = db.session.scalar(sa.select(sa.func.count()).select_from(Customer))
        events = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
    return {
        "rows": result.processed,
        "created": result.created,
        "rejected": result.rejected,
        "customers": customers,
        "events": events,
        "seconds": seconds,
        "rows_per_s": result.processed / seconds,
        "rows_per_cpu_s": result.processed / cpu_seconds,
        "maxrss_before_mb": before,
        "maxrss_mb": peak,
    }


_BARE_TABLE = """
CREATE TABLE customers (
    id {serial} PRIMARY KEY,
    email VARCHAR(254), phone VARCHAR(20), first_name VARCHAR(100), last_name VARCHAR(100),
    birthday DATE, accepts_marketing BOOLEAN, tags TEXT, note TEXT, city VARCHAR(1000)
)
"""
_INSERT = (
    "INSERT INTO customers (email, phone, first_name, last_name, birthday, accepts_marketing,"
    " tags, note, city) VALUES ({marks})"
)


def child_raw(csv_path: Path, database_url: str, instance: Path) -> dict[str, float]:
    """The same rows through ``executemany``: no checks, no events, no indexes but the key."""
    if database_url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(instance / "raw.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(_BARE_TABLE.format(serial="INTEGER"))
        insert = _INSERT.format(marks=", ".join(["?"] * 9))
    else:
        import psycopg

        url = database_url.replace("postgresql+psycopg://", "postgresql://")
        connection = psycopg.connect(url.split("?")[0], autocommit=True)
        connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}_raw CASCADE")
        connection.execute(f"CREATE SCHEMA {SCHEMA}_raw")
        connection.execute(f"SET search_path TO {SCHEMA}_raw")
        connection.execute(_BARE_TABLE.format(serial="BIGSERIAL"))
        insert = _INSERT.format(marks=", ".join(["%s"] * 9))
    truthy = {"yes", "是"}
    started, cpu_started = time.perf_counter(), time.process_time()
    count = 0
    with csv_path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        batch: list[tuple[object, ...]] = []

        def flush() -> None:
            cursor = connection.cursor()
            cursor.execute("BEGIN")
            cursor.executemany(insert, batch)
            cursor.execute("COMMIT")
            batch.clear()

        for email, phone, first, last, birthday, marketing, tags, note, city in reader:
            batch.append(
                (email, phone, first, last, birthday, marketing in truthy, tags, note, city)
            )
            count += 1
            if len(batch) == BATCH:
                flush()
        if batch:
            flush()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    if not database_url.startswith("sqlite"):
        connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}_raw CASCADE")
    connection.close()
    return {"rows": count, "seconds": seconds, "rows_per_s": count / seconds,
            "rows_per_cpu_s": count / cpu_seconds, "maxrss_mb": _maxrss_mb()}  # fmt: skip


def run_child(kind: str, csv_path: Path, database_url: str, instance: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--csv", str(csv_path),
         "--database-url", database_url, "--instance", str(instance)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


# --- the report ------------------------------------------------------------------------------


def measure(name: str, csv_path: Path, database_url: str, instance: Path) -> None:
    imported = run_child("import", csv_path, database_url, instance)
    raw = run_child("raw", csv_path, database_url, instance)
    assert imported["created"] == imported["customers"] == imported["events"] == imported["rows"]
    print(f"\n{name}: {imported['rows']:,} rows")
    print(
        f"  kedai import      {imported['rows_per_s']:>10,.0f} rows/s  "
        f"({imported['seconds']:.1f} s, peak RSS {imported['maxrss_mb']:.0f} MB, "
        f"{imported['maxrss_before_mb']:.0f} MB before the import)"
    )
    print(
        f"  raw executemany   {raw['rows_per_s']:>10,.0f} rows/s  "
        f"({raw['seconds']:.1f} s, peak RSS {raw['maxrss_mb']:.0f} MB)"
    )
    print(
        f"  ratio             {raw['rows_per_s'] / imported['rows_per_s']:>10.1f}x slower than raw"
    )
    # Wall-clock rates move with whatever else the machine runs; CPU time of this process
    # (the server's share of SQLite's work included) is the steadier figure to compare runs by.
    print(
        f"  per CPU second    {imported['rows_per_cpu_s']:>10,.0f} rows  "
        f"(raw {raw['rows_per_cpu_s']:,.0f}; "
        f"ratio {raw['rows_per_cpu_s'] / imported['rows_per_cpu_s']:.1f}x)"
    )
    verdicts = []
    if database_url.startswith("sqlite"):
        verdicts.append(("5,000 rows/s", imported["rows_per_s"] >= 5000))
    verdicts.append(("peak memory < 200 MB", imported["maxrss_mb"] < 200))
    for target, met in verdicts:
        print(f"  target {target}: {'met' if met else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="PostgreSQL, besides SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    parser.add_argument("--child", choices=["import", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--instance", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child = child_import if args.child == "import" else child_raw
        print(json.dumps(child(args.csv, args.database_url, args.instance)))
        return

    with tempfile.TemporaryDirectory(prefix="kedai-bench-import-") as folder:
        work = Path(folder)
        csv_path = work / "customers.csv"
        started = time.perf_counter()
        generate(csv_path, args.rows)
        size = csv_path.stat().st_size / 1024 / 1024
        print(
            f"generated {args.rows:,} rows ({size:.1f} MB) in {time.perf_counter() - started:.1f} s"
        )

        sqlite_instance = work / "sqlite"
        sqlite_instance.mkdir()
        measure("SQLite", csv_path, f"sqlite:///{sqlite_instance / 'kedai.db'}", sqlite_instance)

        if args.database_url:
            from core.config import normalise_database_url

            url = normalise_database_url(args.database_url)
            _reset_schema(url, SCHEMA)
            pg_instance = work / "postgresql"
            pg_instance.mkdir()
            try:
                measure("PostgreSQL", csv_path, _with_search_path(url, SCHEMA), pg_instance)
            finally:
                if not args.keep:
                    _reset_schema(url, SCHEMA, drop_only=True)


if __name__ == "__main__":
    main()
