"""Hard deletes: the store's keys checked against the source's, a batch at a time, and the missing ones deleted
in guarded transactions; and the predicate that hides soft-deleted rows. Memory is bounded by the batch size.

The store is walked in its own key order and each batch of keys is looked up in the source (one indexed
`IN (...)` query), instead of merging two sorted streams: a text key sorts differently under the source's
collation and the store's, and a key inserted in the source while the walk runs is simply found.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Boolean, ColumnElement, Connection, Engine, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError

from app.core.database import write_transaction
from app.core.failures import describe, store_role
from app.errors import StoreError

logger = logging.getLogger(__name__)
Guard = Callable[[Connection], None]
# Each delete is one statement; its parameters stay under SQLite's and PostgreSQL's limits.
MAX_PARAMETERS = 30_000


@runtime_checkable
class KeyedSource(Protocol):
    """A source whose current keys can be asked for (SqlTableSource)."""

    @property
    def keys(self) -> tuple[str, ...]: ...

    def present_keys(self, stored: Sequence[tuple[Any, ...]], store: Dialect) -> set[tuple[Any, ...]]:
        """Which of these keys, as the `store` holds them, the source holds now."""
        ...


def reconcile_deletes(
    engine: Engine, destination: str, source: KeyedSource, batch_size: int = 5000, guard: Guard | None = None
) -> int:
    """Delete the rows of `destination` whose key the source no longer has; returns how many were deleted.

    Each batch of deletes commits on its own, under `guard` (a zombie run's deletes roll back). Safe to run
    beside the sync of the same table: a key is deleted only when the source lacks it at the moment it is
    looked up, and a row the source gains later is brought back by the next sync.
    """
    walk = _KeyWalk(engine, destination, source.keys)
    size = max(1, min(batch_size, MAX_PARAMETERS // len(source.keys)))
    deleted = 0
    position: tuple[Any, ...] | None = None
    while True:
        found = walk.page(position, size)
        if not found:
            break
        present = source.present_keys(found, engine.dialect)
        gone = [key for key in found if key not in present]
        if gone:
            with write_transaction(engine) as conn:
                if guard is not None:
                    guard(conn)
                deleted += walk.delete(conn, gone)
        if len(found) < size:
            break
        position = found[-1]
    if deleted:
        logger.info("destination %s: %d rows deleted in the source were deleted", destination, deleted)
    return deleted


class _KeyWalk:
    """The store's keys in key order, read and deleted as the driver holds them (no conversion either way)."""

    def __init__(self, engine: Engine, name: str, keys: tuple[str, ...]) -> None:
        self.engine = engine
        dialect = engine.dialect
        quote = dialect.identifier_preparer.quote
        self.marker = "?" if dialect.paramstyle == "qmark" else "%s"
        escape: Callable[[str], str] = (lambda s: s.replace("%", "%%")) if self.marker == "%s" else (lambda s: s)
        self.table = escape(quote(name))
        self.width = len(keys)
        columns = ", ".join(escape(quote(k)) for k in keys)
        self.row_value = columns if self.width == 1 else f"({columns})"
        self.select = f"SELECT {columns} FROM {self.table}"
        self.order = f" ORDER BY {columns} LIMIT "
        self.name = name

    def _one(self) -> str:
        return self.marker if self.width == 1 else f"({', '.join([self.marker] * self.width)})"

    def page(self, after: tuple[Any, ...] | None, limit: int) -> list[tuple[Any, ...]]:
        sql, params = self.select, list(after or ())
        if after is not None:
            sql += f" WHERE {self.row_value} > {self._one()}"
        try:
            with self.engine.connect() as conn:
                cursor = self._cursor(conn)
                try:
                    cursor.execute(sql + self.order + str(int(limit)), params)
                    return [tuple(r) for r in cursor.fetchall()]
                finally:
                    cursor.close()
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            action = f"cannot read the keys of {self.name!r} in"
            raise StoreError(describe(action, exc, self.engine.url, store_role())) from None

    def delete(self, conn: Connection, keys: list[tuple[Any, ...]]) -> int:
        listed = ", ".join([self._one()] * len(keys))
        if self.width > 1:
            listed = f"VALUES {listed}"
        cursor = self._cursor(conn)
        try:
            params = [v for k in keys for v in k]
            cursor.execute(f"DELETE FROM {self.table} WHERE {self.row_value} IN ({listed})", params)
            return int(cursor.rowcount)
        except self.engine.dialect.loaded_dbapi.Error as exc:
            action = f"cannot delete from {self.name!r} in"
            raise StoreError(describe(action, exc, self.engine.url, store_role())) from None
        finally:
            cursor.close()

    @staticmethod
    def _cursor(conn: Connection) -> Any:
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        return dbapi_conn.cursor()


def live(table: Table, soft_delete: str) -> ColumnElement[bool]:
    """The rows not marked deleted: a boolean mark must not be true; any other (a `deleted_at` time) NULL."""
    column = table.c[soft_delete]
    return column.is_not(True) if isinstance(column.type, Boolean) else column.is_(None)
