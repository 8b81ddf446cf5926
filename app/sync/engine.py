"""The incremental sync engine: each batch is upserted by primary key and the cursor advanced in ONE
transaction, with a compare-and-set on the cursor version and the run's lease fence, so a duplicate or
zombie run rolls back instead of writing. A table without a cursor is copied whole and its deletes reconciled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from app.clock import Clock
from app.core.cursors import reset_cursor
from app.core.database import write_transaction
from app.core.models import SyncCursor
from app.errors import CursorMovedError, LeaseLostError, SourceError, StoreError
from app.sync.destination import Destination
from app.sync.reconcile import KeyedSource, reconcile_deletes
from app.sync.source import Batch, Row, Source

logger = logging.getLogger(__name__)
cursors = cast(Table, SyncCursor.__table__)
Guard = Callable[[Connection], None]
Progress = Callable[[int, str], None]
# Wraps each batch's write inside the batch's transaction, e.g. to keep an aggregate of the destination in
# step (app/demo/summary.py): it commits or rolls back with the batch and its cursor.
AroundBatch = Callable[[Connection, Table, Batch], AbstractContextManager[None]]


@dataclass(frozen=True)
class SyncResult:
    rows: int
    inserted: int
    updated: int
    batches: int
    cursor: dict[str, Any] | None
    data_version: int
    deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Unchanged(Exception):  # noqa: N818 - control flow, never raised out of the engine
    """A revisited batch whose rows all equal the store's: rolled back, so the data version stays."""


