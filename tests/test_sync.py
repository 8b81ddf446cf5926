"""Invariant 3: data and cursor commit together; the store equals the source after any sequence of changes."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)

from app.clock import FrozenClock
from app.core.database import create_schema, get_engine
from app.errors import LeaseLostError, SourceError, StoreError
from app.sync.engine import CursorMovedError, Syncer
from app.sync.source import Batch, Cursor, SqlTableSource

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 2, 1, 9, 0)
T1 = T0 + timedelta(hours=1)


def source_table(metadata: MetaData) -> Table:
    return Table(
        "src_orders",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("updated_at", DateTime, nullable=False),
        Column("customer", String(40)),
        Column("amount", Float),
        Column("deleted", Boolean, default=False),
    )


class World:
    """A real source database and a real store, with helpers to change the source and compare."""

    def __init__(self, source_url: str, store_url: str, batch_size: int = 100) -> None:
        self.source = create_engine(source_url)
        self.metadata = MetaData()
        self.table = source_table(self.metadata)
        self.metadata.create_all(self.source)
        self.store = get_engine(store_url)
        create_schema(self.store)
        self.batch_size = batch_size
        self.clock = FrozenClock()
        self.next_id = 1

    def engine(self) -> Syncer:
        return Syncer(self.store, SqlTableSource(self.source, "src_orders"), "orders", self.clock, "sync")

    def add(self, count: int, at: datetime) -> None:
        if count == 0:
            return
        rows = [
            {"id": self.next_id + i, "updated_at": at, "customer": f"c{i % 7}", "amount": float(i), "deleted": False}
            for i in range(count)
        ]
        self.next_id += count
        with self.source.begin() as conn:
            conn.execute(insert(self.table), rows)

    def touch(self, ids: list[int], at: datetime, **values: Any) -> None:
        with self.source.begin() as conn:
            conn.execute(update(self.table).where(self.table.c.id.in_(ids)).values(updated_at=at, **values))

    def checksum(self, engine: Engine, name: str) -> tuple[int, str]:
        table = Table(name, MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).all()
        digest = hashlib.sha256()
        for row in rows:
            r = row._mapping
            digest.update(f"{r['id']}|{r['updated_at']}|{r['customer']}|{r['amount']}|{bool(r['deleted'])}".encode())
        return len(rows), digest.hexdigest()

    def assert_equal(self) -> None:
        assert self.checksum(self.store, "orders") == self.checksum(self.source, "src_orders")

    def close(self) -> None:
        self.source.dispose()


@pytest.fixture(params=["pg-source", "sqlite-source", "mariadb-source"])
def world(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Any:
    if request.param == "pg-source":
        source_url = request.getfixturevalue("pg_url") if "postgresql" not in db_url else db_url
    elif request.param == "mariadb-source":
        source_url = request.getfixturevalue("mariadb_url")
    else:
        source_url = f"sqlite:///{tmp_path / 'source.db'}"
    w = World(source_url, db_url)
    yield w
    w.close()


def test_store_equals_source_after_inserts_updates_and_soft_deletes(world: World) -> None:
    world.add(350, T0)
    result = world.engine().run(world.batch_size)
    assert (result.rows, result.inserted, result.updated, result.batches) == (350, 350, 0, 4)
    world.assert_equal()
    world.add(40, T0 + timedelta(minutes=1))
    world.touch([3, 5, 200], T0 + timedelta(minutes=2), amount=999.0)
    world.touch([7], T0 + timedelta(minutes=2), deleted=True)
    result = world.engine().run(world.batch_size)
    assert (result.rows, result.inserted, result.updated) == (44, 40, 4)
    world.assert_equal()
    assert world.engine().run(world.batch_size).rows == 0


def test_rows_sharing_one_timestamp_across_a_batch_boundary_are_never_skipped(world: World) -> None:
    world.add(250, T0)  # 250 rows, one updated_at, batches of 100
    engine = world.engine()
    first = engine.run(world.batch_size)
    assert first.rows == 250 and first.batches == 3
    world.add(30, T0)  # late rows with the same timestamp but higher keys
    assert engine.run(world.batch_size).rows == 30
    world.assert_equal()


def test_a_zombie_run_rolls_back_its_batch_and_the_cursor_stays(world: World) -> None:
    world.add(120, T0)

    def fenced_out(conn: Connection) -> None:
        raise LeaseLostError("lease taken over")

    with pytest.raises(LeaseLostError):
        world.engine().run(world.batch_size, guard=fenced_out)
    assert world.engine().read_cursor() == (None, 0)
    with world.store.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(Table("orders", MetaData(), autoload_with=conn))).scalar()
            == 0
        )
    world.engine().run(world.batch_size)
    world.assert_equal()


def test_a_duplicate_run_with_a_stale_cursor_cannot_write(world: World) -> None:
    world.add(50, T0)
    stale = world.engine()
    stale.table()
    world.engine().run(world.batch_size)  # another run commits first
    world.touch([1], T0 + timedelta(minutes=1), amount=-1.0)
    row = (1, T0, "x", 0.0, False)
    batch = Batch(("id", "updated_at", "customer", "amount", "deleted"), [row], Cursor(T0, 1))
    with pytest.raises(CursorMovedError):
        stale._commit(batch, 0, None)  # it still believes the cursor is at version 0
    with world.store.connect() as conn:  # its row rolled back with the failed compare-and-set
        assert conn.exec_driver_sql("SELECT customer FROM orders WHERE id = 1").scalar() == "c0"
    world.engine().run(world.batch_size)
    world.assert_equal()


def test_a_batch_that_fails_after_its_rows_leaves_the_cursor_where_it_was(world: World) -> None:
    """Data and cursor share ONE transaction: a failure late in the batch takes both back."""
    world.add(30, T0)

    @contextmanager
    def fails_after_the_write(conn: Connection, table: Table, batch: Batch) -> Iterator[None]:
        yield
        raise StoreError("the disk filled up")

    engine = Syncer(
        world.store, SqlTableSource(world.source, "src_orders"), "orders", world.clock, "sync", fails_after_the_write
    )
    with pytest.raises(StoreError):
        engine.run(world.batch_size)
    assert world.engine().read_cursor() == (None, 0)
    with world.store.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0


def test_malformed_rows_are_refused_whole_with_a_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    source_url = f"sqlite:///{tmp_path / 'loose.db'}"
    loose = create_engine(source_url)
    with loose.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE src_orders (id INTEGER, updated_at TIMESTAMP, amount FLOAT)")
        conn.exec_driver_sql("INSERT INTO src_orders VALUES (1, '2026-02-01 09:00:00', 1.0)")
        conn.exec_driver_sql("INSERT INTO src_orders VALUES (NULL, '2026-02-01 09:00:01', 2.0)")
    store = get_engine(sqlite_url)
    create_schema(store)
    engine = Syncer(store, SqlTableSource(loose, "src_orders"), "orders", FrozenClock(), "sync")
    with pytest.raises(SourceError, match="without its key 'id'"):
        engine.run(100)
    assert engine.read_cursor() == (None, 0)
    loose.dispose()


def test_source_down_gives_a_clear_error_without_the_password(sqlite_url: str) -> None:
    store = get_engine(sqlite_url)
    create_schema(store)
    down = get_engine("postgresql+psycopg://reader:s3cr3t@127.0.0.1:1/src")  # as build_source makes it
    engine = Syncer(store, SqlTableSource(down, "orders"), "orders", FrozenClock(), "sync")
    with pytest.raises(SourceError) as caught:
        engine.run(100)
    assert "cannot reach the source postgresql+psycopg://reader:***@127.0.0.1:1/src" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def stored_columns(world: World) -> dict[str, Any]:
    return {c["name"]: c["type"] for c in inspect(world.store).get_columns("orders")}


def test_a_column_the_source_gains_is_added_to_the_destination_in_place(world: World) -> None:
    world.add(30, T0)
    world.engine().run(world.batch_size)
    with world.source.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE src_orders ADD COLUMN channel VARCHAR(20)")
        touch = text("UPDATE src_orders SET channel = 'web', updated_at = :at WHERE id <= 3")
        conn.execute(touch.bindparams(bindparam("at", type_=DateTime)), {"at": T1})
    result = world.engine().run(world.batch_size)
    assert (result.rows, result.inserted, result.updated) == (3, 0, 3)
    assert "channel" in stored_columns(world)
    world.assert_equal()  # the other columns and rows are untouched
    with world.store.connect() as conn:
        channels = dict(conn.exec_driver_sql("SELECT id, channel FROM orders WHERE id <= 4").all())
    assert channels == {1: "web", 2: "web", 3: "web", 4: None}


def test_a_changed_column_type_or_a_removed_column_is_refused_with_a_clear_message(world: World) -> None:
    world.add(20, T0)
    world.engine().run(world.batch_size)
    world.table.drop(world.source)
    changed = Table(
        "src_orders",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("updated_at", DateTime, nullable=False),
        Column("customer", String(40)),
        Column("amount", String(20)),  # was a Float; "deleted" is gone
    )
    changed.create(world.source)
    with world.source.begin() as conn:
        conn.execute(insert(changed), [{"id": 99, "updated_at": T1, "customer": "x", "amount": "1.5"}])
    before = world.engine().read_cursor()
    with pytest.raises(SourceError) as caught:
        world.engine().run(world.batch_size)
    message = str(caught.value)
    assert "column 'deleted' is in 'orders' but no longer in the source" in message
    assert re.search(r"column 'amount' is (FLOAT|DOUBLE[A-Z ]*) in 'orders' but VARCHAR\(20\) in the source", message)
    assert "python -m app resync" in message
    assert world.engine().read_cursor() == before
    assert set(stored_columns(world)) == {"id", "updated_at", "customer", "amount", "deleted"}


def test_the_destination_indexes_its_cursor_column_after_the_first_load(world: World) -> None:
    world.add(250, T0)
    world.engine().run(world.batch_size)
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(world.store).get_indexes("orders")}
    assert indexes == {"ix_orders_updated_at": ["updated_at"]}
    with world.store.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_orders_updated_at")
    world.engine().run(world.batch_size)  # nothing new to read: the index still comes back
    assert [ix["name"] for ix in inspect(world.store).get_indexes("orders")] == ["ix_orders_updated_at"]


def test_new_keys_below_the_largest_stored_key_are_counted_as_inserts(world: World) -> None:
    world.next_id = 100
    world.add(5, T0)  # ids 100..104
    world.engine().run(world.batch_size)
    world.next_id = 10
    world.add(3, T1)  # ids 10..12: new, yet below the largest stored id
    world.touch([101], T1, amount=5.0)
    result = world.engine().run(world.batch_size)
    assert (result.rows, result.inserted, result.updated) == (4, 3, 1)
    world.assert_equal()


def test_text_keys_are_upserted_and_counted(db_url: str, tmp_path: Path) -> None:
    source = create_engine(f"sqlite:///{tmp_path / 'text_keys.db'}")
    table = Table(
        "codes", MetaData(), Column("code", String(10), primary_key=True), Column("at", DateTime, nullable=False)
    )
    table.create(source)
    with source.begin() as conn:
        conn.execute(insert(table), [{"code": c, "at": T0} for c in ("b", "d")])
    store = get_engine(db_url)
    create_schema(store)
    engine = Syncer(store, SqlTableSource(source, "codes", "code", "at"), "codes", FrozenClock(), "codes")
    assert engine.run(10).inserted == 2
    with source.begin() as conn:
        conn.execute(insert(table), [{"code": c, "at": T1} for c in ("a", "c")])
        conn.execute(update(table).where(table.c.code == "d").values(at=T1))
    result = engine.run(10)
    assert (result.rows, result.inserted, result.updated) == (3, 2, 1)
    with store.connect() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT code FROM codes ORDER BY code")] == ["a", "b", "c", "d"]
    source.dispose()


def test_datetime_text_of_another_writer_is_copied_as_is_and_ties_are_not_skipped(
    tmp_path: Path, sqlite_url: str
) -> None:
    """SQLite text without microseconds (CURRENT_TIMESTAMP's form): pages continue from the exact text."""
    source = create_engine(f"sqlite:///{tmp_path / 'plain_text.db'}")
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL)")
        for n in range(1, 26):
            conn.exec_driver_sql("INSERT INTO events VALUES (?, '2026-02-01 09:00:00')", (n,))
    store = get_engine(sqlite_url)
    create_schema(store)
    engine = Syncer(store, SqlTableSource(source, "events"), "events", FrozenClock(), "events")
    result = engine.run(10)  # 25 rows sharing one timestamp, pages of 10
    assert (result.rows, result.batches) == (25, 3)
    with source.begin() as conn:  # committed later within the same second
        for n in range(26, 31):
            conn.exec_driver_sql("INSERT INTO events VALUES (?, '2026-02-01 09:00:00')", (n,))
    again = Syncer(store, SqlTableSource(source, "events"), "events", FrozenClock(), "events")
    assert again.run(10).rows == 5  # the next run starts from the cursor exactly as the source stores it
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT DISTINCT updated_at FROM events").all() == [("2026-02-01 09:00:00",)]
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == 30
    source.dispose()


