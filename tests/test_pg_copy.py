"""PostgreSQL's COPY store path (app/sync/copy_writer.py): it is the path taken, it keeps every type exact, and
it keeps exactly-once (a batch that fails, a zombie's batch and a failed merge leave no rows and no cursor move)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine, Table, create_engine, text

from app.clock import FrozenClock
from app.core.database import create_schema, get_engine
from app.errors import LeaseLostError, StoreError
from app.sync import destination as destination_module
from app.sync.copy_writer import CopyWriter, StoreColumn
from app.sync.destination import Destination
from app.sync.engine import Syncer, reset_cursor
from app.sync.source import Batch, Cursor, SqlTableSource
from tests.test_types_matrix import CASES, SourceCase, assert_store_equals

T0 = datetime(2026, 1, 1, 9, 0)
BATCH = 10


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The COPY statements the store's psycopg cursors run."""
    seen: list[str] = []
    original = psycopg.Cursor.copy

    def spy(self: psycopg.Cursor[Any], statement: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(statement))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    return seen


def staged(copies: list[str]) -> list[str]:
    return [c for c in copies if "pg_temp.fd_stage_" in c]


def direct(copies: list[str], table: str = "orders") -> list[str]:
    return [c for c in copies if c.startswith((f"COPY {table} ", f'COPY "{table}" '))]


def make_source(url: str, rows: int) -> Engine:
    source = create_engine(url)
    with source.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE src_orders (id bigint PRIMARY KEY, updated_at timestamp NOT NULL, "
                "amount numeric(12,2), quantity integer, status varchar(20), flag boolean)"
            )
        )
        add(conn, range(1, rows + 1), T0)
    return source


def add(conn: Connection, ids: range, at: datetime) -> None:
    conn.execute(
        text(
            "INSERT INTO src_orders VALUES (:id, :at, :amount, :q, 'placed', :flag) ON CONFLICT (id) DO UPDATE "
            "SET updated_at = excluded.updated_at, amount = excluded.amount, status = 'changed'"
        ),
        [
            {"id": i, "at": at + timedelta(seconds=i), "amount": Decimal(i) / 4, "q": i % 7, "flag": i % 2 == 0}
            for i in ids
        ],
    )


def store_for(url: str) -> Engine:
    store = get_engine(url)
    create_schema(store)
    return store


def engine_for(store: Engine, source: Engine, **kwargs: Any) -> Syncer:
    return Syncer(store, SqlTableSource(source, "src_orders"), "orders", FrozenClock(), "orders", **kwargs)


def stored(store: Engine) -> list[tuple[Any, ...]]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM orders ORDER BY id"))]


def source_rows(source: Engine) -> list[tuple[Any, ...]]:
    with source.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM src_orders ORDER BY id"))]


def test_a_first_load_copies_into_the_table_and_later_runs_merge_from_a_staging_table(
    pg_url: str, copies: list[str]
) -> None:
    source, store = make_source(pg_url, 35), store_for(pg_url)
    first = engine_for(store, source).run(BATCH)
    assert (first.rows, first.inserted, first.updated, first.batches) == (35, 35, 0, 4)
    assert len(direct(copies)) == 4 and not staged(copies)  # an empty table: COPY straight into it
    assert stored(store) == source_rows(source)
    with source.begin() as conn:
        add(conn, range(30, 46), T0 + timedelta(hours=1))  # 6 updated, 10 new
    second = engine_for(store, source).run(BATCH)
    assert (second.rows, second.inserted, second.updated) == (16, 10, 6)
    assert len(staged(copies)) == 2 and len(direct(copies)) == 4
    assert all("FORMAT BINARY" in c for c in copies)
    assert stored(store) == source_rows(source)


