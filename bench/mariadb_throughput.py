"""MariaDB source throughput (issue 14 item 1, MariaDB): orders-shaped rows from a MariaDB source (PyMySQL) into
a PostgreSQL store and into a SQLite store, initial load and an incremental run (2% changed: 1% updated + 1%
new), each as a ratio to a baseline measured in the same repeat (goal >= 0.8x), with the peak RSS and the load
average beside it.

The source has pg_throughput's columns (bigint key, DATETIME and DATETIME(6), three VARCHAR, INT, DOUBLE,
BOOLEAN) plus a DECIMAL(12,2) and a utf8mb4 TEXT with accents and symbols, NULL in every tenth row.
Every method runs in its own child process (time around the work only; peak RSS = the child's ru_maxrss):
- pg_baseline: a PyMySQL unbuffered read (SSCursor, `fetchmany`) of `SELECT … WHERE updated_at > :last ORDER BY
  updated_at, id`, each block written with psycopg's binary `COPY` into a temporary staging table, then ONE
  `INSERT INTO orders SELECT … FROM staging ON CONFLICT (id) DO UPDATE`, one transaction.
- freshdash: `Syncer(store, SqlTableSource(source, "src_orders"), …).run(BATCH)`, the source engine built as a
  sync job builds it (SOURCE_TIMEOUT_SECONDS' statement limits), every batch with its cursor compare-and-set.
- sqlite_baseline: the same unbuffered read into raw sqlite3 `executemany(INSERT … ON CONFLICT …)`, one
  transaction (WAL, synchronous=NORMAL); freshdash_sqlite: the Syncer into a SQLite store.
A scratch database on the local MariaDB (root@127.0.0.1:3306) and scratch PostgreSQL databases
(postgres@127.0.0.1, admin db "test") are dropped afterwards.

Usage: python bench/mariadb_throughput.py [--rows N] [--repeats R] [--batch B] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("FRESHDASH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB = os.environ.get("FRESHDASH_BENCH_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")
SOURCE_TIMEOUT_SECONDS = 30.0  # the setting's default: a sync job's source engine has these limits
GOAL = 0.8
BATCH = 5000
COLUMNS = (
    *("id", "created_at", "updated_at", "customer", "region", "product", "quantity", "amount", "status", "deleted"),
    *("price", "note"),
)
MARIADB_DDL = """CREATE TABLE src_orders (
    id BIGINT PRIMARY KEY, created_at DATETIME NOT NULL, updated_at DATETIME(6) NOT NULL,
    customer VARCHAR(60) NOT NULL, region VARCHAR(30) NOT NULL, product VARCHAR(60) NOT NULL,
    quantity INT NOT NULL, amount DOUBLE NOT NULL, status VARCHAR(20) NOT NULL, deleted BOOLEAN NOT NULL,
    price DECIMAL(12,2) NOT NULL, note TEXT NULL, KEY ix_src_orders_updated_at_id (updated_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""
# The baselines' tables have the column types Freshdash's store gets (TINYINT(1) is a SMALLINT there).
PG_DDL = """CREATE TABLE IF NOT EXISTS base_orders (
    id bigint PRIMARY KEY, created_at timestamp NOT NULL, updated_at timestamp NOT NULL,
    customer varchar(60) NOT NULL, region varchar(30) NOT NULL, product varchar(60) NOT NULL,
    quantity integer NOT NULL, amount double precision NOT NULL, status varchar(20) NOT NULL,
    deleted smallint NOT NULL, price numeric(12, 2) NOT NULL, note text)"""
PG_TYPES = [
    *("int8", "timestamp", "timestamp", "text", "text", "text", "int4", "float8", "text", "int2", "numeric", "text")
]
SQLITE_DDL = """CREATE TABLE IF NOT EXISTS orders (
    id BIGINT PRIMARY KEY, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
    customer VARCHAR(60) NOT NULL, region VARCHAR(30) NOT NULL, product VARCHAR(60) NOT NULL,
    quantity INTEGER NOT NULL, amount FLOAT NOT NULL, status VARCHAR(20) NOT NULL, deleted SMALLINT NOT NULL,
    price NUMERIC(12, 2) NOT NULL, note TEXT)"""
UPDATES = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
SELECT = f"SELECT {', '.join(COLUMNS)} FROM src_orders"


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def pg_url(database: str, driver: str = "") -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    scheme = "postgresql+psycopg" if driver else "postgresql"
    return f"{scheme}{base.removeprefix('postgresql')}/{database}"


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def maria(database: str | None = None, **kwargs: Any) -> Any:
    import pymysql

    parts = urlsplit(MARIADB)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database,
        charset="utf8mb4",
        autocommit=True,
        **kwargs,
    )


def maria_url(database: str) -> str:
    return f"{MARIADB.rstrip('/')}/{database}?charset=utf8mb4"


# -- the source -------------------------------------------------------------------------------------------


def build_source(database: str, rows: int) -> None:
    """`rows` orders over 30 days, generated by the server (its SEQUENCE engine)."""
    conn = maria(database)
    with conn.cursor() as cur:
        cur.execute(MARIADB_DDL)
        cur.execute(
            f"""INSERT INTO src_orders SELECT seq, t, t,
                CONCAT('customer-', LPAD(1 + (seq * 7919) % 50000, 5, '0')),
                ELT(1 + seq % 5, 'North', 'Northeast', 'Center-West', 'Southeast', 'South'),
                ELT(1 + seq % 4, 'Coffee beans 1kg', 'Espresso machine', 'Grinder', 'Paper filters'),
                1 + seq % 5, ROUND((1 + seq % 5) * 79.9, 2),
                ELT(1 + (seq DIV 3) % 4, 'placed', 'paid', 'shipped', 'delivered'), seq % 100 = 0,
                (1 + seq % 5) * 79.90 + (seq % 7) / 100,
                IF(seq % 10 = 0, NULL, CONCAT('Ação nº ', seq, ' — café ✓'))
              FROM (SELECT seq, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq * 2592 * 1000 MICROSECOND AS t
                    FROM seq_1_to_{rows}) AS g"""
        )
    settle(conn)
    conn.close()


def change_source(database: str, round_: int) -> int:
    """Cancel 1% of the rows and add 1% new ones, after every existing updated_at; returns rows changed."""
    conn = maria(database)
    with conn.cursor() as cur:
        cur.execute("SELECT max(id), max(updated_at) FROM src_orders")
        top, last = cur.fetchone()
        step = 97 + round_
        changed = cur.execute(
            "UPDATE src_orders SET status = 'cancelled', amount = amount + 1, price = price + 1, deleted = TRUE, "
            "note = CONCAT('cancelado ✗ ', id), "
            "updated_at = %s + INTERVAL (id %% 100000) * 1000 MICROSECOND + INTERVAL 1 MINUTE WHERE id %% %s = 0",
            (last, step),
        )
        added = cur.execute(
            f"INSERT INTO src_orders SELECT %s + seq, t, t, 'customer-new', 'South', 'Grinder', 2, 918.0, 'placed', "
            f"FALSE, 918.00, IF(seq %% 10 = 0, NULL, 'nova ✓') "
            f"FROM (SELECT seq, %s + INTERVAL 10 MINUTE + INTERVAL seq * 1000 MICROSECOND AS t "
            f"FROM seq_1_to_{changed}) AS g",
            (top, last),
        )
    settle(conn)
    conn.close()
    return int(changed) + int(added)


def settle(conn: Any) -> None:
    """Statistics fresh and InnoDB's dirty pages flushed, so that no method pays for the build."""
    with conn.cursor() as cur:
        cur.execute("ANALYZE TABLE src_orders")
        cur.fetchall()
        cur.execute("FLUSH TABLES src_orders")


# -- the methods (each runs in a child process) -----------------------------------------------------------


def _read_source(database: str, last: Any, block: int) -> tuple[Any, Callable[[], Any]]:
    """An unbuffered read in (updated_at, id) order after `last`: the connection and a generator of blocks."""
    import pymysql.cursors

    conn = maria(database, cursorclass=pymysql.cursors.SSCursor)
    cur = conn.cursor()
    if last is None:
        cur.execute(f"{SELECT} ORDER BY updated_at, id")
    else:
        cur.execute(f"{SELECT} WHERE updated_at > %s ORDER BY updated_at, id", (last,))

    def blocks() -> Any:
        while rows := cur.fetchmany(block):
            yield rows

    return conn, blocks


def pg_baseline(source: str, store: str, batch: int) -> Callable[[], None]:
    import psycopg

    dst = psycopg.connect(pg_url(store), autocommit=True)
    dst.execute(PG_DDL)

    def run() -> None:
        last = dst.execute("SELECT max(updated_at) FROM base_orders").fetchone()[0]  # type: ignore[index]
        src, blocks = _read_source(source, last, batch)
        with dst.transaction():
            dst.execute("CREATE TEMPORARY TABLE staging (LIKE base_orders) ON COMMIT DROP")
            with dst.cursor().copy(f"COPY staging ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(PG_TYPES)
                for rows in blocks():
                    for row in rows:
                        copy.write_row(row)
            dst.execute(f"INSERT INTO base_orders SELECT * FROM staging ON CONFLICT (id) DO UPDATE SET {UPDATES}")
        src.close()

    return run


def sqlite_baseline(source: str, store: str, batch: int) -> Callable[[], None]:
    dst = sqlite3.connect(store, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")
    dst.execute(SQLITE_DDL)
    upsert = f"INSERT INTO orders VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT(id) DO UPDATE SET {UPDATES}"

    def run() -> None:
        last = dst.execute("SELECT max(updated_at) FROM orders").fetchone()[0]
        src, blocks = _read_source(source, last, batch)
        dst.execute("BEGIN IMMEDIATE")
        # Datetimes as text (sqlite3's own adapter is deprecated), the DECIMAL(12,2) as a float (what a NUMERIC
        # column of SQLite holds).
        for rows in blocks():
            dst.executemany(upsert, ((r[0], str(r[1]), str(r[2]), *r[3:10], float(r[10]), r[11]) for r in rows))
        dst.execute("COMMIT")
        src.close()

    return run


def _freshdash(source: str, store_url: str, batch: int) -> Callable[[], None]:
    from app.clock import SystemClock
    from app.core.database import create_schema, get_engine
    from app.sync.engine import Syncer
    from app.sync.source import SqlTableSource

    engine = get_engine(store_url)
    create_schema(engine)
    src = get_engine(maria_url(source), SOURCE_TIMEOUT_SECONDS)

    def run() -> None:
        # A new source per run, as each run of a sync job builds one.
        Syncer(engine, SqlTableSource(src, "src_orders"), "orders", SystemClock(), "bench").run(batch)

    return run


def freshdash(source: str, store: str, batch: int) -> Callable[[], None]:
    return _freshdash(source, pg_url(store, "psycopg"), batch)


def freshdash_sqlite(source: str, store: str, batch: int) -> Callable[[], None]:
    return _freshdash(source, f"sqlite:///{store}", batch)


METHODS = {
    "pg_baseline": pg_baseline,
    "freshdash": freshdash,
    "sqlite_baseline": sqlite_baseline,
    "freshdash_sqlite": freshdash_sqlite,
}


def child(method: str, source: str, store: str, batch: int, profile: str | None) -> None:
    run = METHODS[method](source, store, batch)
    started = time.perf_counter()
    if profile:
        import cProfile

        cProfile.runctx("run()", globals(), {"run": run}, profile)
    else:
        run()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak}))


