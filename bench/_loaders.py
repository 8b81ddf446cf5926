"""The loaders the throughput benchmarks compare (pg_throughput.py, mariadb_throughput.py): the baselines' raw
writes into PostgreSQL and SQLite, and Freshdash's Syncer. Each runs in a benchmark's child process; the app is
imported by the Syncer only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from _throughput import pg_url

Blocks = Iterable[Iterable[Sequence[Any]]]  # the source's rows, block by block


def updates(columns: Sequence[str]) -> str:
    """The SET list of an upsert on the key (the first column)."""
    return ", ".join(f"{c} = excluded.{c}" for c in columns[1:])


def pg_copy_upsert(dst: Any, columns: Sequence[str], types: Sequence[str], blocks: Blocks) -> None:
    """The PostgreSQL baseline's write: binary `COPY` into a temporary staging table, then ONE
    `INSERT INTO base_orders SELECT … FROM staging ON CONFLICT (id) DO UPDATE`, one transaction."""
    with dst.transaction():
        dst.execute("CREATE TEMPORARY TABLE staging (LIKE base_orders) ON COMMIT DROP")
        with dst.cursor().copy(f"COPY staging ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for rows in blocks:
                for row in rows:
                    copy.write_row(row)
        dst.execute(f"INSERT INTO base_orders SELECT * FROM staging ON CONFLICT (id) DO UPDATE SET {updates(columns)}")


def sqlite_store(path: str, ddl: str) -> sqlite3.Connection:
    """The SQLite baseline's store: WAL, synchronous=NORMAL, transactions opened by hand."""
    dst = sqlite3.connect(path, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")
    dst.execute(ddl)
    return dst


def sqlite_upsert(dst: sqlite3.Connection, columns: Sequence[str], blocks: Blocks) -> None:
    """The SQLite baseline's write: `executemany(INSERT … ON CONFLICT …)` per block, one transaction."""
    upsert = f"INSERT INTO orders VALUES ({', '.join('?' * len(columns))}) ON CONFLICT(id) DO UPDATE SET "
    upsert += updates(columns)
    dst.execute("BEGIN IMMEDIATE")
    for rows in blocks:
        dst.executemany(upsert, rows)
    dst.execute("COMMIT")


def syncer(source_url: str, store_url: str, batch: int, source_timeout: float | None = None) -> Callable[[], None]:
    """Freshdash's method: `Syncer(store, SqlTableSource(source, "src_orders"), …).run(batch)`."""
    from app.clock import SystemClock
    from app.core.database import create_schema, get_engine
    from app.sync.engine import Syncer
    from app.sync.source import SqlTableSource

    engine = get_engine(store_url)
    create_schema(engine)
    src = get_engine(source_url, source_timeout)

    def run() -> None:
        # A new source per run, as each run of a sync job builds one.
        Syncer(engine, SqlTableSource(src, "src_orders"), "orders", SystemClock(), "bench").run(batch)

    return run


def store_url(store: str) -> str:
    """A store as SQLAlchemy reaches it: a SQLite file (its path) or a scratch PostgreSQL database (its name)."""
    return f"sqlite:///{store}" if store.endswith(".db") else pg_url(store, "psycopg")