def test_unknown_table_or_column_is_named(tmp_path: Path) -> None:
    source = create_engine(f"sqlite:///{tmp_path / 's.db'}")
    source_table(MetaData()).create(source)
    with pytest.raises(SourceError, match="source table 'nope' does not exist"):
        SqlTableSource(source, "nope").columns()
    with pytest.raises(SourceError, match="SOURCE_CURSOR_FIELD='changed'"):
        SqlTableSource(source, "src_orders", cursor_field="changed").columns()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batch_size=st.integers(min_value=1, max_value=12),
    rounds=st.lists(
        st.tuples(st.integers(0, 15), st.lists(st.integers(1, 40), max_size=6), st.integers(0, 2)),
        min_size=1,
        max_size=5,
    ),
)
def test_cursor_property_store_always_equals_source(tmp_path: Path, batch_size: int, rounds: list[Any]) -> None:
    """Random inserts and updates on few distinct timestamps, random batch sizes: never a row lost.

    The source keeps the cursor's contract: updated_at never goes backwards (it is the source's clock).
    """
    folder = tmp_path / os.urandom(4).hex()
    folder.mkdir()
    w = World(f"sqlite:///{folder / 'src.db'}", f"sqlite:///{folder / 'store.db'}", batch_size)
    try:
        at = T0
        for step, (new, touched, tick) in enumerate(rounds):
            at += timedelta(seconds=tick)  # tick 0: this round's rows share the previous timestamp
            w.add(new, at)
            existing = [i for i in touched if i < w.next_id]
            if existing:
                at += timedelta(seconds=1)
                w.touch(existing, at, amount=float(step))
            w.engine().run(batch_size)
            w.assert_equal()
    finally:
        w.close()


