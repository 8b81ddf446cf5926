"""The destination table of a sync: created from the source's columns, widened in place when the source gains
columns, and written one batch at a time with a prepared upsert through the store's driver.

A batch write never commits: it runs inside the caller's transaction (the engine's, with the cursor); only
the DDL of prepare() and finish() commits on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Connection, Engine, Index, MetaData, Table, inspect, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateColumn
from sqlalchemy.types import NullType, TypeEngine

from app.core.database import write_transaction
from app.errors import SourceError, StoreError
from app.sync.copy_writer import CopyWriter, store_columns
from app.sync.source import Batch, Row

logger = logging.getLogger(__name__)
Processor = Callable[[Any], Any]
ColumnEncoder = Callable[[Sequence[Any]], Sequence[Any]]
_TZINFO = attrgetter("tzinfo")
_BOOLS = frozenset({bool, type(None)})
LOOKUP_CHUNK = 5000  # keys per IN (...) list: under SQLite's and PostgreSQL's limits on parameters
# SQLite checkpoints the WAL (copies it into the database and syncs both files) at the first commit past 1,000
# pages by default, and a batch of scattered updates passes that on every commit. A sync's connections let the
# WAL grow to ~40 MB instead, and each run ends with one checkpoint (finish()).
WAL_PAGES_BETWEEN_CHECKPOINTS = 10_000
# The cursor column's index is built when the table is created, so "latest changes first" pages read an index
# even during a first load (False: built after the first load, one sort; bench/pg_throughput.py measures both).
INDEX_DURING_FIRST_LOAD = True
# PostgreSQL plans a table it has never analyzed as if a range kept a third of its rows: during a first load
# (before autovacuum analyzes it) a page's `created_at >= :day_ago` became a sequential scan of the growing
# table. The load analyzes the table itself when its rows pass each of these counts; from then on the planner
# scales the row count with the table's pages and reads an indexed range's ends from the index itself.
ANALYZE_AT_ROWS = (10_000, 100_000)


class Destination:
    """One table of the store, keyed by the source's key."""

    def __init__(self, engine: Engine, name: str, key: str | Sequence[str], cursor_field: str | None) -> None:
        self.engine = engine
        self.name = name
        self.keys = (key,) if isinstance(key, str) else tuple(key)
        self.cursor_field = cursor_field
        self.dialect = engine.dialect
        self.table: Table | None = None
        self.created = False  # prepare() created the table: a stored cursor does not describe its rows
        self._pending_index: Index | None = None
        self._writers: dict[tuple[tuple[str, ...], bool], _Writer] = {}
        self._copiers: dict[tuple[tuple[str, ...], bool], CopyWriter] = {}
        self.copy_enabled = self.dialect.name == "postgresql" and self.dialect.driver == "psycopg"
        self._empty_at_start = False
        self._analyzed_at = 0  # rows written when the table was last analyzed during a first load

    def prepare(self, columns: list[Column[Any]]) -> Table:
        """Create the table, or add the source's new columns to it; refuse changed or removed columns."""
        table = Table(self.name, MetaData(), *columns)
        try:
            with write_transaction(self.engine) as conn:
                inspector = inspect(conn)
                if not inspector.has_table(self.name):
                    table.create(conn)
                    self.created = True
                    present = {}
                else:
                    present = {c["name"]: c["type"] for c in inspector.get_columns(self.name)}
                    self._check(table, present)
                    for column in table.columns:
                        if column.name not in present:
                            self._add_column(conn, column)
                self._pending_index = None
                if self.cursor_field is not None:
                    # "Latest changes first" (dashboards, audits) reads the cursor column backwards.
                    index = Index(f"ix_{self.name}_{self.cursor_field}", table.c[self.cursor_field])
                    if not present or not self._has_index(conn, inspector, str(index.name)):
                        if INDEX_DURING_FIRST_LOAD:
                            index.create(conn)
                        else:
                            self._pending_index = index
                # An empty table on a first load takes COPY straight into it (keys already there: merged).
                self._empty_at_start = self.copy_enabled and (
                    not present
                    or conn.exec_driver_sql(f"SELECT NOT EXISTS (SELECT 1 FROM {self._quoted()})").scalar() is True
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"preparing the destination table {self.name!r} failed: {_reason(exc)}") from None
        # Values are written as the store's columns hold them (a JSON column stays JSON when an API's
        # inferred kind now says text or integer); a value in its text form is cast to the type it was planned for.
        self.table = Table(
            self.name,
            MetaData(),
            *(
                Column(
                    c.name,
                    c.type if c.info.get("cast_on_write") else _stored(present.get(c.name), c.type),
                    primary_key=c.primary_key,
                    info=dict(c.info),
                )
                for c in columns
            ),
        )
        self._writers.clear()
        self._copiers.clear()
        return self.table

    def finish(self) -> None:
        """After a run: build the cursor column's index if it was left for after the first load
        (INDEX_DURING_FIRST_LOAD), and checkpoint SQLite's WAL."""
        try:
            if self._pending_index is not None:
                with write_transaction(self.engine) as conn:
                    self._pending_index.create(conn, checkfirst=True)
                logger.info("destination %s indexed on %s", self.name, self.cursor_field)
                self._pending_index = None
            if self.dialect.name == "sqlite":
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except SQLAlchemyError as exc:
            raise StoreError(f"finishing the destination table {self.name!r} failed: {_reason(exc)}") from None

    def _check(self, table: Table, present: dict[str, TypeEngine[Any]]) -> None:
        problems = [
            f"column {name!r} is in {self.name!r} but no longer in the source"
            for name in present
            if name not in table.c
        ]
        for column in table.columns:
            stored = present.get(column.name)
            if stored is not None and not _same_kind(stored, column.type):
                source_type = column.info.get("source_type") or _show(column.type)
                kept_as = "" if source_type == _show(column.type) else f" (stored as {_show(column.type)})"
                problems.append(
                    f"column {column.name!r} is {_show(stored)} in {self.name!r} but {source_type} in the source"
                    + kept_as
                )
        if problems:
            raise SourceError(
                f"the source's columns no longer match the destination table {self.name!r}: {'; '.join(problems)}. "
                "Only new columns are added in place: change the table by hand (ALTER TABLE), or drop it and run "
                "`python -m app resync` to load everything again"
            )

    def _add_column(self, conn: Connection, column: Column[Any]) -> None:
        added = Column(column.name, column.type, nullable=True)  # existing rows have no value for it
        ddl = CreateColumn(added).compile(dialect=self.dialect)
        conn.execute(text(f"ALTER TABLE {self._quoted()} ADD COLUMN {ddl}"))
        logger.info("destination %s gained column %s (%s) from the source", self.name, column.name, _show(column.type))

    def loaded(self, conn: Connection, rows: int) -> None:
        """After a committed batch (`rows` written so far in this run, `conn` outside any transaction): analyze a
        PostgreSQL table that this run is filling from empty whenever it passes one of ANALYZE_AT_ROWS."""
        if not self._empty_at_start or not any(self._analyzed_at < n <= rows for n in ANALYZE_AT_ROWS):
            return
        try:
            with conn.begin():
                conn.exec_driver_sql(f"ANALYZE {self._quoted()}")
        except SQLAlchemyError as exc:  # statistics are an optimisation: the load goes on without them
            logger.warning("analyzing %s during its first load failed: %s", self.name, _reason(exc))
        self._analyzed_at = rows

    def _has_index(self, conn: Connection, inspector: Any, name: str) -> bool:
        if self.dialect.name == "postgresql":  # one catalog query instead of get_indexes' five
            found = conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = CAST(:table AS regclass) AND c.relname = :name)"
                ),
                {"table": self._quoted(), "name": name},
            ).scalar()
            return bool(found)
        return any(ix["name"] == name for ix in inspector.get_indexes(self.name))

    def _quoted(self) -> str:
        return self.dialect.identifier_preparer.quote(self.name)

    def write(self, conn: Connection, batch: Batch) -> tuple[int, int]:
        """Upsert the batch by key in `conn`'s transaction; returns (new keys, updated rows).

        A revisited batch (rows that may be unchanged) updates only the rows that differ from the store's.
        """
        writer = self._writers.get((batch.names, batch.revisit))
        if writer is None:
            if self.table is None:
                raise RuntimeError("Destination.prepare() must run before write()")
            missing = [n for n in batch.names if n not in self.table.c]
            if missing:
                raise SourceError(f"source rows carry columns the destination {self.name!r} lacks: {missing}")
            writer = self._writers[(batch.names, batch.revisit)] = _Writer(self, batch.names, batch.revisit)
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        cursor = dbapi_conn.cursor()
        try:
            if self.dialect.name == "sqlite":
                cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES_BETWEEN_CHECKPOINTS}")
            if self.copy_enabled:
                copied = writer.rows(batch, writer.copy_encoders)
                written = self._copier(cursor, batch).write(cursor, copied, direct=self._empty_at_start)
                if written is not None:
                    return written
            return writer.write(cursor, writer.rows(batch, writer.encoders))
        except self.dialect.loaded_dbapi.Error as exc:
            raise StoreError(f"writing a batch to {self.name!r} failed: {type(exc).__name__}: {_first(exc)}") from None
        finally:
            cursor.close()

    def _copier(self, cursor: Any, batch: Batch) -> CopyWriter:
        copier = self._copiers.get((batch.names, batch.revisit))
        if copier is None:
            table_def = self.table
            assert table_def is not None
            cast_on_write = {n for n in batch.names if table_def.c[n].info.get("cast_on_write")}
            quote = self.dialect.identifier_preparer.quote
            copier = self._copiers[(batch.names, batch.revisit)] = CopyWriter(
                self._quoted(),
                store_columns(cursor, self._quoted(), batch.names, cast_on_write),
                self.keys,
                quote,
                lambda name: str(table_def.c[name].type.compile(dialect=self.dialect)),
                batch.revisit,
            )
        return copier


