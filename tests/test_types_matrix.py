"""Invariant 11: every common column type of PostgreSQL, MariaDB and SQLite reaches a SQLite and a PostgreSQL
store exactly (every column of every row compared as canonical values), or the run fails naming the column."""

from __future__ import annotations

import ipaddress
import json
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

from app.clock import FrozenClock
from app.core.database import create_schema, get_engine
from app.errors import SourceError
from app.sync.engine import Syncer
from app.sync.source import SqlTableSource
from app.sync.types import datetime_text

UTC = timezone.utc
T0 = datetime(2026, 2, 1, 9, 0)


def _dec(v: Any) -> Decimal:
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(v.decode() if isinstance(v, bytes) else v)


def _instant(v: Any) -> datetime:
    found = datetime.fromisoformat(v) if isinstance(v, str) else v
    return (found if found.tzinfo else found.replace(tzinfo=UTC)).astimezone(UTC)


def _json(v: Any) -> Any:
    return ("json", json.loads(v, parse_float=Decimal))  # ("json", None) is JSON null; SQL NULL stays None


def _array(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def _iso(kind: type) -> Callable[[Any], Any]:
    return lambda v: kind.fromisoformat(v) if isinstance(v, str) else v  # type: ignore[attr-defined]


def _time_of_day(v: Any) -> Any:
    if isinstance(v, timedelta):  # pymysql reads a MySQL TIME as a duration
        return (datetime.min + v).time()
    return time.fromisoformat(v) if isinstance(v, str) else v


@dataclass
class Col:
    name: str
    ddl: str
    values: list[Any]  # one per row, as the source's driver takes them (None: SQL NULL)
    canon: Callable[[Any], Any] = lambda v: v
    as_text_in_pg_store: bool = False  # read back as text (psycopg reads JSON null and SQL NULL both as None)
    expected: list[Any] | None = None  # canonical values, when not canon(values)


@dataclass
class SourceCase:
    url: str
    columns: list[Col]
    cursor_ddl: str
    setup: list[str] = field(default_factory=list)
    table: str = "src_typed"

    def create(self) -> Engine:
        engine = create_engine(self.url)
        quote = engine.dialect.identifier_preparer.quote
        ddl = ", ".join(f"{quote(c.name)} {c.ddl}" for c in self.columns)
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement in self.setup:
                cursor.execute(statement)
            cursor.execute(
                f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, updated_at {self.cursor_ddl} NOT NULL, {ddl})"
            )
            marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
            names = ", ".join(["id", "updated_at", *(quote(c.name) for c in self.columns)])
            markers = ", ".join([marker] * (2 + len(self.columns)))
            rows = [(n + 1, T0 + timedelta(seconds=n), *(c.values[n] for c in self.columns)) for n in range(self.rows)]
            cursor.executemany(f"INSERT INTO {self.table} ({names}) VALUES ({markers})", rows)
            raw.commit()
        finally:
            raw.close()
        return engine

    @property
    def rows(self) -> int:
        return len(self.columns[0].values)


