"""Engines for SQLite (WAL, busy timeout), PostgreSQL and MariaDB/MySQL, and the schema created on start.

One engine per process, URL and timeout; errors name the database without its password. Server databases
get a connect timeout and a limit on each statement and lock wait: SOURCE_TIMEOUT_SECONDS for a source, the
store limits below for the app database (every statement there is one short transaction or one batch).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from app.core.failures import describe, store_role
from app.errors import StoreError
from app.redaction import redact_url, scrub

logger = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL: statement timeout, lock timeout; MariaDB: max_statement_time, lock wait; MySQL: max_execution_time.
TIMED_OUT_SQLSTATES = {"57014", "55P03"}
TIMED_OUT_MYSQL_ERRORS = {1205, 1969, 3024}
LOCK_WAITS = {"55P03", 1205}


@dataclass(frozen=True)
class Timeouts:
    """Bounds for connecting to a server database and for each statement and lock wait on it."""

    connect_seconds: float
    statement_seconds: float
    lock_seconds: float
    named: str  # what the user changes them by, for the messages


# The app database: a claim or status read takes milliseconds and a sync batch seconds; a statement past
# ten minutes (or a lock wait past one, e.g. behind a frozen process's transaction) is cancelled, not awaited.
STORE_TIMEOUTS = Timeouts(10.0, 600.0, 60.0, "the app database's limits")


def source_timeouts(seconds: float) -> Timeouts:
    return Timeouts(seconds, seconds, seconds, "SOURCE_TIMEOUT_SECONDS")


_engines: dict[tuple[str, float | None], Engine] = {}
_engines_lock = threading.Lock()


def create_database_engine(url: str, timeout_seconds: float | None = None) -> Engine:
    """A new engine; SQLite files get WAL, a busy timeout and their folder created. `timeout_seconds` (a
    source's SOURCE_TIMEOUT_SECONDS) bounds connecting and each statement; without it the store limits apply."""
    timeouts = STORE_TIMEOUTS if timeout_seconds is None else source_timeouts(timeout_seconds)
    engine = _create(url, timeouts)

    def as_store_error(context: Any) -> BaseException | None:
        return _as_store_error(context, timeouts)

    event.listen(engine, "handle_error", as_store_error)
    return engine


def _as_store_error(context: Any, timeouts: Timeouts) -> BaseException | None:
    """A database that cannot be reached or used becomes a StoreError naming it (password hidden); a
    statement cancelled by its time limit says so and names the limit.

    Constraint violations and programming errors keep their own type: callers handle those.
    """
    original = context.sqlalchemy_exception
    if not isinstance(original, (OperationalError, InterfaceError)) or context.engine is None:
        return None
    url = context.engine.url
    where = redact_url(url.render_as_string(hide_password=False))
    orig = getattr(original, "orig", None) or original
    detail = scrub(_first_line(original), [url.password or ""])
    if timed_out(orig):
        lock = getattr(orig, "sqlstate", None) in LOCK_WAITS or getattr(orig, "args", (None,))[:1] == (1205,)
        what, limit = ("a lock wait", timeouts.lock_seconds) if lock else ("a statement", timeouts.statement_seconds)
        return StoreError(
            f"{what} on the database {where} was cancelled after {limit:g} s "
            f"({timeouts.named}; {type(orig).__name__}: {detail})"
        )
    return StoreError(describe("cannot use the database", original, url, store_role()))


def timed_out(error: BaseException) -> bool:
    """Whether a driver error is a statement or lock wait cancelled by its time limit."""
    if getattr(error, "sqlstate", None) in TIMED_OUT_SQLSTATES:
        return True
    args: tuple[Any, ...] = getattr(error, "args", ())
    return bool(args) and args[0] in TIMED_OUT_MYSQL_ERRORS


def lost_connection(error: BaseException) -> bool:
    """Whether a StoreError comes from a connection lost mid-use (a server restart, a failover, a killed
    backend): the driver's OperationalError or InterfaceError on a server database, worth one more try on a
    fresh connection. A statement or lock wait cancelled by its limit, and SQLite, are not."""
    cause = error.__cause__
    if not isinstance(error, StoreError) or cause is None or type(cause).__module__.startswith("sqlite3"):
        return False
    kinds = {klass.__name__ for klass in type(cause).__mro__}
    return bool(kinds & {"OperationalError", "InterfaceError"}) and not timed_out(cause)


def _create(url: str, timeouts: Timeouts) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
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
    if backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": max(2, math.ceil(timeouts.connect_seconds))}  # libpq: >= 2
    elif backend in ("mysql", "mariadb"):
        # The client's read limit (which also bounds the server's greeting) is a backstop past the server's
        # own statement limit, which gives the clearer error.
        client = math.ceil(timeouts.statement_seconds * 1.5)
        kwargs["connect_args"] = {
            "connect_timeout": max(1, math.ceil(timeouts.connect_seconds)),
            "read_timeout": client,
            "write_timeout": client,
        }
    engine = create_engine(url, **kwargs)
    if backend == "postgresql":
        event.listen(engine, "connect", lambda conn, _record: _postgres_limits(conn, timeouts))
    elif backend in ("mysql", "mariadb"):
        event.listen(engine, "connect", lambda conn, _record: _mysql_limits(conn, timeouts))
    return engine


def _postgres_limits(dbapi_conn: Any, timeouts: Timeouts) -> None:
    # SET after connecting rather than a startup `options` parameter, which poolers like PgBouncer refuse.
    cursor = dbapi_conn.cursor()
    cursor.execute(f"SET statement_timeout = {math.ceil(timeouts.statement_seconds * 1000)}")
    cursor.execute(f"SET lock_timeout = {math.ceil(timeouts.lock_seconds * 1000)}")
    cursor.close()
    dbapi_conn.commit()


def _mysql_limits(dbapi_conn: Any, timeouts: Timeouts) -> None:
    cursor = dbapi_conn.cursor()
    try:
        if "mariadb" in str(dbapi_conn.get_server_info()).lower():
            cursor.execute(f"SET SESSION max_statement_time = {timeouts.statement_seconds:g}")
        else:  # MySQL bounds SELECTs only; the client's read timeout bounds the rest
            cursor.execute(f"SET SESSION max_execution_time = {math.ceil(timeouts.statement_seconds * 1000)}")
        cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {max(1, math.ceil(timeouts.lock_seconds))}")
    except dbapi_conn.Error:  # an old server without these variables: the client's read timeout still holds
        logger.debug("statement limits not set on this MySQL server", exc_info=True)
    finally:
        cursor.close()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see create_database_engine)
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so; a file already in WAL is only read). The switch needs the file to
    itself, and SQLite answers "database is locked" at once, without waiting out the busy timeout, when
    another connection holds a write lock meanwhile (replicas creating one fresh file together): the switch is
    retried for up to the busy timeout."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    retrying = Retrying(
        stop=stop_after_delay(SQLITE_BUSY_TIMEOUT_MS / 1000),
        wait=wait_random_exponential(multiplier=0.005, max=0.1),
        retry=retry_if_exception(_locked),
        sleep=_wait,
        reraise=True,
    )
    retrying(cursor.execute, "PRAGMA journal_mode=WAL")


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower()


_pause = threading.Event().wait  # the wait between two tries of the WAL switch: never set (tests replace it)


def _wait(seconds: float) -> None:
    _pause(seconds)


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


def get_engine(url: str, timeout_seconds: float | None = None) -> Engine:
    """The one engine of this process for `url`, created on first use; a source passes its
    SOURCE_TIMEOUT_SECONDS (see `create_database_engine`)."""
    with _engines_lock:
        engine = _engines.get((url, timeout_seconds))
        if engine is None:
            engine = _engines[url, timeout_seconds] = create_database_engine(url, timeout_seconds)
        return engine


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def create_schema(engine: Engine) -> None:
    """Bring the schema to the current revision (Alembic, under a database lock: see app.core.migrations);
    raise StoreError naming the database (password hidden) when unreachable."""
    from app.core import migrations  # alembic is imported only by what migrates

    try:
        migrations.upgrade(engine)
    except SQLAlchemyError as exc:
        raise StoreError(describe("cannot use the database", exc, engine.url, store_role())) from None


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    message = str(orig).strip().splitlines()
    return message[0][:300] if message else type(orig).__name__
