"""Sync throughput (issue 3): Freshdash's Syncer + SqlTableSource (batches of 5,000) copying a SQLite
table of 1,000,000 orders into a SQLite store, initial load and an incremental run (1% changed + 1% new rows),
as a ratio to raw sqlite3 in the same run (goal >= 0.7x), beside pandas and dlt, with the peak RSS of each.

Every method runs in its own child process (fresh interpreter; time measured around the work only, imports
excluded; peak RSS = the child's ru_maxrss, imports included) and writes to its own store file:
- baseline: sqlite3 cursor over `SELECT ... WHERE updated_at > :last ORDER BY updated_at, id` streamed into
  `executemany("INSERT ... ON CONFLICT(id) DO UPDATE ...")`, one transaction (same pragmas as Freshdash's store:
  WAL, synchronous=NORMAL).
- freshdash: `Syncer(get_engine(store), SqlTableSource(get_engine(source), "orders")).run(5000)`: keyset
  pages, each batch upserted with its cursor compare-and-set in one transaction (200 commits for 1M rows). Its
  destination also gets the index on `updated_at` that the dashboard reads (built after the first load,
  maintained by the incremental runs); the baseline's table has the primary key only.
- pandas (what a typical user writes): initial `pd.read_sql("SELECT * FROM orders", src)` then
  `df.to_sql("orders", dst, if_exists="append")` into a table with a primary key; incremental: read
  `WHERE updated_at > (SELECT MAX(updated_at) in the store)`, `to_sql` into a staging table, then
  `INSERT INTO orders SELECT * FROM staging ON CONFLICT(id) DO UPDATE`, one transaction.
- dlt: `sql_table(..., incremental=dlt.sources.incremental("updated_at"), write_disposition="merge",
  primary_key="id")` (default sqlalchemy backend) into dlt's sqlalchemy destination on SQLite, when dlt can be
  imported (by this interpreter or the one given with --dlt-python); skipped otherwise and said so.
Each store is checked against the source afterwards (count, sums, statuses). Prints ONE line on stdout.

Usage: python bench/sync_throughput.py [--rows N] [--quick] [--dlt-python PATH] [--no-dlt]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOAL_RATIO = 0.7
BATCH = 5000
T0 = datetime(2026, 1, 1)
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DATETIME format, so every reader parses the same text
COLUMNS = ("id", "created_at", "updated_at", "customer", "region", "product", "quantity", "amount", "status", "deleted")
DDL = """CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
    customer VARCHAR(60) NOT NULL, region VARCHAR(30) NOT NULL, product VARCHAR(60) NOT NULL,
    quantity INTEGER NOT NULL, amount FLOAT NOT NULL, status VARCHAR(20) NOT NULL, deleted BOOLEAN NOT NULL)"""
UPSERT = (
    f"INSERT INTO orders ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
)
REGIONS = ("North", "Northeast", "Center-West", "Southeast", "South")
PRODUCTS = {"Coffee beans 1kg": 79.9, "Espresso machine": 1899.0, "Grinder": 459.0, "Paper filters": 14.5}
STATUSES = ("placed", "paid", "shipped", "delivered")


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- the source ------------------------------------------------------------------------------------------


def order(rng: random.Random, id_: int, at: datetime) -> tuple[Any, ...]:
    product = rng.choice(list(PRODUCTS))
    quantity = rng.randint(1, 5)
    stamp = at.strftime(STAMP)
    return (
        id_,
        stamp,
        stamp,
        f"customer-{rng.randint(1, 50_000):05d}",
        rng.choice(REGIONS),
        product,
        quantity,
        round(PRODUCTS[product] * quantity, 2),
        rng.choice(STATUSES),
        rng.random() < 0.01,
    )


def build_source(path: Path, rows: int) -> datetime:
    """`rows` orders over 30 days (about 2.6 s apart, some sharing a timestamp); returns the last instant."""
    rng = random.Random(3)
    step = 30 * 86400 / rows
    con = sqlite3.connect(path)
    con.execute(DDL)
    con.executemany(
        f"INSERT INTO orders VALUES ({', '.join('?' * len(COLUMNS))})",
        (order(rng, i, T0 + timedelta(seconds=int(i * step))) for i in range(1, rows + 1)),
    )
    con.execute("CREATE INDEX ix_orders_updated_at_id ON orders (updated_at, id)")
    con.commit()
    con.close()
    return T0 + timedelta(seconds=int(rows * step))


def change_source(path: Path, rows: int, last: datetime, round_: int) -> tuple[int, datetime]:
    """Cancel 1% of the rows (a soft delete: status, amount, deleted, updated_at) and add 1% new ones, after
    `last`; returns how many rows moved and the new last instant."""
    rng = random.Random(5 + round_)
    con = sqlite3.connect(path)
    top = con.execute("SELECT MAX(id) FROM orders").fetchone()[0]
    changed = sorted(rng.sample(range(1, top + 1), rows // 100))
    at = last + timedelta(minutes=1)
    con.executemany(
        "UPDATE orders SET status = 'cancelled', amount = amount + 1, deleted = 1, updated_at = ? WHERE id = ?",
        (((at + timedelta(milliseconds=n)).strftime(STAMP), id_) for n, id_ in enumerate(changed)),
    )
    at += timedelta(minutes=1)
    new = [order(rng, top + n + 1, at + timedelta(milliseconds=n)) for n in range(rows // 100)]
    con.executemany(f"INSERT INTO orders VALUES ({', '.join('?' * len(COLUMNS))})", new)
    con.commit()
    con.close()
    return len(changed) + len(new), at + timedelta(minutes=1)


def summary(path: Path, table: str = "orders") -> tuple[Any, ...]:
    """What must match between the source and a store (type-agnostic: counts and sums)."""
    con = sqlite3.connect(path)
    try:
        return tuple(
            con.execute(
                f"SELECT COUNT(*), SUM(quantity), ROUND(SUM(amount), 2), SUM(deleted = 1), "
                f"SUM(status = 'cancelled'), COUNT(DISTINCT customer), MAX(id) FROM {table}"
            ).fetchone()
        )
    finally:
        con.close()


# -- the methods (each runs in a child process) ----------------------------------------------------------


def sqlite_store(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(DDL)
    return con


def baseline(source: Path, store: Path, work: Path, batch: int) -> Callable[[], None]:
    dst = sqlite_store(store)
    src = sqlite3.connect(source)

    def run() -> None:
        last = dst.execute("SELECT COALESCE(MAX(updated_at), '') FROM orders").fetchone()[0]
        rows = src.execute(
            f"SELECT {', '.join(COLUMNS)} FROM orders WHERE updated_at > ? ORDER BY updated_at, id", (last,)
        )
        dst.execute("BEGIN IMMEDIATE")
        dst.executemany(UPSERT, rows)
        dst.execute("COMMIT")

    return run


def freshdash(source: Path, store: Path, work: Path, batch: int) -> Callable[[], None]:
    from app.clock import SystemClock
    from app.core.database import create_schema, get_engine
    from app.sync.engine import Syncer
    from app.sync.source import SqlTableSource

    engine = get_engine(f"sqlite:///{store}")
    create_schema(engine)
    sync = Syncer(engine, SqlTableSource(get_engine(f"sqlite:///{source}"), "orders"), "orders", SystemClock(), "bench")

    def run() -> None:
        sync.run(batch)

    return run


def pandas(source: Path, store: Path, work: Path, batch: int) -> Callable[[], None]:
    import pandas as pd
    from sqlalchemy import create_engine

    sqlite_store(store).close()  # a primary key, so later runs can upsert
    src, dst = create_engine(f"sqlite:///{source}"), create_engine(f"sqlite:///{store}")
    update = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])

    def run() -> None:
        with dst.begin() as conn:
            last = conn.exec_driver_sql("SELECT MAX(updated_at) FROM orders").scalar()
            if last is None:
                pd.read_sql("SELECT * FROM orders", src).to_sql("orders", conn, if_exists="append", index=False)
                return
            df = pd.read_sql("SELECT * FROM orders WHERE updated_at > ?", src, params=(last,))
            df.to_sql("orders_staging", conn, if_exists="replace", index=False)
            conn.exec_driver_sql(
                f"INSERT INTO orders SELECT * FROM orders_staging WHERE true ON CONFLICT(id) DO UPDATE SET {update}"
            )
            conn.exec_driver_sql("DROP TABLE orders_staging")

    return run


def dlt(source: Path, store: Path, work: Path, batch: int) -> Callable[[], None]:
    import dlt as dlt_
    from dlt.sources.sql_database import sql_table

    # With dlt's defaults the tables get no keys, and its SQLite merge (DELETE ... WHERE EXISTS (SELECT ...
    # FROM staging WHERE key = key)) scans the staging table once per stored row: set DLT_DEFAULT_KEYS=1 to see.
    keys = os.environ.get("DLT_DEFAULT_KEYS") != "1"
    pipeline = dlt_.pipeline(
        "bench",
        destination=dlt_.destinations.sqlalchemy(credentials=f"sqlite:///{store}", create_primary_keys=keys),
        dataset_name="bench",
        pipelines_dir=str(work / "dlt_pipelines"),
    )

    def run() -> None:
        resource_ = sql_table(
            credentials=f"sqlite:///{source}",
            table="orders",
            incremental=dlt_.sources.incremental("updated_at"),
            write_disposition="merge",
            primary_key="id",
        )
        pipeline.run(resource_)

    return run


METHODS: dict[str, Callable[[Path, Path, Path, int], Callable[[], None]]] = {
    "baseline": baseline,
    "freshdash": freshdash,
    "pandas": pandas,
    "dlt": dlt,
}


def vm(field: str) -> float:
    """A VmRSS/VmHWM line of /proc/self/status in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(method: str, source: Path, store: Path, work: Path, batch: int, result: Path) -> None:
    run = METHODS[method](source, store, work, batch)
    rss_before = vm("VmRSS")
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result.write_text(json.dumps({"seconds": seconds, "rss_before_mib": rss_before, "peak_rss_mib": peak}))