def pg_case(url: str) -> SourceCase:
    tz = timezone(timedelta(hours=-3))
    return SourceCase(
        url,
        [
            Col("i2", "smallint", [-32768, 7, None]),
            Col("i4", "integer", [2147483647, -1, None]),
            Col("i8", "bigint", [9223372036854775807, -9223372036854775808, None]),
            Col("wide", "numeric(30,10)", [Decimal("12345678901234567890.0000000001"), Decimal("-0.5"), None], _dec),
            Col("narrow", "numeric(10,2)", [Decimal("12345678.91"), Decimal("0.10"), None], _dec),
            Col("free", "numeric", [Decimal("3.14159265358979323846264338327950288"), Decimal("1E+30"), None], _dec),
            Col("r4", "real", [1.5, -0.25, None], float),
            Col("r8", "double precision", [0.1, 1e300, None], float),
            Col("flag", "boolean", [True, False, None], bool),
            Col("txt", "text", ["Ação ✓", "", None]),
            Col("code", 'text COLLATE "C"', ["B", "a", None]),
            Col("vc", "varchar(20)", ["twenty chars at most", "x", None]),
            Col("ch", "char(5)", ["ab", "abcde", None], expected=["ab   ", "abcde", None]),
            Col("uid", "uuid", ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", str(uuid.UUID(int=1)), None], str),
            Col("ip", "inet", ["192.168.0.1/24", "::1", None], lambda v: ipaddress.ip_interface(str(v))),
            Col("net", "cidr", ["10.0.0.0/8", "2001:db8::/32", None], str),
            Col("mac", "macaddr", ["08:00:2b:01:02:03", "00:00:00:00:00:00", None], str),
            Col("tags", "text[]", [["a", None, 'q"uote'], [], None], _array),
            Col("nums", "integer[]", [[1, 2, 3], [[1, 2], [3, 4]], None], _array),
            Col("doc", "jsonb", ['{"b": 1, "a": [1, 2.50]}', "null", None], _json, True),
            Col("raw_doc", "json", ['{"b":  1, "a": [1]}', "null", None], str, True),
            Col("mood", "mood", ["happy", "sad", None]),
            Col("span", "interval", ["1 mon 2 days 03:04:05", "-00:00:01.5", None], str, True),
            Col("day", "date", [date(2026, 2, 28), date(1, 1, 1), None], _iso(date)),
            Col("clock", "time", [time(23, 59, 59, 999999), time(0, 0), None], _iso(time)),
            Col(
                "at",
                "timestamp(6)",
                [datetime(2026, 2, 1, 9, 0, 0, 123456), datetime(1970, 1, 1), None],
                _iso(datetime),
            ),
            Col(
                "at_tz",
                "timestamptz",
                [datetime(2026, 2, 1, 9, 0, 0, 1, tzinfo=tz), datetime(2000, 1, 1, tzinfo=UTC), None],
                _instant,
            ),
            Col("blob", "bytea", [b"\x00\xff\x10", b"", None], bytes),
        ],
        "timestamp",
        setup=["CREATE TYPE mood AS ENUM ('happy', 'sad')"],
    )


def mariadb_case(url: str) -> SourceCase:
    return SourceCase(
        url,
        [
            Col("flag", "TINYINT(1)", [1, 0, None]),
            Col("bits", "BIT(8)", [5, 255, None], lambda v: int.from_bytes(v, "big") if isinstance(v, bytes) else v),
            Col("tiny_u", "TINYINT UNSIGNED", [255, 0, None]),
            Col("int_u", "INT UNSIGNED", [4294967295, 0, None]),
            Col("big_u", "BIGINT UNSIGNED", [9223372036854775807, 0, None], int),
            Col("big", "BIGINT", [-9223372036854775808, 1, None]),
            Col("medium", "MEDIUMINT", [-8388608, 8388607, None]),
            Col("year_", "YEAR", [2026, 1901, None]),
            Col(
                "wide",
                "DECIMAL(65,30)",
                [Decimal("12345678901234567890123456789012345.123456789012345678901234567890"), Decimal("-1"), None],
                _dec,
            ),
            Col("narrow", "DECIMAL(10,2)", [Decimal("12345678.91"), Decimal("-0.01"), None], _dec),
            Col("f4", "FLOAT", [1.1, -2.5, None], float),
            Col("f8", "DOUBLE", [3.141592653589793, 1.2345678901234567e-07, None], float),
            Col("bin_text", "VARCHAR(20) COLLATE utf8mb4_bin", ["Ação", "a", None]),
            Col("ch", "CHAR(5)", ["ab", "abcde", None]),
            Col("body", "TEXT COLLATE utf8mb4_unicode_ci", ["long ✓ text", "", None]),
            Col("doc", "JSON", ['{"a": [1, 2.50]}', "null", None]),
            Col("choice", "ENUM('x','y')", ["y", "x", None]),
            Col("flags", "SET('a','b','c')", ["c,a", "", None], expected=["a,c", "", None]),
            Col("day", "DATE", [date(2026, 2, 28), date(1000, 1, 1), None], _iso(date)),
            Col(
                "at", "DATETIME(6)", [datetime(2026, 2, 1, 9, 0, 0, 123456), datetime(1000, 1, 1), None], _iso(datetime)
            ),
            Col(
                "at2",
                "DATETIME(2)",
                [datetime(2026, 2, 1, 9, 0, 0, 120000), datetime(9999, 12, 31), None],
                _iso(datetime),
            ),
            Col(
                "at0",
                "DATETIME",
                [datetime(2026, 2, 1, 9, 0, 1), datetime(1000, 1, 1, 23, 59, 59), None],
                _iso(datetime),
            ),
            Col(
                "stamp",
                "TIMESTAMP(3) NULL",
                [datetime(2026, 2, 1, 9, 0, 0, 5000), datetime(1970, 1, 2), None],
                _iso(datetime),
            ),
            Col("clock", "TIME(6)", [time(23, 59, 59, 1), time(0, 0), None], _time_of_day),
            Col("blob", "BLOB", [b"\x00\xff", b"", None], bytes),
            Col("fixed", "BINARY(3)", [b"ab", b"xyz", None], bytes, expected=[b"ab\x00", b"xyz", None]),
        ],
        "DATETIME(6)",
    )


def sqlite_case(url: str) -> SourceCase:
    return SourceCase(
        url,
        [
            Col("n", "INTEGER", [2**62, -1, None]),
            Col("r", "REAL", [0.1, -1e300, None], float),
            Col("t", "TEXT", ["Ação ✓", "", None]),
            Col("nocase", "VARCHAR(10) COLLATE NOCASE", ["MiXeD", "x", None]),
            Col("b", "BLOB", [b"\x00\xff", b"", None], bytes),
            Col("amount", "NUMERIC(10,2)", [12.5, 7, None], _dec),
            Col("flag", "BOOLEAN", [1, 0, None], bool),
            Col("at", "DATETIME", ["2026-02-01 09:00:00.123456", "2026-02-01 09:00:00", None], _iso(datetime)),
            Col("day", "DATE", ["2026-02-28", "1970-01-01", None], _iso(date)),
            Col("doc", "JSON", ['{"a": [1, 2.5]}', "null", None], _json, True),
        ],
        "DATETIME",
    )


CASES = {"postgresql": pg_case, "mariadb": mariadb_case, "sqlite": sqlite_case}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceCase]:
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    elif request.param == "mariadb":
        url = request.getfixturevalue("mariadb_url")
    else:
        url = f"sqlite:///{tmp_path / 'typed_source.db'}"
    yield CASES[request.param](url)


