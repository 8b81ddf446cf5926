"""Every SQL call has a deadline (issue 9): a source's SOURCE_TIMEOUT_SECONDS bounds connecting, each statement
and each lock wait on PostgreSQL and MariaDB; the app database has its own statement and lock limits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from app.core.database import STORE_TIMEOUTS, create_database_engine, get_engine
from app.errors import StoreError


def test_a_postgres_source_statement_is_cancelled_at_source_timeout_seconds(pg_url: str) -> None:
    engine = create_database_engine(pg_url, timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(StoreError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(30)"))
    elapsed = time.monotonic() - started
    engine.dispose()
    assert elapsed < 2 * 1.0, f"a 1 s statement limit held the query {elapsed:.2f} s"
    assert "was cancelled after 1 s (SOURCE_TIMEOUT_SECONDS" in str(caught.value)


def test_a_raw_driver_cursor_is_bounded_too(pg_url: str) -> None:
    """The SQL source reads through the driver's own cursor: the limit is the session's, not SQLAlchemy's."""
    engine = create_database_engine(pg_url, timeout_seconds=1)
    started = time.monotonic()
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with pytest.raises(engine.dialect.loaded_dbapi.Error, match="statement timeout"):
            cursor.execute("SELECT pg_sleep(30)")
    engine.dispose()
    assert time.monotonic() - started < 2.0


def test_a_postgres_lock_wait_is_bounded(pg_url: str) -> None:
    store = get_engine(pg_url)
    with store.begin() as conn:
        conn.execute(text("CREATE TABLE t (id int primary key, v int)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0)"))
    source = create_database_engine(pg_url, timeout_seconds=1)
    with store.connect() as holder:
        holder.execute(text("BEGIN"))
        holder.execute(text("SELECT * FROM t WHERE id = 1 FOR UPDATE"))  # a transaction that never ends
        started = time.monotonic()
        with pytest.raises(StoreError, match="(lock wait|statement) on the database .* was cancelled after 1 s"):
            with source.begin() as conn:
                conn.execute(text("UPDATE t SET v = 1 WHERE id = 1"))
        assert time.monotonic() - started < 2.0
        holder.execute(text("ROLLBACK"))
    source.dispose()


def test_the_app_database_gets_its_own_limits(pg_url: str) -> None:
    with get_engine(pg_url).connect() as conn:
        statement = conn.execute(text("SHOW statement_timeout")).scalar()
        lock = conn.execute(text("SHOW lock_timeout")).scalar()
    assert (statement, lock) == ("10min", "1min")
    assert (STORE_TIMEOUTS.statement_seconds, STORE_TIMEOUTS.lock_seconds) == (600.0, 60.0)


def test_a_mariadb_source_statement_is_cancelled_at_source_timeout_seconds(mariadb_url: str) -> None:
    engine = create_database_engine(mariadb_url, timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(StoreError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT SLEEP(30)"))
    elapsed = time.monotonic() - started
    engine.dispose()
    assert elapsed < 2 * 1.0, f"a 1 s statement limit held the query {elapsed:.2f} s"
    assert "was cancelled after 1 s (SOURCE_TIMEOUT_SECONDS" in str(caught.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung server, a black-hole proxy)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.parametrize(
    ("url", "bound"),
    [
        ("postgresql+psycopg://u@127.0.0.1:{port}/db", 2.0),  # libpq's least connect_timeout is 2 s
        ("mysql+pymysql://u@127.0.0.1:{port}/db", 2.0),  # the greeting is read with the 1.5x read limit, 2 s
    ],
    ids=["postgresql", "mariadb"],
)
def test_connecting_to_a_silent_server_gives_up_at_the_timeout(silent_server: int, url: str, bound: float) -> None:
    engine = create_database_engine(url.format(port=silent_server), timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(StoreError, match="cannot use the database"), engine.connect():
        pass
    elapsed = time.monotonic() - started
    engine.dispose()
    assert elapsed < 2 * bound, f"connecting held {elapsed:.2f} s"


def test_the_configured_sql_source_gets_source_timeout_seconds(pg_url: str, make_settings: Any) -> None:
    from app.clock import FrozenClock
    from app.jobs.datasets import build_source

    settings = make_settings(
        pg_url, SYNC_SOURCE="sql", SOURCE_URL=pg_url, SOURCE_TABLE="orders", SOURCE_TIMEOUT_SECONDS="7"
    )
    source = build_source(settings, settings.datasets[0], FrozenClock())
    with source.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "7s"
        assert conn.execute(text("SHOW lock_timeout")).scalar() == "7s"


def test_a_lease_renewal_that_waits_past_the_lock_limit_does_not_end_the_run(pg_url: str, make_settings: Any) -> None:
    """The job's own write holds its job row (the guard) longer than the lock limit: the renewal beside it
    gives up, is retried at the next beat, and the run still ends normally."""
    from app.clock import SystemClock
    from app.core.database import write_transaction
    from app.core.runner import RunContext
    from app.core.scheduler import SyncScheduler
    from tests.support import job

    engine = create_database_engine(pg_url, timeout_seconds=0.5)  # lock waits give up after 0.5 s

    def long_write(ctx: RunContext) -> dict[str, Any]:
        with write_transaction(engine) as conn:
            ctx.guard(conn)  # locks the job row until this transaction ends
            threading.Event().wait(2.0)
        return {"rows": 1}

    settings = make_settings(pg_url, lease_seconds=1.5)  # a renewal every 0.5 s: several meet the lock
    s = SyncScheduler(settings=settings, engine=engine, clock=SystemClock(), jobs=[job("slow", long_write)])
    outcomes = s.tick()
    assert [o.status.value for o in outcomes] == ["success"]