class _Writer:
    """The upsert of one column list, prepared once: SQL text, the bind processors that change values, and
    how inserts are told from updates."""

    def __init__(self, destination: Destination, names: tuple[str, ...], revisit: bool = False) -> None:
        table_def = destination.table
        assert table_def is not None
        dialect = destination.dialect
        self.key_at = tuple(names.index(k) for k in destination.keys)
        self.revisit = revisit
        cast_on_write = {n for n in names if table_def.c[n].info.get("cast_on_write")}
        self.encoders = [
            (n, _column_encoder(table_def.c[name].type.dialect_impl(dialect), processor, dialect))
            for n, name in enumerate(names)
            if name not in cast_on_write
            and (processor := table_def.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        # COPY checks a boolean column's values itself (exactly bool), which is all SQLAlchemy's processor does
        # there besides bool(value): skipped, it saves a copy of every row.
        native = dialect.supports_native_boolean
        boolean = {n for n, name in enumerate(names) if native and isinstance(table_def.c[name].type, Boolean)}
        self.copy_encoders = [(n, p) for n, p in self.encoders if n not in boolean]
        quote = dialect.identifier_preparer.quote
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        # With %s markers a literal % in a name must be doubled.
        escape: Callable[[str], str] = (lambda s: s.replace("%", "%%")) if marker == "%s" else (lambda s: s)
        columns = [escape(quote(n)) for n in names]
        table = escape(destination._quoted())
        keys = ", ".join(columns[n] for n in self.key_at)
        # A value in its text form (json, arrays, interval, inet ... on PostgreSQL) is cast to the column's type.
        values = [
            f"CAST({marker} AS {table_def.c[n].type.compile(dialect=dialect)})" if n in cast_on_write else marker
            for n in names
        ]
        others = [(n, c) for n, c in zip(names, columns, strict=True) if n not in destination.keys]
        updates = ", ".join(f"{c} = excluded.{c}" for _, c in others)
        # Compared as text on PostgreSQL: json has no equality, and '1 mon' = '30 days' as intervals.
        changed = " OR ".join(
            f"CAST({table}.{c} AS TEXT) IS DISTINCT FROM CAST(excluded.{c} AS TEXT)"
            if dialect.name == "postgresql"
            else f"{table}.{c} IS NOT excluded.{c}"
            for _, c in others
        )
        self.sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)}) ON CONFLICT ({keys}) "
            + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING")
            + (f" WHERE {changed}" if updates and revisit else "")
        )
        # PostgreSQL tells an inserted row from an updated one (xmax is 0 only for a new row version);
        # SQLite cannot, so its new keys are counted with a lookup before the upsert.
        self.returning = dialect.name == "postgresql" and dialect.driver == "psycopg"
        if self.returning:
            self.sql += " RETURNING (xmax = 0)"
        self.single = len(self.key_at) == 1
        row_value = keys if self.single else f"({keys})"
        self.lookup = f"SELECT count(*) FROM {table} WHERE {row_value} IN "
        self.max_key = f"SELECT max({keys}) FROM {table}" if self.single else ""
        self.marker = marker

    def rows(self, batch: Batch, encoders: list[tuple[int, ColumnEncoder]]) -> Sequence[Row]:
        """The batch's rows as the store's driver takes them, encoded a column at a time (at C speed where the
        column's values allow, see _column_encoder)."""
        if batch.driver_values or not encoders or not batch.rows:
            return batch.rows
        columns: list[Sequence[Any]] = list(zip(*batch.rows, strict=True))
        for n, encode in encoders:
            columns[n] = encode(columns[n])
        return list(zip(*columns, strict=True))

    def write(self, cursor: Any, rows: Sequence[Row]) -> tuple[int, int]:
        """(new keys, updated rows) of one upsert."""
        if self.returning:
            cursor.executemany(self.sql, rows, returning=True)
            written, new = _count_returned(cursor)
            return new, (written - new) if self.revisit else len(rows) - new
        keys = set(map(itemgetter(*self.key_at), rows))
        new = len(keys) - self._existing(cursor, keys)
        cursor.executemany(self.sql, rows)
        return new, (cursor.rowcount - new) if self.revisit else len(rows) - new

    def _existing(self, cursor: Any, keys: set[Any]) -> int:
        """How many of these keys the table holds already.

        Keys above the table's largest key are new without a lookup (a first load in key order, the new rows
        of an incremental run); only the others are looked up.
        """
        candidates = list(keys)
        if self.single:
            cursor.execute(self.max_key)
            top = cursor.fetchone()[0]
            if top is None:
                return 0
            try:
                if isinstance(top, int) and isinstance(low := min(candidates), int):
                    if low > top:
                        return 0
                    candidates = [k for k in candidates if k <= top]
            except TypeError:  # keys that do not compare with each other: look them all up
                pass
        width = len(self.key_at)
        one = self.marker if self.single else f"({', '.join([self.marker] * width)})"
        chunk_size = LOOKUP_CHUNK // width
        found = 0
        for start in range(0, len(candidates), chunk_size):
            chunk = candidates[start : start + chunk_size]
            params = chunk if self.single else [v for key in chunk for v in key]
            listed = ", ".join([one] * len(chunk))
            cursor.execute(self.lookup + (f"({listed})" if self.single else f"(VALUES {listed})"), params)
            found += int(cursor.fetchone()[0])
        return found