def test_without_the_copy_path_no_copy_runs(pg_url: str, copies: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The control of the test above: the row-by-row upsert gives the same rows and counts without any COPY."""
    source, store = make_source(pg_url, 15), store_for(pg_url)
    engine = engine_for(store, source)
    engine.destination.copy_enabled = False
    result = engine.run(BATCH)
    assert (result.rows, result.inserted) == (15, 15) and copies == []
    assert stored(store) == source_rows(source)


def test_a_resync_through_staging_updates_every_row_and_counts_no_insert(pg_url: str, copies: list[str]) -> None:
    source, store = make_source(pg_url, 25), store_for(pg_url)
    engine_for(store, source).run(BATCH)
    reset_cursor(store, "orders", T0)
    again = engine_for(store, source).run(BATCH)
    assert (again.rows, again.inserted, again.updated) == (25, 0, 25)
    assert len(staged(copies)) == 3
    assert stored(store) == source_rows(source)


@pytest.mark.parametrize("source_kind", list(CASES))
def test_every_common_type_goes_through_copy_exactly(
    source_kind: str, request: pytest.FixtureRequest, tmp_path: Any, pg_url: str, copies: list[str]
) -> None:
    if source_kind == "postgresql":
        url = pg_url
    elif source_kind == "mariadb":
        url = request.getfixturevalue("mariadb_url")
    else:
        url = f"sqlite:///{tmp_path / 'typed_source.db'}"
    case: SourceCase = CASES[source_kind](url)
    store = store_for(pg_url)
    source = case.create()
    result = Syncer(store, SqlTableSource(source, case.table), "typed", FrozenClock(), "typed").run(2)
    assert (result.rows, result.inserted) == (case.rows, case.rows)
    # Both batches through COPY: straight into the empty table, or staged when a column is cast from its text
    # form by the merge (json, arrays, uuid, inet ...).
    assert len(copies) == 2
    assert_store_equals(store, case)
    reset_cursor(store, "typed", T0)  # again through the staging table: the merge keeps them equal too
    again = Syncer(store, SqlTableSource(source, case.table), "typed", FrozenClock(), "typed").run(2)
    assert (again.inserted, again.updated) == (0, case.rows)
    assert len(staged(copies[2:])) == 2 == len(copies) - 2
    assert_store_equals(store, case)


def test_a_batch_whose_transaction_fails_after_the_copy_leaves_no_rows_and_no_cursor_move(
    pg_url: str, copies: list[str]
) -> None:
    calls = [0]

    @contextmanager
    def failing_second(conn: Connection, table: Table, batch: Batch) -> Iterator[None]:
        calls[0] += 1
        yield
        if calls[0] == 2:
            raise StoreError("the summary failed")

    source, store = make_source(pg_url, 30), store_for(pg_url)
    with pytest.raises(StoreError, match="the summary failed"):
        engine_for(store, source, around_batch=failing_second).run(BATCH)
    assert len(direct(copies)) == 2  # the second batch was COPYed, then rolled back with its transaction
    assert [r[0] for r in stored(store)] == list(range(1, 11))
    assert engine_for(store, source).read_cursor()[1] == 1
    result = engine_for(store, source).run(BATCH)  # the next run catches up
    assert (result.rows, result.inserted) == (20, 20)
    assert stored(store) == source_rows(source)


def test_a_zombie_writes_nothing_through_copy(pg_url: str, copies: list[str]) -> None:
    """Another run moved the cursor (a takeover): the zombie's next batch fails its compare-and-set; a fenced
    guard refuses it too. Neither leaves a row behind."""
    source, store = make_source(pg_url, 30), store_for(pg_url)
    zombie = engine_for(store, source)

    def taken_over(rows: int, _message: str) -> None:
        if rows == BATCH:
            engine_for(store, source).run(BATCH)  # the new owner copies everything

    with pytest.raises(LeaseLostError):
        zombie.run(BATCH, progress=taken_over)
    assert stored(store) == source_rows(source)
    with source.begin() as conn:
        add(conn, range(31, 41), T0 + timedelta(hours=1))
    fenced = [0]

    def guard(conn: Connection) -> None:
        fenced[0] += 1
        raise LeaseLostError("fenced")

    before = len(copies)
    with pytest.raises(LeaseLostError):
        engine_for(store, source).run(BATCH, guard=guard)
    assert fenced[0] == 1 and len(copies) == before
    assert [r[0] for r in stored(store)][-1] == 30


def test_a_failed_merge_leaves_no_rows_and_no_cursor_move(pg_url: str, copies: list[str]) -> None:
    source, store = make_source(pg_url, 20), store_for(pg_url)
    engine_for(store, source).run(BATCH)
    with store.begin() as conn:
        conn.execute(text("ALTER TABLE orders ADD CONSTRAINT small CHECK (amount < 100)"))
    with source.begin() as conn:
        add(conn, range(15, 25), T0 + timedelta(hours=1))
        conn.execute(text("UPDATE src_orders SET amount = 500 WHERE id = 24"))
    before, version = stored(store), engine_for(store, source).read_cursor()
    with pytest.raises(StoreError, match="small"):
        engine_for(store, source).run(BATCH)
    assert len(staged(copies)) == 1  # merged from the staging table, refused by the constraint
    assert stored(store) == before and engine_for(store, source).read_cursor() == version


def test_a_failed_direct_copy_leaves_no_rows_and_no_cursor_move(pg_url: str, copies: list[str]) -> None:
    source, store = make_source(pg_url, 20), store_for(pg_url)
    engine = engine_for(store, source)
    engine.table()
    with store.begin() as conn:
        conn.execute(text("ALTER TABLE orders ADD CONSTRAINT small CHECK (amount < 4)"))
    with pytest.raises(StoreError, match="small"):
        engine.run(BATCH)  # ids 1..10 fit (amount <= 2.5); 11..20 do not
    assert len(direct(copies)) == 2
    assert [r[0] for r in stored(store)] == list(range(1, 11))
    assert engine_for(store, source).read_cursor()[1] == 1


def test_keys_twice_in_a_batch_are_written_row_by_row_last_one_wins(pg_url: str) -> None:
    store = store_for(pg_url)
    with store.begin() as conn:
        conn.execute(text("CREATE TABLE orders (id bigint PRIMARY KEY, status text)"))
        conn.execute(text("INSERT INTO orders VALUES (1, 'old')"))
    from sqlalchemy import BigInteger, Column, Text

    destination = Destination(store, "orders", "id", None)
    destination.prepare([Column("id", BigInteger, primary_key=True), Column("status", Text)])
    batch = Batch(("id", "status"), [(1, "a"), (2, "b"), (1, "c")], Cursor(None, 1))
    with store.begin() as conn:
        assert destination.write(conn, batch) == (1, 2)
    assert stored(store) == [(1, "c"), (2, "b")]


def column(name: str, oid: int) -> StoreColumn:
    return StoreColumn(name, oid, False)


@pytest.mark.parametrize(
    ("oid", "fits", "misfits"),
    [
        (16, [True, None], [1, "t"]),  # a bool's binary dumper takes any truthy value
        (23, [2**31 - 1, -(2**31), None], [2**31, True]),  # an int4 dumper wraps a wider int
        (21, [2**15 - 1], [2**15]),
        (20, [2**63 - 1], [2**63, False]),
        (1083, [None], [timedelta(hours=1)]),
        (1700, [Decimal("1.5"), 3], [1.5]),
    ],
)
def test_values_a_binary_dumper_would_change_are_declined(oid: int, fits: list[Any], misfits: list[Any]) -> None:
    writer = CopyWriter('"t"', [column("id", 20), column("v", oid)], ["id"], lambda n: f'"{n}"', str, False)
    assert writer.fits([(1, v) for v in fits])
    for value in misfits:
        assert not writer.fits([(1, fits[0]), (2, value)]), value


def test_a_value_of_another_python_type_is_written_row_by_row_not_changed(pg_url: str, copies: list[str]) -> None:
    """A text column given an int (the dumper refuses it): the row-by-row upsert writes it as PostgreSQL casts it."""
    store = store_for(pg_url)
    from sqlalchemy import BigInteger, Column, Text

    destination = Destination(store, "orders", "id", None)
    destination.prepare([Column("id", BigInteger, primary_key=True), Column("status", Text)])
    with store.begin() as conn:
        written = destination.write(conn, Batch(("id", "status"), [(1, 5)], Cursor(None, 1)))
    assert written == (1, 0) and len(copies) == 1
    assert stored(store) == [(1, "5")]


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_the_cursor_index_exists_before_the_first_batch(store_kind: str, pg_url: str, tmp_path: Any) -> None:
    """Pages reading "latest changes first" have their index even during a first load."""
    source = make_source(pg_url, 5)
    store = store_for(pg_url if store_kind == "postgresql" else f"sqlite:///{tmp_path / 'store.db'}")
    seen: list[list[str]] = []

    @contextmanager
    def look(conn: Connection, table: Table, batch: Batch) -> Iterator[None]:
        from sqlalchemy import inspect

        seen.append([ix["name"] for ix in inspect(conn).get_indexes("orders")])
        yield

    engine_for(store, source, around_batch=look).run(2)
    assert len(seen) == 3 and all("ix_orders_updated_at" in names for names in seen)
    assert destination_module.INDEX_DURING_FIRST_LOAD


def test_keys_already_in_a_table_that_was_empty_are_merged_not_duplicated(pg_url: str, copies: list[str]) -> None:
    """The direct COPY is optimistic: a key already stored makes it roll back to its savepoint and merge."""
    source, store = make_source(pg_url, 20), store_for(pg_url)
    engine = engine_for(store, source)
    engine.table()  # empty when prepared
    with store.begin() as conn:
        conn.execute(text("INSERT INTO orders (id, updated_at, status) VALUES (5, '2000-01-01', 'stale')"))
    result = engine.run(BATCH)
    assert (result.inserted, result.updated) == (19, 1)
    assert len(direct(copies)) == 1 and len(staged(copies)) == 2  # tried once, merged from then on
    assert stored(store) == source_rows(source)


def test_sqlite_datetime_text_is_the_same_as_sqlalchemys() -> None:
    """The faster DATETIME encoder of a SQLite store writes exactly SQLAlchemy's text (and defers the rest)."""
    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    impl = DateTime().dialect_impl(dialect)
    slow = impl.bind_processor(dialect)
    assert slow is not None
    fast = destination_module._faster(impl, slow)
    assert fast is not slow
    aware = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=-3)))
    for value in (datetime(2026, 2, 1, 9, 0, 0, 123456), datetime(1, 1, 1), datetime(2026, 1, 1), aware, None):
        assert fast(value) == slow(value), value
    # A whole column at C speed when it is all naive datetimes, value by value otherwise: the same text.
    column = destination_module._column_encoder(impl, slow, dialect)
    naive = [datetime(2026, 2, 1, 9, 0, 0, 123456), datetime(1, 1, 1), datetime(2026, 1, 1, 0, 0, 0, 1)]
    for values in (naive, [*naive, None], [*naive, aware]):
        assert list(column(values)) == [slow(v) for v in values], values