def measure(
    python: str, method: str, source: Path, store: Path, work: Path, batch: int, timeout: float
) -> dict[str, float]:
    """Run one method in a child process; a child past `timeout` is killed and reported as such."""
    result = work / f"{method}-{store.stem}.json"
    result.unlink(missing_ok=True)
    args = [python, __file__, "--child", method, str(source), str(store), str(work), str(batch), str(result)]
    env = {**os.environ, "RUNTIME__LOG_LEVEL": "ERROR"}  # dlt's own log level
    try:
        proc = subprocess.run(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        progress(f"  {method} still running after {timeout:.0f} s: stopped")
        return {"seconds": math.inf, "rss_before_mib": math.nan, "peak_rss_mib": math.nan}
    if proc.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(result.read_text()))


# -- the run ---------------------------------------------------------------------------------------------


def dlt_python(requested: str | None, disabled: bool) -> tuple[str | None, str]:
    if disabled:
        return None, "skipped (--no-dlt)"
    if requested:
        return requested, ""
    if importlib.util.find_spec("dlt") is not None:
        return sys.executable, ""
    return None, 'skipped (not installed here; pip install "dlt[sql_database]" or pass --dlt-python)'


def rate(rows: int, seconds: float, timeout: float) -> str:
    if math.isinf(seconds):
        return f"stopped after {timeout:.0f} s"
    per_second = rows / seconds
    return f"{per_second / 1000:.0f}k rows/s" if per_second >= 10_000 else f"{per_second:.0f} rows/s"


