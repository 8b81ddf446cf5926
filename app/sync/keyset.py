"""The page queries of one source table (keyset pagination), compiled once, and the per-column decoding of the
driver's values into what the store takes. It reads nothing itself: SqlTableSource runs the statements.

Three walks: "cursor" in (cursor, key...) order after a position, skipping NULL cursors; "null" the rows whose
cursor is NULL, in key order; "all" every row in key order (a table without a cursor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, Text, and_, bindparam, cast, or_, select, tuple_
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.elements import ColumnElement

from app.sync.types import COLUMN_CHECKS, COLUMN_CONVERTERS, ColumnPlan

Row = Sequence[Any]
Processor = Callable[[Any], Any]
Position = tuple[Any, ...]


class KeysetReader:
    def __init__(
        self, table: Table, plans: list[ColumnPlan], keys: tuple[str, ...], cursor_field: str | None, dialect: Dialect
    ) -> None:
        self.dialect = dialect
        self.plans = plans
        self.names = tuple(p.name for p in plans)
        self.key_at = tuple(self.names.index(k) for k in keys)
        self.value_at = self.names.index(cursor_field) if cursor_field else -1
        self._table, self._keys, self._cursor_field = table, keys, cursor_field
        # A column read as its text form is selected as CAST(column AS TEXT); keyset conditions use the column.
        self._select = [cast(table.c[p.name], Text).label(p.name) if p.as_text else table.c[p.name] for p in plans]
        self._compiled: dict[tuple[str, bool, int], Compiled] = {}
        self._decoders: list[tuple[int, Processor]] | None = None
        self._source_processors: dict[int, Processor] | None = None

    # -- statements -----------------------------------------------------------------------------------

    def statement(self, mode: str, position: Position | None, limit: int) -> tuple[str, Any]:
        """SQL and parameters for the driver, in its own parameter style."""
        compiled = self._compiled.get((mode, position is not None, limit))
        if compiled is None:
            compiled = self._compile(mode, position is not None, limit)
            self._compiled[(mode, position is not None, limit)] = compiled
        values = {} if position is None else {f"fd_{n}": v for n, v in enumerate(position)}
        return compiled.string, _driver_params(compiled, values)

    def _compile(self, mode: str, after: bool, limit: int) -> Compiled:
        table = self._table
        key_cols = [table.c[k] for k in self._keys]
        query = select(*self._select)
        if mode == "cursor":
            assert self._cursor_field is not None
            value_col = table.c[self._cursor_field]
            query = query.order_by(value_col, *key_cols)
            if not after:
                query = query.where(value_col.is_not(None))
            else:
                value = bindparam("fd_0", type_=value_col.type)
                # Written as a range on the cursor column so the database walks its index from the cursor on
                # (an OR of the two cases makes SQLite scan from the start on every batch).
                query = query.where(value_col >= value, or_(value_col > value, self._after_key(key_cols, 1)))
        else:
            query = query.order_by(*key_cols)
            if mode == "null":
                assert self._cursor_field is not None
                query = query.where(table.c[self._cursor_field].is_(None))
            if after:
                query = query.where(self._after_key(key_cols, 0))
        return query.limit(limit).compile(dialect=self.dialect)

    @staticmethod
    def _after_key(key_cols: list[Any], first: int) -> ColumnElement[bool]:
        params = [bindparam(f"fd_{first + n}", type_=c.type) for n, c in enumerate(key_cols)]
        if len(key_cols) == 1:
            return and_(key_cols[0] > params[0])
        return and_(tuple_(*key_cols) > tuple_(*params))

    def position(self, mode: str, row: Row) -> Position:
        """Where the next page starts: the last row's driver values of (cursor,) key columns."""
        keys = tuple(row[n] for n in self.key_at)
        return (row[self.value_at], *keys) if mode == "cursor" else keys

    def encode(self, value: Any, key: tuple[Any, ...]) -> Position:
        """A typed cursor as driver values (the bind processors of the cursor and key columns)."""
        at = (self.value_at, *self.key_at)
        return tuple(self._bind(n, v) for n, v in zip(at, (value, *key), strict=True))

    def _bind(self, n: int, value: Any) -> Any:
        type_ = self._table.c[self.names[n]].type
        return _process(type_.dialect_impl(self.dialect).bind_processor(self.dialect), value)

    # -- values ---------------------------------------------------------------------------------------

    def source_processors(self, types: list[Any]) -> dict[int, Processor]:
        """SQLAlchemy's result processor of each column whose driver values it changes (not for text forms)."""
        if self._source_processors is None:
            found: dict[int, Processor] = {}
            for n, plan in enumerate(self.plans):
                if plan.as_text or not plan.source_processor:
                    continue
                processor = plan.source_type.dialect_impl(self.dialect).result_processor(self.dialect, types[n])
                if processor is not None:
                    found[n] = processor
            self._source_processors = found
        return self._source_processors

    def decoders(self, types: list[Any]) -> list[tuple[int, Processor]]:
        """(column index, driver value -> store value) of the columns that need one."""
        if self._decoders is None:
            processors = self.source_processors(types)
            found: list[tuple[int, Processor]] = []
            for n, plan in enumerate(self.plans):
                processor, convert = processors.get(n), plan.convert
                if processor is not None and convert is not None:
                    found.append((n, _compose(processor, convert)))
                elif processor is not None or convert is not None:
                    found.append((n, processor or convert))  # type: ignore[arg-type]
            self._decoders = found
        return self._decoders

    def decode(self, rows: list[Row], types: list[Any]) -> list[Row]:
        """Store values of every row; ValueError names the column and the row's key when one cannot be kept.

        Decoded a column at a time (the decoders mapped over it in C); a column that fails is decoded again
        row by row, which names the row."""
        decoders = self.decoders(types)
        if not decoders or not rows:
            return rows
        replaced: dict[int, Sequence[Any]] = {}
        try:
            for n, decoder in decoders:
                values = list(map(itemgetter(n), rows))
                check, convert = COLUMN_CHECKS.get(decoder), COLUMN_CONVERTERS.get(decoder)
                if convert is not None:
                    replaced[n] = _converted(convert, values)
                elif None in values:
                    replaced[n] = [None if v is None else decoder(v) for v in values]
                elif check is not None:
                    if not check(values):
                        raise ValueError(n)
                else:
                    replaced[n] = list(map(decoder, values))
        except (ValueError, TypeError, ArithmeticError):
            return self._decode_rows(rows, decoders)
        if not replaced:  # only checks: the rows pass as read
            return rows
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for n, column in replaced.items():
            columns[n] = column
        return list(zip(*columns, strict=True))

    def _decode_rows(self, rows: list[Row], decoders: list[tuple[int, Processor]]) -> list[Row]:
        decoded: list[Row] = []
        for row in rows:
            values = list(row)
            for n, decoder in decoders:
                if values[n] is None:
                    continue
                try:
                    values[n] = decoder(values[n])
                except (ValueError, TypeError, ArithmeticError) as exc:
                    key = {self.names[k]: row[k] for k in self.key_at}
                    raise ValueError(f"column {self.names[n]!r} of the row {key!r}: {exc}") from None
            decoded.append(values)
        return decoded

    def decode_cursor(self, row: Row, types: list[Any]) -> tuple[Any, tuple[Any, ...], Position | None]:
        """(cursor value, key values, as read) of a row, typed like the source's columns (not the store's)."""
        processors = self.source_processors(types)
        at = ((self.value_at,) if self.value_at >= 0 else ()) + self.key_at
        raw = tuple(row[n] for n in at)
        typed = tuple(_process(processors.get(n), row[n]) for n in at)
        exact = all(type(v) in (str, int, float) for v in raw)
        if self.value_at < 0:
            return None, typed, None
        return typed[0], typed[1:], raw if exact else None


def _converted(convert: Callable[[Sequence[Any]], list[Any]], values: list[Any]) -> list[Any]:
    """A column converted at once; its NULLs stay in place."""
    if None not in values:
        return convert(values)
    found = iter(convert([v for v in values if v is not None]))
    return [None if v is None else next(found) for v in values]


def _compose(first: Processor, second: Processor) -> Processor:
    return lambda value: None if (found := first(value)) is None else second(found)


def _driver_params(compiled: Compiled, values: dict[str, Any]) -> Any:
    params = compiled.construct_params(values) or {}
    positions = getattr(compiled, "positiontup", None)
    return tuple(params[name] for name in positions) if compiled.dialect.positional and positions else params


def _process(processor: Processor | None, value: Any) -> Any:
    return value if processor is None or value is None else processor(value)
