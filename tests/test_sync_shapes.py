"""Real tables that are not shaped like the demo: composite keys, a key that is not unique, NULL cursor values,
no cursor at all (whole copy + deletes), schema-qualified tables, soft-delete columns (issue 11 item 2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, create_engine, inspect, select

from app.clock import FrozenClock
from app.core.database import create_schema, get_engine
from app.errors import SourceError
from app.sync.engine import Syncer
from app.sync.reconcile import live
from app.sync.source import SqlTableSource

T0 = datetime(2026, 2, 1, 9, 0)


class Pair:
    """A source database (PostgreSQL, MariaDB or SQLite) and a store, with SQL helpers on the source."""

    def __init__(self, source_url: str, store_url: str) -> None:
        self.source = create_engine(source_url)
        self.store = get_engine(store_url)
        create_schema(self.store)
        self.clock = FrozenClock()

    @property
    def dialect(self) -> str:
        return self.source.dialect.name

    def sql(self, *statements: str, params: list[Any] | None = None) -> None:
        with self.source.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement, *([params] if params else []))

    def insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        marker = "?" if self.source.dialect.paramstyle == "qmark" else "%s"
        with self.source.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES ({', '.join([marker] * len(rows[0]))})", rows)

    def engine(self, source: SqlTableSource, destination: str) -> Syncer:
        return Syncer(self.store, source, destination, self.clock, destination)

    def rows(self, engine: Engine, table: str, order: str) -> list[tuple[Any, ...]]:
        """Every row as Python values (each side read through its own reflected types)."""
        reflected = Table(table, MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            query = select(reflected).order_by(*(reflected.c[n.strip()] for n in order.split(",")))
            return [tuple(r) for r in conn.execute(query)]

    def stored(self, table: str, order: str) -> list[tuple[Any, ...]]:
        return self.rows(self.store, table, order)


@pytest.fixture(params=["pg-source", "mariadb-source", "sqlite-source"])
def pair(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Iterator[Pair]:
    if request.param == "pg-source":
        source_url = request.getfixturevalue("pg_url") if "postgresql" not in db_url else db_url
    elif request.param == "mariadb-source":
        source_url = request.getfixturevalue("mariadb_url")
    else:
        source_url = f"sqlite:///{tmp_path / 'source.db'}"
    p = Pair(source_url, db_url)
    yield p
    p.source.dispose()


def ts(pair: Pair) -> str:
    return {"postgresql": "timestamp", "mysql": "DATETIME(6)"}.get(pair.dialect, "DATETIME")


def test_a_composite_key_keeps_every_row(pair: Pair) -> None:
    """(tenant, code) with SOURCE_KEY=code lost half the rows before; a composite key keeps all 1,000."""
    pair.sql(
        f"CREATE TABLE src_items (tenant VARCHAR(10) NOT NULL, code INTEGER NOT NULL, updated_at {ts(pair)} NOT NULL, "
        "label VARCHAR(20), PRIMARY KEY (tenant, code))"
    )
    pair.insert("src_items", [(t, c, T0, f"{t}-{c}") for t in ("a", "b") for c in range(500)])
    source = SqlTableSource(pair.source, "src_items", ["tenant", "code"], "updated_at")
    engine = pair.engine(source, "items")
    result = engine.run(64)  # pages cut between rows of one timestamp: the key tuple breaks the ties
    assert (result.rows, result.inserted) == (1000, 1000)
    assert pair.stored("items", "tenant, code") == pair.rows(pair.source, "src_items", "tenant, code")
    stored, _ = engine.read_cursor()
    assert stored is not None and stored["key"] == ["b", 499]
    pair.sql("UPDATE src_items SET label = 'changed', updated_at = " + _later(pair) + " WHERE code = 7")
    pair.insert("src_items", [("c", 7, T0 + timedelta(hours=2), "new")])
    result = pair.engine(source, "items").run(64)
    assert (result.rows, result.inserted, result.updated) == (3, 1, 2)
    assert pair.stored("items", "tenant, code") == pair.rows(pair.source, "src_items", "tenant, code")
    keys = inspect(pair.store).get_pk_constraint("items")["constrained_columns"]
    assert keys == ["tenant", "code"]


def _later(pair: Pair) -> str:
    return "'2026-02-01 10:00:00'"


def test_a_key_that_is_not_unique_is_refused_before_anything_is_written(pair: Pair) -> None:
    pair.sql(f"CREATE TABLE src_loose (tenant VARCHAR(10), code INTEGER, updated_at {ts(pair)} NOT NULL, n INTEGER)")
    rows = [(t, c, T0 + timedelta(seconds=c), c) for t in ("a", "b") for c in range(300)]
    pair.insert("src_loose", rows)  # code repeats across tenants, far apart in cursor order (other batches)
    engine = pair.engine(SqlTableSource(pair.source, "src_loose", "code", "updated_at"), "loose")
    with pytest.raises(SourceError) as caught:
        engine.run(50)
    message = str(caught.value)
    assert "the key (code) is not unique in the source table 'src_loose'" in message
    assert "{'code': " in message and "is in 2 rows" in message and "Nothing was written" in message
    assert engine.read_cursor() == (None, 0)
    assert not inspect(pair.store).has_table("loose")
    result = pair.engine(SqlTableSource(pair.source, "src_loose", ("tenant", "code"), "updated_at"), "loose").run(50)
    assert result.inserted == 600


def test_a_primary_key_skips_the_uniqueness_query(pair: Pair) -> None:
    pair.sql(f"CREATE TABLE src_keyed (id INTEGER PRIMARY KEY, updated_at {ts(pair)} NOT NULL)")
    source = SqlTableSource(pair.source, "src_keyed")
    source.check_keys()
    assert source._unique is True
    loose = SqlTableSource(pair.source, "src_keyed", ["id", "updated_at"])
    loose.check_keys()  # a unique column within the key's columns proves the whole key unique
    assert loose._unique is True


def test_an_index_that_does_not_prove_the_key_unique_leaves_the_check_to_the_source(pair: Pair) -> None:
    """A unique index over more columns than the key, or a partial one, proves nothing about the key: the
    duplicate query still runs and refuses it (PostgreSQL reads this from one catalog query)."""
    pair.sql(f"CREATE TABLE src_wide (code INTEGER NOT NULL, n INTEGER NOT NULL, updated_at {ts(pair)} NOT NULL)")
    pair.sql("CREATE UNIQUE INDEX ux_src_wide ON src_wide (code, n)")
    if pair.dialect != "mysql":  # MariaDB has no partial indexes
        pair.sql("CREATE UNIQUE INDEX ux_src_wide_some ON src_wide (code) WHERE n > 100")
    pair.insert("src_wide", [(c, n, T0 + timedelta(seconds=n)) for c in (1, 2) for n in (1, 2)])
    source = SqlTableSource(pair.source, "src_wide", "code")
    with pytest.raises(SourceError, match=r"the key \(code\) is not unique"):
        source.check_keys()
    assert source._unique is False
    assert SqlTableSource(pair.source, "src_wide", ["n", "code"])._declared_unique() is True


def test_rows_with_a_null_cursor_are_copied_and_kept_up_to_date(pair: Pair) -> None:
    pair.sql(f"CREATE TABLE src_events (id INTEGER PRIMARY KEY, updated_at {ts(pair)}, kind VARCHAR(10))")
    pair.insert("src_events", [(n, None if n % 3 == 0 else T0 + timedelta(seconds=n), f"k{n}") for n in range(1, 31)])
    engine = pair.engine(SqlTableSource(pair.source, "src_events"), "events")
    result = engine.run(4)
    assert (result.rows, result.inserted) == (30, 30)  # the 10 NULL-cursor rows too, and nothing failed
    assert pair.stored("events", "id") == pair.rows(pair.source, "src_events", "id")
    assert engine.read_cursor()[0]["key"] == 29  # the cursor stays at the last non-NULL value
    again = pair.engine(SqlTableSource(pair.source, "src_events"), "events").run(4)
    assert (again.rows, again.inserted, again.updated) == (10, 0, 0)  # re-read, nothing rewritten
    pair.sql(
        "UPDATE src_events SET kind = 'changed' WHERE id = 9", "UPDATE src_events SET updated_at = NULL WHERE id = 10"
    )
    pair.insert("src_events", [(31, None, "late")])
    result = pair.engine(SqlTableSource(pair.source, "src_events"), "events").run(4)
    assert (result.inserted, result.updated) == (1, 2)
    assert pair.stored("events", "id") == pair.rows(pair.source, "src_events", "id")


def test_a_table_without_a_cursor_is_copied_whole_and_its_deletes_reach_the_store(pair: Pair) -> None:
    pair.sql(
        "CREATE TABLE src_codes (region VARCHAR(5) NOT NULL, code INTEGER NOT NULL, label VARCHAR(20), "
        "PRIMARY KEY (region, code))"
    )
    pair.insert("src_codes", [(r, c, f"{r}{c}") for r in ("n", "s") for c in range(40)])
    source = SqlTableSource(pair.source, "src_codes", ("region", "code"), None)
    result = pair.engine(source, "codes").run(7)
    assert (result.rows, result.inserted, result.deleted) == (80, 80, 0)
    unchanged = pair.engine(source, "codes").run(7)
    assert (unchanged.rows, unchanged.inserted, unchanged.updated, unchanged.deleted) == (80, 0, 0, 0)
    assert unchanged.data_version == result.data_version  # nothing changed: every page cache stays valid
    pair.sql(
        f"DELETE FROM src_codes WHERE code IN ({', '.join(str(c) for c in range(0, 40, 5))})",
        "UPDATE src_codes SET label = 'x' WHERE code = 3",
    )
    pair.insert("src_codes", [("w", 1, "new")])
    result = pair.engine(SqlTableSource(pair.source, "src_codes", ("region", "code"), None), "codes").run(7)
    assert (result.inserted, result.updated, result.deleted) == (1, 2, 16)
    assert result.data_version > unchanged.data_version + 1  # the deletes moved it on too
    assert pair.stored("codes", "region, code") == pair.rows(pair.source, "src_codes", "region, code")
    assert inspect(pair.store).get_indexes("codes") == []  # no cursor column to index


def test_a_soft_delete_column_keeps_the_row_marked(pair: Pair) -> None:
    pair.sql(
        f"CREATE TABLE src_accounts (id INTEGER PRIMARY KEY, updated_at {ts(pair)} NOT NULL, deleted_at {ts(pair)})"
    )
    pair.insert("src_accounts", [(n, T0, None) for n in range(1, 6)])
    source = SqlTableSource(pair.source, "src_accounts", soft_delete="deleted_at")
    pair.engine(source, "accounts").run(10)
    pair.sql(
        "UPDATE src_accounts SET deleted_at = " + _later(pair) + ", updated_at = " + _later(pair) + " WHERE id = 2"
    )
    pair.engine(source, "accounts").run(10)
    table = Table("accounts", MetaData(), autoload_with=pair.store)
    with pair.store.connect() as conn:
        alive = list(conn.execute(select(table.c.id).where(live(table, "deleted_at")).order_by(table.c.id)).scalars())
        total = len(conn.execute(select(table.c.id)).all())
    assert (alive, total) == ([1, 3, 4, 5], 5)
    with pytest.raises(SourceError, match="soft_delete='gone': no such column"):
        SqlTableSource(pair.source, "src_accounts", soft_delete="gone").columns()


def test_a_schema_qualified_table_is_read(pg_url: str, tmp_path: Path, db_url: str) -> None:
    source = create_engine(pg_url)
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA sales")
        conn.exec_driver_sql("CREATE TABLE sales.events (id int PRIMARY KEY, updated_at timestamp NOT NULL, v text)")
        conn.exec_driver_sql("CREATE TABLE public.events (id int PRIMARY KEY, updated_at timestamp NOT NULL, v text)")
        conn.exec_driver_sql("INSERT INTO sales.events VALUES (1, '2026-02-01', 'sales'), (2, '2026-02-01', 'x')")
        conn.exec_driver_sql("INSERT INTO public.events VALUES (1, '2026-02-01', 'public')")
    store = get_engine(db_url)
    create_schema(store)
    for table, destination, rows in (("sales.events", "sales_events", 2), ("public.events", "public_events", 1)):
        result = Syncer(store, SqlTableSource(source, table), destination, FrozenClock(), destination).run(10)
        assert result.inserted == rows
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT v FROM sales_events ORDER BY id").scalars().all() == ["sales", "x"]
        assert conn.exec_driver_sql("SELECT v FROM public_events").scalars().all() == ["public"]
    lite = create_engine(f"sqlite:///{tmp_path / 'lite.db'}")
    with lite.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE things (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL)")
        conn.exec_driver_sql("INSERT INTO things VALUES (1, '2026-02-01 00:00:00')")
    result = Syncer(store, SqlTableSource(lite, "main.things"), "things", FrozenClock(), "things").run(10)
    assert result.inserted == 1
    with pytest.raises(SourceError, match="source table 'nowhere.events' does not exist"):
        SqlTableSource(source, "nowhere.events").columns()