def store_rows(store: Engine, case: SourceCase, table: str = "typed") -> list[tuple[Any, ...]]:
    quote = store.dialect.identifier_preparer.quote
    pg = store.dialect.name == "postgresql"
    exprs = [f"CAST({quote(c.name)} AS TEXT)" if pg and c.as_text_in_pg_store else quote(c.name) for c in case.columns]
    with store.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT {', '.join(exprs)} FROM {table} ORDER BY id")]


def assert_store_equals(store: Engine, case: SourceCase, table: str = "typed") -> None:
    found = store_rows(store, case, table)
    assert len(found) == case.rows
    problems = []
    for c_at, col in enumerate(case.columns):
        for n in range(case.rows):
            want = col.expected[n] if col.expected is not None else col.values[n]
            want = None if want is None else col.canon(want) if col.expected is None else want
            got = found[n][c_at]
            got = None if got is None else col.canon(got)
            if got != want or type(got) is not type(want) and not isinstance(want, (int, float)):
                problems.append(f"{col.name} ({col.ddl}) row {n + 1}: stored {found[n][c_at]!r}, source {want!r}")
    assert not problems, "\n".join(problems)


def sync(case: SourceCase, store: Engine) -> Syncer:
    engine = Syncer(store, SqlTableSource(case.create(), case.table), "typed", FrozenClock(), "typed")
    result = engine.run(2)
    assert (result.rows, result.inserted) == (case.rows, case.rows)
    return engine