def spawn(method: str, source: str, store: str, batch: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, source, store, "--batch", str(batch)],
        check=True,
        capture_output=True,
        text=True,
    )
    found: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    found["load"] = os.getloadavg()[0]
    return found


# -- one repeat ---------------------------------------------------------------------------------------------


SUMMARY = (
    "SELECT count(*), sum(quantity), sum(amount), sum(CASE WHEN deleted <> 0 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END), max(id), sum(price), count(note), {length}(note))"
    " FROM {table}"
)


def summary(kind: str, where: str, table: str) -> tuple[Any, ...]:
    """Count, sums and text lengths of a table, comparable between MariaDB, PostgreSQL and SQLite."""
    length = {"mariadb": "sum(char_length", "pg": "sum(char_length", "sqlite": "sum(length"}[kind]
    sql = SUMMARY.format(length=length, table=table)
    if kind == "sqlite":
        con = sqlite3.connect(where)
        try:
            found = con.execute(sql).fetchone()
        finally:
            con.close()
    elif kind == "pg":
        import psycopg

        with psycopg.connect(pg_url(where)) as conn:
            found = conn.execute(sql).fetchone()  # type: ignore[assignment]
    else:
        conn = maria(where)
        with conn.cursor() as cur:
            cur.execute(sql)
            found = cur.fetchone()
        conn.close()
    count, quantity, amount, deleted, cancelled, top, price, notes, lengths = found
    sums = (int(quantity), round(float(amount), 2), int(deleted), int(cancelled), round(float(price), 2))
    return (count, *sums, top, notes, int(lengths))