def _faster(impl: TypeEngine[Any], processor: Processor) -> Processor:
    """SQLite's DATETIME text of a naive datetime, written by isoformat() (the same text, about twice as fast
    as SQLAlchemy's formatter, which took 30% of a PostgreSQL-to-SQLite sync); anything else as before."""
    if not isinstance(impl, sqlite.DATETIME) or impl._storage_format != sqlite.DATETIME._storage_format:
        return processor

    def encode(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return processor(value)

    return encode


def _column_encoder(impl: TypeEngine[Any], processor: Processor, dialect: Any) -> ColumnEncoder:
    """Encodes one column of a batch with SQLAlchemy's bind `processor`, value by value, except where the same
    result comes from C: SQLite's DATETIME text of naive datetimes (isoformat mapped over the column) and SQLite
    booleans (sqlite3 binds True as the integer 1, which is what the processor's int(value) gives)."""
    one = _faster(impl, processor)
    if one is not processor:

        def datetimes(values: Sequence[Any]) -> Sequence[Any]:
            if set(map(type, values)) == {datetime} and not any(map(_TZINFO, values)):
                return list(map(datetime.isoformat, values, repeat(" "), repeat("microseconds")))
            return list(map(one, values))

        return datetimes
    if isinstance(impl, Boolean) and not dialect.supports_native_boolean:

        def booleans(values: Sequence[Any]) -> Sequence[Any]:
            return values if set(map(type, values)) <= _BOOLS else list(map(processor, values))

        return booleans
    return lambda values: list(map(processor, values))


def _count_returned(cursor: Any) -> tuple[int, int]:
    """(rows returned, rows whose RETURNING value is true) over every result set of executemany(returning=True)."""
    rows = true = 0
    while True:
        row = cursor.fetchone()
        if row is not None:
            rows += 1
            true += bool(row[0])
        if not cursor.nextset():
            return rows, true


def _same_kind(stored: TypeEngine[Any], wanted: TypeEngine[Any]) -> bool:
    """Whether a reflected column holds what the source's column holds (generic kinds: text, integer, ...);
    a JSON column holds any of them."""
    if isinstance(stored, (NullType, JSON)) or isinstance(wanted, NullType):
        return True
    return bool(stored._type_affinity is wanted._type_affinity)


def _stored(stored: TypeEngine[Any] | None, wanted: TypeEngine[Any]) -> TypeEngine[Any]:
    return wanted if stored is None or isinstance(stored, NullType) else stored


def _show(type_: TypeEngine[Any]) -> str:
    try:
        return str(type_.compile())
    except Exception:  # noqa: BLE001 - a type without a generic SQL name is still worth naming
        return type(type_).__name__


def _reason(exc: SQLAlchemyError) -> str:
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {_first(exc)}"


def _first(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