def test_every_common_type_is_copied_exactly(case: SourceCase, db_url: str) -> None:
    store = get_engine(db_url)
    create_schema(store)
    sync(case, store)
    assert_store_equals(store, case)
    if case.url.startswith("postgresql") and store.dialect.name == "postgresql":  # native types are kept
        with store.connect() as conn:
            kinds = dict(
                conn.exec_driver_sql(
                    "SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = 'typed'"
                ).all()
            )
        assert {n: kinds[n] for n in ("uid", "ip", "net", "tags", "nums", "doc", "raw_doc", "span", "at_tz")} == {
            "uid": "uuid",
            "ip": "inet",
            "net": "cidr",
            "tags": "_text",
            "nums": "_int4",
            "doc": "jsonb",
            "raw_doc": "json",
            "span": "interval",
            "at_tz": "timestamptz",
        }


def test_a_mariadb_url_is_read_like_a_mysql_one(mariadb_url: str, sqlite_url: str) -> None:
    """SQLAlchemy names the dialect of a mariadb:// URL "mariadb": its TIME, DATETIME and DOUBLE columns still
    take MySQL's plans."""
    case = mariadb_case(mariadb_url.replace("mysql+pymysql://", "mariadb+pymysql://", 1))
    assert create_engine(case.url).dialect.name == "mariadb"
    store = get_engine(sqlite_url)
    create_schema(store)
    sync(case, store)
    assert_store_equals(store, case)


def test_a_mariadb_cursor_of_two_fraction_digits_is_resumed(mariadb_url: str, sqlite_url: str) -> None:
    """The cursor is kept as MariaDB's own text ('… 09:00:00.12'), which Python 3.10's fromisoformat refuses."""
    assert datetime_text("2026-02-01 09:00:00.12") == datetime(2026, 2, 1, 9, 0, 0, 120000)
    source = create_engine(mariadb_url)
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ticks (id INT PRIMARY KEY, updated_at DATETIME(2) NOT NULL)")
        conn.exec_driver_sql("INSERT INTO ticks VALUES (1, '2026-02-01 09:00:00.12'), (2, '2026-02-01 09:00:00.5')")
    store = get_engine(sqlite_url)
    create_schema(store)
    syncer = Syncer(store, SqlTableSource(source, "ticks"), "ticks", FrozenClock(), "ticks")
    assert syncer.run(1).rows == 2
    with source.begin() as conn:
        conn.exec_driver_sql("INSERT INTO ticks VALUES (3, '2026-02-01 09:00:00.51')")
    assert syncer.run(1).rows == 1


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "mariadb+pymysql"])
def test_a_mysql_time_that_is_a_duration_fails_naming_the_column(
    scheme: str, mariadb_url: str, sqlite_url: str
) -> None:
    source = create_engine(mariadb_url.replace("mysql+pymysql", scheme, 1))
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE spans (id INT PRIMARY KEY, updated_at DATETIME NOT NULL, t TIME)")
        conn.exec_driver_sql("INSERT INTO spans VALUES (1, '2026-02-01', '23:00:00'), (2, '2026-02-02', '25:00:00')")
    store = get_engine(sqlite_url)
    create_schema(store)
    with pytest.raises(SourceError, match=r"column 't' of the row \{'id': 2\}: .* is not a time of day"):
        Syncer(store, SqlTableSource(source, "spans"), "spans", FrozenClock(), "spans").run(10)


def test_a_copy_refreshed_after_changes_still_equals_the_source(tmp_path: Path, db_url: str) -> None:
    """The second run goes through the keyset cursor and the upsert of every type (PostgreSQL source)."""
    case = sqlite_case(f"sqlite:///{tmp_path / 'again.db'}")
    store = get_engine(db_url)
    create_schema(store)
    engine = sync(case, store)
    source = create_engine(case.url)
    with source.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE src_typed SET doc = NULL, amount = 99.99, updated_at = '2026-03-01 00:00:00' WHERE id = 1"
        )
    case.columns[-1].values[0] = None
    case.columns[5].values[0] = 99.99
    assert engine.run(2).updated == 1
    assert_store_equals(store, case)


