"""The incremental sync engine: each batch is upserted by primary key and the cursor advanced in ONE
transaction, with a compare-and-set on the cursor version and the run's lease fence, so a duplicate or
zombie run rolls back instead of writing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, Connection, Engine, Index, MetaData, Table, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from app.clock import Clock
from app.core.database import write_transaction
from app.core.models import SyncCursor
from app.errors import LeaseLostError, SourceError, StoreError
from app.sync.source import Cursor, Row, Source

logger = logging.getLogger(__name__)
cursors = cast(Table, SyncCursor.__table__)
Guard = Callable[[Connection], None]
Progress = Callable[[int, str], None]
# Wraps each batch's upsert inside the batch's transaction, e.g. to keep an aggregate of the destination in
# step (app/sync/summary.py): it commits or rolls back with the batch and its cursor.
AroundBatch = Callable[[Connection, Table, list[Row]], AbstractContextManager[None]]


@dataclass(frozen=True)
class SyncResult:
    rows: int
    inserted: int
    updated: int
    batches: int
    cursor: dict[str, Any] | None
    data_version: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CursorMovedError(LeaseLostError):
    """Another run committed this sync's cursor first: our batch rolled back (data stays exactly-once)."""


class SyncEngine:
    def __init__(
        self,
        store: Engine,
        source: Source,
        destination: str,
        clock: Clock,
        cursor_name: str | None = None,
        around_batch: AroundBatch | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.destination = destination
        self.cursor_name = cursor_name or destination
        self.clock = clock
        self.around_batch = around_batch
        self._table: Table | None = None

    def table(self) -> Table:
        """The destination table, created from the source's columns when missing."""
        if self._table is None:
            columns: list[Column[Any]] = self.source.columns()
            table = Table(self.destination, MetaData(), *columns)
            # "Latest changes first" (dashboards, audits) reads the cursor column backwards: index it.
            Index(f"ix_{self.destination}_{self.source.cursor_field}", table.c[self.source.cursor_field])
            table.create(self.store, checkfirst=True)
            self._table = table
        return self._table

    def read_cursor(self) -> tuple[dict[str, Any] | None, int]:
        with self.store.connect() as conn:
            row = conn.execute(
                select(cursors.c.value, cursors.c.version).where(cursors.c.name == self.cursor_name)
            ).first()
        return (None, 0) if row is None else (row[0], int(row[1]))

    def reset(self) -> None:
        reset_cursor(self.store, self.cursor_name, self.clock.now())

    def run(self, batch_size: int, guard: Guard | None = None, progress: Progress | None = None) -> SyncResult:
        table = self.table()
        stored, version = self.read_cursor()
        cursor = self.source.parse_cursor(stored)
        rows = inserted = updated = batches = 0
        for batch in self.source.read_batches(cursor, batch_size):
            self._validate(batch)
            new_cursor = Cursor(batch[-1][self.source.cursor_field], batch[-1][self.source.key])
            added = self._commit(table, batch, stored, version, new_cursor, guard)
            stored, version = new_cursor.as_json(), version + 1
            rows += len(batch)
            inserted += added
            updated += len(batch) - added
            batches += 1
            if progress is not None:
                progress(rows, f"batch {batches}: {rows:,} rows")
        return SyncResult(rows, inserted, updated, batches, stored, version)

    def _validate(self, batch: list[Row]) -> None:
        key, field = self.source.key, self.source.cursor_field
        for row in batch:
            if row.get(key) is None:
                raise SourceError(f"source row without its key {key!r}: {_preview(row)}")
            if row.get(field) is None:
                raise SourceError(f"source row {row[key]!r} has no cursor value {field!r}")

    def _commit(
        self,
        table: Table,
        batch: list[Row],
        expected: dict[str, Any] | None,
        version: int,
        new_cursor: Cursor,
        guard: Guard | None,
    ) -> int:
        """Upsert one batch and move the cursor from `version` to `version + 1`, atomically."""
        keys = [row[self.source.key] for row in batch]
        now = self.clock.now()
        try:
            with write_transaction(self.store) as conn:
                if guard is not None:
                    guard(conn)
                self._advance_cursor(conn, version, new_cursor, now)
                existing = self._existing_keys(conn, table, keys)
                with self.around_batch(conn, table, batch) if self.around_batch else nullcontext():
                    conn.execute(self._upsert(conn, table), batch)
            return len(set(keys) - existing)
        except (LeaseLostError, SourceError):
            raise
        except SQLAlchemyError as exc:
            raise StoreError(
                f"writing a batch to {self.destination!r} failed: {type(exc).__name__}: "
                f"{str(getattr(exc, 'orig', exc)).splitlines()[0][:300]}"
            ) from None

    def _existing_keys(self, conn: Connection, table: Table, keys: list[Any]) -> set[Any]:
        """Keys of the batch already in the destination (to count inserts vs updates).

        Plain driver SQL: compiling an expanding IN of thousands of parameters per batch costs more than
        the lookup itself.
        """
        prepare = conn.dialect.identifier_preparer
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"SELECT {prepare.quote(self.source.key)} FROM {prepare.format_table(table)} "
            f"WHERE {prepare.quote(self.source.key)} IN ({', '.join([marker] * len(keys))})"
        )
        processor = table.c[self.source.key].type.bind_processor(conn.dialect)
        values = tuple(processor(k) if processor else k for k in keys)
        return {row[0] for row in conn.exec_driver_sql(sql, values)}

    def _advance_cursor(self, conn: Connection, version: int, new_cursor: Cursor, now: Any) -> None:
        values = {"value": new_cursor.as_json(), "version": version + 1, "updated_at": now}
        if version == 0:
            exists = conn.execute(select(cursors.c.version).where(cursors.c.name == self.cursor_name)).first()
            if exists is None:
                conn.execute(insert(cursors).values(name=self.cursor_name, **values))
                return
        moved = conn.execute(
            update(cursors).where(cursors.c.name == self.cursor_name, cursors.c.version == version).values(**values)
        ).rowcount
        if moved != 1:
            raise CursorMovedError(f"cursor {self.cursor_name!r} moved on (expected version {version})")

    def _upsert(self, conn: Connection, table: Table) -> Any:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            stmt: Any = pg_insert(table)
        elif dialect == "sqlite":
            stmt = sqlite_insert(table)
        else:  # pragma: no cover - the store is SQLite or PostgreSQL (DATABASE_URL is validated)
            raise StoreError(f"unsupported store dialect {dialect!r}")
        changed = {c.name: stmt.excluded[c.name] for c in table.columns if not c.primary_key}
        return stmt.on_conflict_do_update(index_elements=[self.source.key], set_=changed)


def reset_cursor(store: Engine, name: str, now: datetime) -> bool:
    """Full resync: forget the cursor (rows stay; the next run re-reads and upserts everything).

    The version moves on, so a run in progress fails its compare-and-set instead of writing past it.
    """
    with write_transaction(store) as conn:
        moved = conn.execute(
            update(cursors)
            .where(cursors.c.name == name)
            .values(value=None, version=cursors.c.version + 1, updated_at=now)
        ).rowcount
    return bool(moved)


def _preview(row: Row) -> str:
    text = repr(row)
    return text if len(text) < 200 else text[:200] + "…"
