"""Engines for SQLite (WAL, busy timeout) and PostgreSQL, and the schema created on start.

One engine per process and URL; errors name the database without its password.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.schema import CreateColumn

from app.core.failures import describe, store_role
from app.core.models import Base
from app.errors import StoreError

logger = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 30_000
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def create_database_engine(url: str) -> Engine:
    """A new engine; SQLite files get WAL, a busy timeout and their folder created."""
    engine = _create(url)
    event.listen(engine, "handle_error", _as_store_error)
    return engine


def _as_store_error(context: Any) -> BaseException | None:
    """A database that cannot be reached or used becomes a StoreError naming it (password hidden).

    Constraint violations and programming errors keep their own type: callers handle those.
    """
    original = context.sqlalchemy_exception
    if not isinstance(original, (OperationalError, InterfaceError)) or context.engine is None:
        return None
    return StoreError(describe("cannot use the database", original, context.engine.url, store_role()))


def _create(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(describe("cannot use the database", exc, parsed, store_role())) from None
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # A server connection can die between uses (restarts, idle timeouts): check it out with a ping.
    kwargs.update(pool_pre_ping=True, pool_size=5, connect_args={"connect_timeout": 10})
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see create_database_engine)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN (execution option immediate=True), so a compare-and-set never
    # fails halfway on a read-to-write upgrade; readers stay deferred and never wait for a writer (WAL).
    immediate = conn.get_execution_options().get("immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def dialect_insert(conn: Connection, table: Table) -> Any:
    """INSERT with ON CONFLICT (do nothing / do update) in the connection's dialect: SQLite or PostgreSQL."""
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes: BEGIN IMMEDIATE on SQLite, so it waits for the lock (busy timeout)
    instead of failing with "database is locked" when it reads first and writes later."""
    with engine.connect() as conn:
        conn = conn.execution_options(immediate=True)
        with conn.begin():
            yield conn


def get_engine(url: str) -> Engine:
    """The one engine of this process for `url`, created on first use."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_database_engine(url)
        return engine


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def create_schema(engine: Engine) -> None:
    """Create missing tables; raise StoreError naming the database (password hidden) when unreachable."""
    try:
        Base.metadata.create_all(engine)
        _add_missing_columns(engine)
    except SQLAlchemyError as exc:
        raise StoreError(describe("cannot use the database", exc, engine.url, store_role())) from None


def _add_missing_columns(engine: Engine) -> None:
    """Additive migration: columns added to a model since the database was created are added in place."""
    existing = inspect(engine)
    with write_transaction(engine) as conn:
        for table in Base.metadata.sorted_tables:
            present = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    ddl = CreateColumn(column).compile(dialect=engine.dialect)
                    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))
                    logger.info("database migrated: added %s.%s", table.name, column.name)


def scrub(message: str, secret: str | None) -> str:
    """Remove a secret from a message that is about to be shown or logged."""
    return message.replace(secret, "***") if secret else message


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    message = str(orig).strip().splitlines()
    return message[0][:300] if message else type(orig).__name__