def repeat(rows: int, batch: int, work: Path, turn: int) -> dict[str, dict[str, dict[str, float]]]:
    tag = uuid.uuid4().hex[:8]
    source, stores = f"fd_bench_src_{tag}", {m: f"fd_bench_{m}_{tag}" for m in METHODS if "sqlite" not in m}
    files = {m: str(work / f"{m}_{tag}.db") for m in METHODS if "sqlite" in m}
    results: dict[str, dict[str, dict[str, float]]] = {"initial": {}, "incremental": {}}
    conn = maria()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {source} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        for name in stores.values():
            pg_admin(f"CREATE DATABASE {name}")
        progress(f"building {rows:,} source rows")
        build_source(source, rows)
        for phase in ("initial", "incremental"):
            if phase == "incremental":
                progress(f"changed {change_source(source, 1):,} source rows")
            # Each repeat starts with another method (the PostgreSQL pair and the SQLite pair each turn), and
            # every child starts after a CHECKPOINT: none pays for the one before it.
            pg = [m for m in METHODS if "sqlite" not in m]
            lite = [m for m in METHODS if "sqlite" in m]
            order = pg[turn % 2 :] + pg[: turn % 2] + lite[turn % 2 :] + lite[: turn % 2]
            for method in order:
                pg_admin("CHECKPOINT")
                results[phase][method] = spawn(method, source, stores.get(method) or files[method], batch)
                progress(f"{phase} {method}: {results[phase][method]['seconds']:.2f} s")
        want = summary("mariadb", source, "src_orders")
        for method in METHODS:
            kind = "sqlite" if "sqlite" in method else "pg"
            table = "base_orders" if method == "pg_baseline" else "orders"
            got = summary(kind, stores.get(method) or files[method], table)
            if got != want:
                raise SystemExit(f"{method}'s store differs from the source: {got} != {want}")
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {source}")
        conn.close()
        for name in stores.values():
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--quick", action="store_true", help="200,000 rows, one repeat")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "SOURCE", "STORE"))
    parser.add_argument("--profile", help="(with --child) write the run's cProfile stats to this file")
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.batch, args.profile)
        return
    if args.quick:
        args.rows, args.repeats = 200_000, 1
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeats):
            progress(f"repeat {n + 1}/{args.repeats}")
            r = repeat(args.rows, args.batch, Path(tmp), n)
            lines.append(describe(r, args.rows))
            progress(lines[-1])
    for line in lines:
        print(f"mariadb_throughput rows={args.rows:,} batch={args.batch} | {line}")