class Syncer:
    """Copies one source into one destination table of the app's database (`destination_engine`), a batch at a
    time, each batch committed with the cursor."""

    def __init__(
        self,
        destination_engine: Engine,
        source: Source,
        destination: str,
        clock: Clock,
        cursor_name: str | None = None,
        around_batch: AroundBatch | None = None,
    ) -> None:
        self.destination_engine = destination_engine
        self.source = source
        self.destination = Destination(destination_engine, destination, source.keys, source.cursor_field)
        self.cursor_name = cursor_name or destination
        self.clock = clock
        self.around_batch = around_batch

    def table(self) -> Table:
        """The destination table, created from the source's columns or widened by its new ones."""
        if self.destination.table is None:
            self.destination.prepare(self.source.columns(self.destination_engine.dialect))
        assert self.destination.table is not None
        return self.destination.table

    def read_cursor(self) -> tuple[dict[str, Any] | None, int]:
        with self.destination_engine.connect() as conn:
            row = conn.execute(
                select(cursors.c.value, cursors.c.version).where(cursors.c.name == self.cursor_name)
            ).first()
        return (None, 0) if row is None else (row[0], int(row[1]))

    def reset(self) -> None:
        reset_cursor(self.destination_engine, self.cursor_name, self.clock.now())

    def run(self, batch_size: int, guard: Guard | None = None, progress: Progress | None = None) -> SyncResult:
        """Copy what changed since the stored cursor, batch by batch (each with its cursor, under `guard`).

        The key is checked unique in the source first, so a bad key writes nothing. Without a cursor field the
        whole table is read and the store's rows whose keys the source no longer has are deleted.
        """
        self.source.check_keys()
        self.table()
        stored, version = self.read_cursor()
        created, self.destination.created = self.destination.created, False  # once: this engine may run again
        if created and stored is not None:
            # A new table (dropped by hand, or a new destination name) holds none of the rows the cursor has
            # passed: read everything again instead of only what changed since (rows would be missing).
            logger.warning("destination %s is new: its cursor %s starts over", self.destination.name, self.cursor_name)
            stored = None
        cursor = self.source.parse_cursor(stored)
        rows = inserted = updated = batches = 0
        # One store connection for the run (a checkout and its liveness ping per batch cost a round trip each);
        # every batch is still its own transaction on it, and no transaction stays open between batches.
        walk = self.source.read_batches(cursor, batch_size, self.destination_engine.dialect)
        # Closed on the way out, error or not: a source holds one connection for its walk, which a failed run's
        # traceback (which keeps this frame, and so the walk, alive) must not keep checked out.
        with self._connection() as conn, _closing(walk):
            for batch in walk:
                self._validate(batch)
                committed = self._commit(batch, version, guard, conn)
                rows += len(batch.rows)
                batches += 1
                self.destination.loaded(conn, rows)
                if committed is not None:
                    stored, version = batch.last.as_json(), version + 1
                    inserted += committed[0]
                    updated += committed[1]
                if progress is not None:
                    progress(rows, f"batch {batches}: {rows:,} rows")
        self.destination.finish()
        deleted = 0
        if self.source.cursor_field is None:
            deleted, version = self._reconcile(batch_size, guard, stored, version)
        return SyncResult(rows, inserted, updated, batches, stored, version, deleted)

    def reconcile(self, batch_size: int, guard: Guard | None = None) -> SyncResult:
        """Delete the store's rows whose key the source no longer has (hard deletes), on a trigger of its own.

        Each batch of deletes commits with the cursor's compare-and-set under `guard`, like a batch of rows:
        the data version moves on only when rows were deleted, and a duplicate or zombie run deletes nothing.
        """
        self.table()
        stored, version = self.read_cursor()
        deleted, version = self._reconcile(batch_size, guard, stored, version)
        return SyncResult(0, 0, 0, 0, stored, version, deleted)

    def _reconcile(
        self, batch_size: int, guard: Guard | None, stored: dict[str, Any] | None, version: int
    ) -> tuple[int, int]:
        if not isinstance(self.source, KeyedSource):
            raise SourceError(
                f"the source of {self.destination.name!r} cannot list its keys: deletes are not reconciled"
            )
        at = [version]

        def with_cursor(conn: Connection) -> None:
            if guard is not None:
                guard(conn)
            self._advance_cursor(conn, at[0], stored, self.clock.now())
            at[0] += 1

        engine, table = self.destination_engine, self.destination.name
        deleted = reconcile_deletes(engine, table, self.source, batch_size, with_cursor)
        return deleted, at[0]

    def _validate(self, batch: Batch) -> None:
        """Every row has its whole key (checked at C speed; the loop only names the culprit)."""
        keys = self.source.keys
        if all(None not in map(itemgetter(batch.names.index(k)), batch.rows) for k in keys):
            return
        for row in batch.rows:
            missing = [k for k in keys if row[batch.names.index(k)] is None]
            if missing:
                raise SourceError(
                    f"source row without its key {', '.join(map(repr, missing))}: {_preview(batch.names, row)}"
                )

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            held = self.destination_engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(f"connecting to the store for {self.destination.name!r} failed: {_reason(exc)}") from None
        with held:
            yield held.execution_options(immediate=True)  # BEGIN IMMEDIATE on SQLite, as write_transaction's

    @contextmanager
    def _transaction(self, held: Connection | None) -> Iterator[Connection]:
        if held is None:
            with write_transaction(self.destination_engine) as conn:
                yield conn
        else:
            with held.begin():
                yield held

    def _commit(
        self, batch: Batch, version: int, guard: Guard | None, held: Connection | None = None
    ) -> tuple[int, int] | None:
        """Upsert one batch and move the cursor from `version` to `version + 1`, atomically (on `held`, the
        run's connection, or a new one); returns the number of new keys and of updated rows, or None when a
        revisited batch changed nothing (rolled back)."""
        now = self.clock.now()
        try:
            with self._transaction(held) as conn:
                if guard is not None:
                    guard(conn)
                self._advance_cursor(conn, version, batch.last.as_json(), now)
                if self.around_batch is None:
                    written = self.destination.write(conn, batch)
                else:
                    with self.around_batch(conn, self.table(), batch):
                        written = self.destination.write(conn, batch)
                if batch.revisit and written == (0, 0):
                    raise _Unchanged
                return written
        except _Unchanged:
            return None
        except (LeaseLostError, SourceError, StoreError):
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"writing a batch to {self.destination.name!r} failed: {_reason(exc)}") from None

    def _advance_cursor(self, conn: Connection, version: int, value: dict[str, Any] | None, now: Any) -> None:
        values = {"value": value, "version": version + 1, "updated_at": now}
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


@contextmanager
def _closing(walk: Iterator[Batch]) -> Iterator[None]:
    """Close a source's walk (a generator's `close()`) when the run leaves it; any other iterator is left as is."""
    try:
        yield
    finally:
        close = getattr(walk, "close", None)
        if close is not None:
            close()


def _reason(exc: SQLAlchemyError) -> str:
    return f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0][:300]}"


def _preview(names: tuple[str, ...], row: Row) -> str:
    text = repr(dict(zip(names, row, strict=False)))
    return text if len(text) < 200 else text[:200] + "…"