def phase(name: str, rows: int, runs: dict[str, dict[str, float]], timeout: float) -> str:
    """One phase of the result line: each method's rows/s and its ratio to the baseline of the same run."""
    base = runs["baseline"]["seconds"]
    parts = []
    for method, measured in runs.items():
        text = f"{method}={rate(rows, measured['seconds'], timeout)}"
        if method != "baseline" and not math.isinf(measured["seconds"]):
            ratio = base / measured["seconds"]
            text += f" ({ratio:.2f}x"
            if method == "freshdash":
                text += f", goal >={GOAL_RATIO}x {'met' if ratio >= GOAL_RATIO else 'MISSED'}"
            text += ")"
        parts.append(text)
    return f"{name}: " + " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--dlt-python", help="an interpreter that can import dlt (e.g. a venv's python)")
    parser.add_argument("--no-dlt", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="incremental rounds (the median is reported)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a method's child is stopped")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        method, source, store, work, batch, result = args.child
        child(method, Path(source), Path(store), Path(work), int(batch), Path(result))
        return 0
    rows = 100_000 if args.quick and args.rows == 1_000_000 else args.rows
    dlt_exe, dlt_note = dlt_python(args.dlt_python, args.no_dlt)
    methods = {"baseline": sys.executable, "freshdash": sys.executable, "pandas": sys.executable}
    if dlt_exe:
        methods["dlt"] = dlt_exe
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fd-sync-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.db"
        progress(f"building a source of {rows:,} orders")
        last = build_source(source, rows)
        initial = run_phase("initial load", methods, source, work, args)
        wrong = check(work, initial, summary(source))
        rounds: list[dict[str, dict[str, float]]] = []
        for round_ in range(args.rounds):  # short runs are noisy: the median of a few rounds
            changed, last = change_source(source, rows, last, round_)
            name = f"incremental {round_ + 1}/{args.rounds} ({changed:,} rows)"
            rounds.append(run_phase(name, methods, source, work, args, initial))
            wrong |= check(work, rounds[-1], summary(source))
        incremental = {m: {"seconds": statistics.median(r[m]["seconds"] for r in rounds)} for m in methods}
        small = bounded_memory(work, rows, args)
    first = phase("initial", rows, initial, args.timeout)
    label = f"incremental {changed:,} rows (1% changed + 1% new, median of {args.rounds})"
    second = phase(label, changed, incremental, args.timeout)
    equal = "yes" if not wrong else "NO: " + ", ".join(sorted(wrong))
    rss = " ".join(f"{m}={initial[m]['peak_rss_mib']:.0f}" for m in methods)
    rss += f" (freshdash after imports: {initial['freshdash']['rss_before_mib']:.0f})"
    dlt_text = "dlt: sqlalchemy destination with create_primary_keys" if dlt_exe else f"dlt: {dlt_note}"
    line = (
        f"sync_throughput rows={rows:,} batch={args.batch} | {first} | {second} | peak RSS MiB (initial): {rss}, "
        f"freshdash on {small['rows']:,} rows={small['peak_rss_mib']:.0f} | {dlt_text} | "
        f"stores equal source: {equal} | load={load:.1f} nproc={os.cpu_count()} "
        f"python={platform.python_version()} sqlite={sqlite3.sqlite_version}"
    )
    print(line)
    return 0


