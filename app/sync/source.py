"""The source contract, and the SQL table source over any SQLAlchemy URL (keyset pagination).

Rows travel as tuples read with the source's own driver: SQLAlchemy's per-row processing is applied once per
column where it changes a value, and skipped where the store takes the driver's values as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Column, Engine, MetaData, Table, bindparam, inspect, or_, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.sql.compiler import Compiled

from app.config import redact_url
from app.core.failures import describe, source_role
from app.errors import SourceError, StoreError

Row = Sequence[Any]
Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class Cursor:
    """A high-water mark: the last (cursor value, key) read; ties on the value are broken by the key.

    `as_read`: the same pair exactly as the source's driver returned it, kept when JSON holds it exactly
    (SQLite text and numbers), so the next run compares what the source stores, not a re-encoding of it.
    """

    value: Any
    key: Any
    as_read: tuple[Any, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        found = {"value": _to_json(self.value), "key": _to_json(self.key)}
        return found if self.as_read is None else {**found, "as_read": list(self.as_read)}


@dataclass(frozen=True)
class Batch:
    """Rows in (cursor field, key) order, each a tuple of the values of `names`, and the cursor of the last.

    `driver_values`: the values are exactly what the store's driver takes (a source hands them over
    unconverted only when it was told the store's dialect and both sides agree); otherwise they are Python
    values typed like the source's columns.
    """

    names: tuple[str, ...]
    rows: Sequence[Row]
    last: Cursor
    driver_values: bool = False


class Source(Protocol):
    """A table-like source read in batches, in (cursor_field, key) order, strictly after a cursor."""

    key: str
    cursor_field: str

    def columns(self) -> list[Column[Any]]:
        """Detached column definitions the destination table is created from (key is the primary key)."""
        ...

    def read_batches(self, after: Cursor | None, batch_size: int, store: Dialect | None = None) -> Iterator[Batch]:
        """Yield batches of 1 to `batch_size` rows; raise SourceError with a clear message on failure.

        `store` is the dialect the rows are written with; a source may then hand over driver values.
        """
        ...

    def parse_cursor(self, stored: dict[str, Any] | None) -> Cursor | None:
        """Rebuild a cursor from its JSON form (typed like the source's columns)."""
        ...


def _to_json(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def passes_through(source: Dialect, store: Dialect | None) -> bool:
    """Whether driver values of `source` can be written by `store` unchanged: SQLite to SQLite, where a value
    is one of five storage classes and is copied exactly (a DATETIME stays the source's own text)."""
    return store is not None and source.name == "sqlite" and store.name == "sqlite"


class SqlTableSource:
    """Rows of one table of any SQLAlchemy database, read by keyset pagination (no OFFSET, no full scan)."""

    def __init__(self, engine: Engine, table: str, key: str = "id", cursor_field: str = "updated_at") -> None:
        self.engine = engine
        self.key = key
        self.cursor_field = cursor_field
        self.table_name = table
        self._table: Table | None = None

    @property
    def table(self) -> Table:
        if self._table is None:
            try:
                # Names and types are all a sync needs: cheaper than reflecting keys, indexes and constraints.
                found = inspect(self.engine).get_columns(self.table_name)
                self._table = Table(self.table_name, MetaData(), *(Column(c["name"], c["type"]) for c in found))
            except NoSuchTableError:
                raise SourceError(f"source table {self.table_name!r} does not exist (SOURCE_TABLE)") from None
            except (SQLAlchemyError, StoreError) as exc:
                raise SourceError(describe("cannot reach the source", exc, self.engine.url, source_role())) from None
            for field, setting in ((self.key, "SOURCE_KEY"), (self.cursor_field, "SOURCE_CURSOR_FIELD")):
                if field not in self._table.c:
                    raise SourceError(f"{setting}={field!r}: no such column in table {self.table_name!r}")
        return self._table

    def _where(self) -> str:
        return redact_url(self.engine.url.render_as_string(hide_password=False))

    def columns(self) -> list[Column[Any]]:
        return [
            Column(c.name, _portable(c.type), primary_key=(c.name == self.key), nullable=(c.name != self.key))
            for c in self.table.columns
        ]

    def parse_cursor(self, stored: dict[str, Any] | None) -> Cursor | None:
        if not stored:
            return None
        as_read = stored.get("as_read")
        return Cursor(
            self._typed(self.cursor_field, stored.get("value")),
            self._typed(self.key, stored.get("key")),
            (as_read[0], as_read[1]) if isinstance(as_read, list) and len(as_read) == 2 else None,
        )

    def _typed(self, column: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            python_type = self.table.c[column].type.python_type
        except NotImplementedError:
            return value
        if python_type is datetime and isinstance(value, str):
            return datetime.fromisoformat(value)
        if python_type is date and isinstance(value, str):
            return date.fromisoformat(value)
        return python_type(value)

    def read_batches(self, after: Cursor | None, batch_size: int, store: Dialect | None = None) -> Iterator[Batch]:
        reader = _KeysetReader(self.table, self.key, self.cursor_field, self.engine.dialect, batch_size)
        raw = passes_through(self.engine.dialect, store)
        # The next page starts at the last row's driver values, compared exactly as the source stores them;
        # a stored cursor without them (older, or values JSON cannot hold exactly) goes through the bind processors.
        position = None if after is None else after.as_read or reader.encode(after)
        while True:
            rows, types = self._fetch(reader, position)
            if not rows:
                return
            last = rows[-1]
            position = (last[reader.value_at], last[reader.key_at])
            cursor = reader.decode_cursor(last, types)
            yield Batch(reader.names, rows if raw else reader.decode(rows, types), cursor, driver_values=raw)
            if len(rows) < batch_size:
                return

    def _fetch(self, reader: _KeysetReader, position: tuple[Any, Any] | None) -> tuple[list[Row], list[Any]]:
        """One page as the driver returns it (tuples), and the driver's type code of each column."""
        try:
            with self.engine.connect() as conn:
                dbapi_conn = conn.connection.dbapi_connection
                assert dbapi_conn is not None
                cursor = dbapi_conn.cursor()
                try:
                    cursor.execute(*reader.statement(position))
                    return list(cursor.fetchall()), [d[1] for d in cursor.description]
                finally:
                    cursor.close()
        except (SQLAlchemyError, StoreError, self.engine.dialect.loaded_dbapi.Error) as exc:
            action = f"cannot read {self.table_name!r} from"
            raise SourceError(describe(action, exc, self.engine.url, source_role())) from None


class _KeysetReader:
    """The two page queries of one table, compiled once, and the column processors, looked up once."""

    def __init__(self, table: Table, key: str, cursor_field: str, dialect: Dialect, batch_size: int) -> None:
        self.dialect = dialect
        self.columns = list(table.columns)
        self.names = tuple(c.name for c in self.columns)
        self.key_at, self.value_at = self.names.index(key), self.names.index(cursor_field)
        value_col, key_col = table.c[cursor_field], table.c[key]
        query = select(table).order_by(value_col, key_col).limit(batch_size)
        value, after_key = bindparam("fd_value", type_=value_col.type), bindparam("fd_key", type_=key_col.type)
        self.first = query.compile(dialect=dialect)
        # Written as a range on the cursor column so the database walks its index from the cursor on
        # (an OR of the two cases makes SQLite scan from the start on every batch).
        self.after = query.where(value_col >= value, or_(value_col > value, key_col > after_key)).compile(
            dialect=dialect
        )
        self._decoders: list[tuple[int, Processor]] | None = None

    def statement(self, position: tuple[Any, Any] | None) -> tuple[str, Any]:
        """SQL and parameters for the driver, in its own parameter style."""
        if position is None:
            return self.first.string, _driver_params(self.first, {})
        return self.after.string, _driver_params(self.after, {"fd_value": position[0], "fd_key": position[1]})

    def encode(self, cursor: Cursor) -> tuple[Any, Any]:
        """A typed cursor as driver values (the bind processors of the cursor and key columns)."""
        return self._bind(self.value_at, cursor.value), self._bind(self.key_at, cursor.key)

    def _bind(self, n: int, value: Any) -> Any:
        return _process(self.columns[n].type.dialect_impl(self.dialect).bind_processor(self.dialect), value)

    def decoders(self, types: list[Any]) -> list[tuple[int, Processor]]:
        """(column index, result processor) of the columns whose driver values need converting."""
        if self._decoders is None:
            found: list[tuple[int, Processor]] = []
            for n, column in enumerate(self.columns):
                processor = column.type.dialect_impl(self.dialect).result_processor(self.dialect, types[n])
                if processor is not None:
                    found.append((n, processor))
            self._decoders = found
        return self._decoders

    def decode(self, rows: list[Row], types: list[Any]) -> list[Row]:
        decoders = self.decoders(types)
        if not decoders:
            return rows
        decoded: list[Row] = []
        for row in rows:
            values = list(row)
            for n, processor in decoders:
                values[n] = processor(values[n])
            decoded.append(values)
        return decoded

    def decode_cursor(self, row: Row, types: list[Any]) -> Cursor:
        processors = dict(self.decoders(types))
        value, key = row[self.value_at], row[self.key_at]
        exact = all(type(v) in (str, int, float) for v in (value, key))
        return Cursor(
            _process(processors.get(self.value_at), value),
            _process(processors.get(self.key_at), key),
            (value, key) if exact else None,
        )


def _driver_params(compiled: Compiled, values: dict[str, Any]) -> Any:
    params = compiled.construct_params(values) or {}
    positions = getattr(compiled, "positiontup", None)
    return tuple(params[name] for name in positions) if compiled.dialect.positional and positions else params


def _process(processor: Processor | None, value: Any) -> Any:
    return value if processor is None or value is None else processor(value)


def _portable(type_: Any) -> Any:
    """The generic form of a reflected type, so a MySQL or SQLite column can be created on PostgreSQL."""
    try:
        return type_.as_generic()
    except NotImplementedError:
        return type_