def describe(r: dict[str, dict[str, dict[str, float]]], rows: int) -> str:
    ini, inc = r["initial"], r["incremental"]

    def ratio(phase: dict[str, dict[str, float]], method: str, base: str) -> str:
        return f"{phase[base]['seconds'] / phase[method]['seconds']:.2f}x"

    def at(phase: dict[str, dict[str, float]], method: str) -> str:
        return f"{rows / phase[method]['seconds']:,.0f} rows/s (load {phase[method]['load']:.2f})"

    rss = ", ".join(f"{m} {ini[m]['peak_rss_mib']:.0f}" for m in METHODS)
    return (
        f"MariaDB->PG initial: baseline {at(ini, 'pg_baseline')}, freshdash {at(ini, 'freshdash')} = "
        f"{ratio(ini, 'freshdash', 'pg_baseline')}; incremental {inc['pg_baseline']['seconds']:.2f} s vs "
        f"{inc['freshdash']['seconds']:.2f} s = {ratio(inc, 'freshdash', 'pg_baseline')} | MariaDB->SQLite "
        f"initial: sqlite3 {at(ini, 'sqlite_baseline')}, freshdash {at(ini, 'freshdash_sqlite')} = "
        f"{ratio(ini, 'freshdash_sqlite', 'sqlite_baseline')}; incremental {inc['sqlite_baseline']['seconds']:.2f} s "
        f"vs {inc['freshdash_sqlite']['seconds']:.2f} s = {ratio(inc, 'freshdash_sqlite', 'sqlite_baseline')} "
        f"(load {inc['freshdash_sqlite']['load']:.2f}) | goal >= {GOAL}x | peak RSS MiB: {rss}"
    )


if __name__ == "__main__":
    main()
