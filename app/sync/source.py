"""The source contract, and the SQL table source over any SQLAlchemy URL (keyset pagination)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Column, Engine, MetaData, Table, or_, select
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from app.config import redact_url
from app.errors import SourceError, StoreError

Row = dict[str, Any]


@dataclass(frozen=True)
class Cursor:
    """A high-water mark: the last (cursor value, key) read; ties on the value are broken by the key."""

    value: Any
    key: Any

    def as_json(self) -> dict[str, Any]:
        return {"value": _to_json(self.value), "key": _to_json(self.key)}


class Source(Protocol):
    """A table-like source read in batches, in (cursor_field, key) order, strictly after a cursor."""

    key: str
    cursor_field: str

    def columns(self) -> list[Column[Any]]:
        """Detached column definitions the destination table is created from (key is the primary key)."""
        ...

    def read_batches(self, after: Cursor | None, batch_size: int) -> Iterator[list[Row]]:
        """Yield lists of at most `batch_size` rows; raise SourceError with a clear message on failure."""
        ...

    def parse_cursor(self, stored: dict[str, Any] | None) -> Cursor | None:
        """Rebuild a cursor from its JSON form (typed like the source's columns)."""
        ...


def _to_json(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


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
                self._table = Table(self.table_name, MetaData(), autoload_with=self.engine)
            except NoSuchTableError:
                raise SourceError(f"source table {self.table_name!r} does not exist (SOURCE_TABLE)") from None
            except (SQLAlchemyError, StoreError) as exc:
                raise SourceError(f"cannot reach the source {self._where()}: {type(exc).__name__}") from None
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
        return Cursor(self._typed(self.cursor_field, stored.get("value")), self._typed(self.key, stored.get("key")))

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

    def read_batches(self, after: Cursor | None, batch_size: int) -> Iterator[list[Row]]:
        table = self.table
        value_col, key_col = table.c[self.cursor_field], table.c[self.key]
        position = after
        while True:
            query = select(table).order_by(value_col, key_col).limit(batch_size)
            if position is not None:
                # Written as a range on the cursor column so the database walks its index from the cursor
                # on (an OR of the two cases makes SQLite scan from the start on every batch).
                query = query.where(
                    value_col >= position.value,
                    or_(value_col > position.value, key_col > position.key),
                )
            try:
                with self.engine.connect() as conn:
                    result = conn.execute(query)
                    names = list(result.keys())
                    batch = [dict(zip(names, row, strict=True)) for row in result.all()]
            except (SQLAlchemyError, StoreError) as exc:
                raise SourceError(
                    f"reading {self.table_name!r} from {self._where()} failed: {type(exc).__name__}"
                ) from None
            if not batch:
                return
            yield batch
            last = batch[-1]
            position = Cursor(last[self.cursor_field], last[self.key])
            if len(batch) < batch_size:
                return


def _portable(type_: Any) -> Any:
    """The generic form of a reflected type, so a MySQL or SQLite column can be created on PostgreSQL."""
    try:
        return type_.as_generic()
    except NotImplementedError:
        return type_