@pytest.mark.slow
def test_kill_9_mid_sync_keeps_data_and_cursor_consistent(tmp_path: Path, db_url: str) -> None:
    source_url = f"sqlite:///{tmp_path / 'big.db'}"
    w = World(source_url, db_url)
    w.add(60_000, T0)
    script = (
        "import sys; from app.core.database import get_engine; from app.clock import SystemClock;"
        "from app.sync.engine import Syncer; from app.sync.source import Batch, Cursor, SqlTableSource;"
        "from sqlalchemy import create_engine;"
        "e = Syncer(get_engine(sys.argv[2]), SqlTableSource(create_engine(sys.argv[1]), 'src_orders'),"
        " 'orders', SystemClock(), 'sync');"
        "e.run(200, progress=lambda rows, text: print(rows, flush=True))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, source_url, db_url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    enough = threading.Event()

    def watch() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if int(line) >= 4_000:
                enough.set()
                return

    threading.Thread(target=watch, daemon=True).start()
    assert enough.wait(120), "the sync never got going"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stored, version = w.engine().read_cursor()
    with w.store.connect() as conn:
        orders = Table("orders", MetaData(), autoload_with=conn)
        count = conn.execute(select(func.count()).select_from(orders)).scalar_one()
        top = conn.execute(select(func.max(orders.c.id))).scalar_one()
    assert 4_000 <= count < 60_000
    assert stored is not None and stored["key"] == top == count  # the cursor is exactly at the data
    assert version == count // 200
    w.engine().run(500)
    w.assert_equal()
    w.close()