def test_a_type_the_store_cannot_hold_exactly_fails_naming_the_column(pg_url: str, sqlite_url: str) -> None:
    source = create_engine(pg_url)
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE shapes (id int PRIMARY KEY, updated_at timestamp NOT NULL, spot point)")
    store = get_engine(sqlite_url)
    create_schema(store)
    engine = Syncer(store, SqlTableSource(source, "shapes"), "shapes", FrozenClock(), "shapes")
    with warnings.catch_warnings(), pytest.raises(SourceError, match="column 'spot' has type"):
        warnings.simplefilter("ignore")  # SQLAlchemy: "Did not recognize type 'point'"
        engine.run(10)
    assert engine.read_cursor() == (None, 0)


def test_values_that_would_change_fail_naming_the_column(mariadb_url: str, pg_url: str, sqlite_url: str) -> None:
    store = get_engine(sqlite_url)
    create_schema(store)
    mariadb = create_engine(mariadb_url)
    with mariadb.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE big (id INT PRIMARY KEY, updated_at DATETIME NOT NULL, n BIGINT UNSIGNED)")
        conn.exec_driver_sql("INSERT INTO big VALUES (1, '2026-02-01', 18446744073709551615)")
    with pytest.raises(SourceError, match=r"column 'n' of the row \{'id': 1\}: 18446744073709551615 does not fit"):
        Syncer(store, SqlTableSource(mariadb, "big"), "big", FrozenClock(), "big").run(10)
    with mariadb.begin() as conn:  # a zero date (allowed without NO_ZERO_DATE) has no Python value
        conn.exec_driver_sql("SET SESSION sql_mode = ''")
        conn.exec_driver_sql("CREATE TABLE zero (id INT PRIMARY KEY, updated_at DATETIME NOT NULL, at DATETIME(3))")
        conn.exec_driver_sql("INSERT INTO zero VALUES (1, '2026-02-01', '2026-02-01 09:00:00.5'), (2, '2026-02-02', 0)")
    for url in (sqlite_url, pg_url):
        zero_store = get_engine(url)
        create_schema(zero_store)
        zero = r"column 'at' of the row \{'id': 2\}: '0000-00-00 00:00:00[.0]*' is not a date and time"
        with pytest.raises(SourceError, match=zero):
            Syncer(zero_store, SqlTableSource(mariadb, "zero"), "zero", FrozenClock(), "zero").run(10)
    pg = create_engine(pg_url)
    with pg.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE f (id int PRIMARY KEY, updated_at timestamp NOT NULL, x float8)")
        conn.exec_driver_sql("INSERT INTO f VALUES (1, '2026-02-01', 'NaN')")
    with pytest.raises(SourceError, match="column 'x' of the row .*NaN cannot be stored in SQLite"):
        Syncer(store, SqlTableSource(pg, "f"), "f", FrozenClock(), "f").run(10)
    with pg.begin() as conn:  # a decimal column is converted at once: its check must hold there too
        conn.exec_driver_sql("CREATE TABLE d (id int PRIMARY KEY, updated_at timestamp NOT NULL, y numeric(10, 2))")
        conn.exec_driver_sql("INSERT INTO d VALUES (1, '2026-02-01', 1.5), (2, '2026-02-02', 'NaN')")
    with pytest.raises(SourceError, match=r"column 'y' of the row \{'id': 2\}: NaN cannot be stored in a SQLite"):
        Syncer(store, SqlTableSource(pg, "d"), "d", FrozenClock(), "d").run(10)


def test_sqlite_values_a_postgresql_store_cannot_take_fail_naming_the_column(tmp_path: Path, pg_url: str) -> None:
    source = create_engine(f"sqlite:///{tmp_path / 'loose.db'}")
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE loose (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL, at DATETIME)")
        conn.exec_driver_sql("INSERT INTO loose VALUES (1, '2026-02-01 09:00:00', '2026-02-01 09:00:00+02:00')")
        conn.exec_driver_sql("CREATE TABLE untyped (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL, anything)")
    store = get_engine(pg_url)
    create_schema(store)
    with pytest.raises(SourceError, match="column 'at' of the row .*carries a UTC offset"):
        Syncer(store, SqlTableSource(source, "loose"), "loose", FrozenClock(), "loose").run(10)
    with pytest.raises(SourceError, match="column 'anything' has type"):
        Syncer(store, SqlTableSource(source, "untyped"), "untyped", FrozenClock(), "untyped").run(10)