def test_sqlite_booleans_are_stored_as_sqlalchemy_stores_them(tmp_path: Any) -> None:
    """A column of Python booleans passes to sqlite3 unchanged (bound as 1 and 0, the integers SQLAlchemy's
    processor makes); anything else still goes through the processor, which refuses what is not a boolean."""
    import sqlite3

    from sqlalchemy import Boolean
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    impl = Boolean().dialect_impl(dialect)
    slow = impl.bind_processor(dialect)
    assert slow is not None
    column = destination_module._column_encoder(impl, slow, dialect)
    values = [True, False, None]
    con = sqlite3.connect(tmp_path / "b.db")
    con.execute("CREATE TABLE t (n INTEGER, fast BOOLEAN, slow BOOLEAN)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", zip(range(3), column(values), map(slow, values), strict=True))
    found = con.execute("SELECT fast, typeof(fast), slow, typeof(slow) FROM t ORDER BY n").fetchall()
    assert found == [(1, "integer", 1, "integer"), (0, "integer", 0, "integer"), (None, "null", None, "null")]
    with pytest.raises(TypeError):
        column([True, "yes"])


def test_a_first_load_analyzes_the_table_as_it_grows_so_pages_plan_with_statistics(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without statistics PostgreSQL plans a range as a third of the table (a sequential scan during a long first
    load): the load analyzes the table when it passes each ANALYZE_AT_ROWS count; a later run does not."""
    monkeypatch.setattr(destination_module, "ANALYZE_AT_ROWS", (4, 8, 1000))
    source = make_source(pg_url, 9)
    store = store_for(pg_url)
    seen: list[float] = []

    @contextmanager
    def look(conn: Connection, table: Table, batch: Batch) -> Iterator[None]:
        seen.append(float(conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'orders'")).scalar()))
        yield

    engine_for(store, source, around_batch=look).run(2)  # batches of 2: analyzed after 4 and 8 rows
    assert seen == [-1.0, -1.0, 4.0, 4.0, 8.0]  # -1: never analyzed (PostgreSQL 14+)
    with source.begin() as conn:
        add(conn, range(10, 20), T0 + timedelta(hours=1))
    seen.clear()
    engine_for(store, source, around_batch=look).run(2)  # not a first load: nothing analyzed
    assert seen == [8.0] * 5  # as analyzed after 8 of the first 9 rows


def test_a_failed_run_gives_back_its_source_connection_while_its_error_is_kept(pg_url: str) -> None:
    """A walk of the source holds one connection: a run that fails mid-walk closes the walk, so the error kept
    by the caller (its traceback holds the run's frame) does not keep that connection checked out."""
    source, store = make_source(pg_url, 30), store_for(pg_url)

    def guard(conn: Connection) -> None:
        raise LeaseLostError("fenced")

    with pytest.raises(LeaseLostError) as caught:
        engine_for(store, source).run(BATCH, guard=guard)
    assert caught.value.__traceback__ is not None  # the error and its frames are still alive here
    assert source.pool.checkedout() == 0  # type: ignore[attr-defined]
