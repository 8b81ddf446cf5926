"""Hard deletes reach the store: key reconciliation in batches, under the run's guard (invariant 11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine

from app.clock import FrozenClock
from app.core.database import create_schema, get_engine
from app.errors import LeaseLostError, SourceError
from app.sync.engine import CursorMovedError, Syncer
from app.sync.reconcile import reconcile_deletes
from app.sync.source import SqlTableSource
from tests.test_sync_shapes import T0, Pair, ts


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


def loaded(pair: Pair, keys: Any = ("tenant", "code"), rows: int = 200) -> SqlTableSource:
    pair.sql(
        f"CREATE TABLE src_items (tenant VARCHAR(10) NOT NULL, code INTEGER NOT NULL, updated_at {ts(pair)} NOT NULL,"
        " PRIMARY KEY (tenant, code))"
    )
    pair.insert("src_items", [(t, c, T0) for t in ("A", "b", "Ç") for c in range(rows)])
    source = SqlTableSource(pair.source, "src_items", keys)
    Syncer(pair.store, source, "items", FrozenClock(), "items").run(1000)
    return source


def test_keys_deleted_in_the_source_are_deleted_from_the_store_in_batches(pair: Pair) -> None:
    source = loaded(pair)
    pair.sql("DELETE FROM src_items WHERE code >= 150 OR tenant = 'Ç' AND code < 10")
    assert reconcile_deletes(pair.store, "items", source, batch_size=7) == 3 * 50 + 10
    assert pair.stored("items", "tenant, code") == pair.rows(pair.source, "src_items", "tenant, code")
    assert reconcile_deletes(pair.store, "items", source, batch_size=7) == 0


def test_a_zombie_run_deletes_nothing(pair: Pair) -> None:
    source = loaded(pair, rows=20)
    pair.sql("DELETE FROM src_items WHERE code < 5")

    def fenced_out(conn: Connection) -> None:
        raise LeaseLostError("lease taken over")

    with pytest.raises(LeaseLostError):
        reconcile_deletes(pair.store, "items", source, batch_size=5, guard=fenced_out)
    assert len(pair.stored("items", "tenant, code")) == 60
    seen: list[Connection] = []
    assert reconcile_deletes(pair.store, "items", source, batch_size=5, guard=seen.append) == 15
    assert seen  # each delete batch ran the guard inside its transaction


def test_a_single_column_key_is_reconciled(tmp_path: Path, db_url: str) -> None:
    source = create_engine(f"sqlite:///{tmp_path / 'one.db'}")
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE src (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL)")
        conn.exec_driver_sql(
            "INSERT INTO src SELECT value, '2026-02-01 00:00:00' FROM json_each('["
            + ",".join(map(str, range(1, 101)))
            + "]')"
        )
    store = get_engine(db_url)
    create_schema(store)
    table = SqlTableSource(source, "src")
    Syncer(store, table, "copy", FrozenClock(), "copy").run(30)
    with source.begin() as conn:
        conn.exec_driver_sql("DELETE FROM src WHERE id % 10 = 0")
    assert reconcile_deletes(store, "copy", table, batch_size=30) == 10
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*), min(id), max(id) FROM copy").one() == (90, 1, 99)


def test_a_sqlite_key_the_store_holds_in_another_form_is_refused_not_guessed(tmp_path: Path, pg_url: str) -> None:
    """'2026-02-01 09:00' in SQLite becomes a timestamp in PostgreSQL: looked up as text it would not be found,
    and the row would be deleted although the source has it."""
    source = create_engine(f"sqlite:///{tmp_path / 'stamps.db'}")
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE src (at DATETIME PRIMARY KEY, v TEXT)")
        conn.exec_driver_sql("INSERT INTO src VALUES ('2026-02-01 09:00:00', 'a')")
    store = get_engine(pg_url)
    create_schema(store)
    table = SqlTableSource(source, "src", "at", None)
    with pytest.raises(SourceError, match="key column 'at' \\(DATETIME\\) is SQLite text"):
        Syncer(store, table, "stamps", FrozenClock(), "stamps").run(10)
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM stamps").scalar() == 1  # copied, nothing deleted


def test_the_engine_reconciles_on_its_own_trigger_and_moves_the_data_version(pair: Pair) -> None:
    source = loaded(pair, rows=30)
    engine = Syncer(pair.store, source, "items", FrozenClock(), "items")
    _, before = engine.read_cursor()
    pair.sql("DELETE FROM src_items WHERE code < 3")
    result = engine.reconcile(4)  # 9 deletes in batches of up to 4 keys found missing
    assert result.deleted == 9 and result.data_version > before
    assert pair.stored("items", "tenant, code") == pair.rows(pair.source, "src_items", "tenant, code")
    assert engine.reconcile(4).data_version == result.data_version  # nothing to delete: nothing moves


def test_a_duplicate_reconciliation_with_a_stale_cursor_deletes_nothing(pair: Pair) -> None:
    source = loaded(pair, rows=10)
    stale = Syncer(pair.store, source, "items", FrozenClock(), "items")
    stored, version = stale.read_cursor()
    pair.sql("UPDATE src_items SET updated_at = '2026-02-01 10:00:00' WHERE code = 1")
    assert Syncer(pair.store, source, "items", FrozenClock(), "items").run(100).rows == 3  # commits first
    pair.sql("DELETE FROM src_items WHERE code = 0")
    with pytest.raises(CursorMovedError):
        stale._reconcile(5, None, stored, version)  # it still believes the cursor is at `version`
    assert len(pair.stored("items", "tenant, code")) == 30