def run_phase(
    name: str,
    methods: dict[str, str],
    source: Path,
    work: Path,
    args: argparse.Namespace,
    before: dict[str, dict[str, float]] | None = None,
) -> dict[str, dict[str, float]]:
    runs: dict[str, dict[str, float]] = {}
    for method, python in methods.items():
        if before is not None and math.isinf(before[method]["seconds"]):
            runs[method] = before[method]  # its initial load never finished: nothing to increment
            continue
        progress(f"{name}: {method} (load {os.getloadavg()[0]:.1f})")
        runs[method] = measure(python, method, source, work / f"{method}.db", work, args.batch, args.timeout)
        progress(f"  {runs[method]['seconds']:.2f} s, peak RSS {runs[method]['peak_rss_mib']:.0f} MiB")
    return runs


def check(work: Path, runs: dict[str, dict[str, float]], expected: tuple[Any, ...]) -> set[str]:
    """The methods whose store (when they finished) differs from the source in counts and sums."""
    wrong = set()
    for method, measured in runs.items():
        if math.isinf(measured["seconds"]):
            continue
        got = summary(work / ("dlt__bench.db" if method == "dlt" else f"{method}.db"))
        if got != expected:
            progress(f"MISMATCH {method}: store {got} != source {expected}")
            wrong.add(method)
    return wrong


def bounded_memory(work: Path, rows: int, args: argparse.Namespace) -> dict[str, float]:
    """Freshdash's peak RSS on a tenth of the rows, to compare with the full load: memory follows the batch."""
    small = max(rows // 10, args.batch)
    source = work / "small_source.db"
    build_source(source, small)
    progress(f"memory check: freshdash on {small:,} rows")
    measured = measure(sys.executable, "freshdash", source, work / "small_store.db", work, args.batch, args.timeout)
    return {"rows": small, **measured}


if __name__ == "__main__":
    raise SystemExit(main())
