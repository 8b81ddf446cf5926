"""PostgreSQL's fast store path: a batch is streamed with binary COPY into a temporary staging table and merged
with one `INSERT … SELECT … ON CONFLICT`, or COPYed straight into the table on a first load, always inside the
caller's transaction (the batch's, with its guard and cursor). It must not change a value: a batch it cannot
take exactly is declined (None) and the row-by-row upsert writes it instead, from a savepoint.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from operator import itemgetter
from typing import Any

logger = logging.getLogger(__name__)
Row = Sequence[Any]

# Store type oid -> the oid whose binary dumper writes it. Each of these dumpers raises on a Python value of
# another type (a str for a number, an aware datetime for a timestamp ...), except those checked below.
BINARY = {
    20: 20,  # int8
    23: 23,  # int4
    21: 21,  # int2
    701: 701,  # float8
    700: 700,  # float4
    1700: 1700,  # numeric (typmod applied by the server, as for a parameter)
    25: 25,  # text
    1043: 25,  # varchar(n): the server checks the length, as for a parameter
    1042: 25,  # char(n): padded by the server
    16: 16,  # bool
    1082: 1082,  # date
    1114: 1114,  # timestamp
    1184: 1184,  # timestamptz
    17: 17,  # bytea
    1083: 1083,  # time
}
# Dumpers that would take a value of another type silently changed (a bool's truthiness, an int wrapped to 2
# or 4 bytes, a timedelta as a time of day): the batch's values of these columns are checked first.
CHECKED: dict[int, tuple[frozenset[type], int | None, int | None]] = {
    16: (frozenset({bool}), None, None),
    20: (frozenset({int}), -(2**63), 2**63 - 1),
    23: (frozenset({int}), -(2**31), 2**31 - 1),
    21: (frozenset({int}), -(2**15), 2**15 - 1),
    701: (frozenset({float, int, Decimal}), None, None),
    700: (frozenset({float, int, Decimal}), None, None),
    1700: (frozenset({Decimal, int}), None, None),
    1083: (frozenset({time}), None, None),
}
TEXT_OID = 25
SAVEPOINT = "fd_copy"


@dataclass(frozen=True)
class StoreColumn:
    name: str
    oid: int
    cast_on_write: bool  # the value is the type's text form: staged as text, cast by the merge


class CopyWriter:
    """The COPY of one column list into one table, prepared once (SQL text, dumper types, value checks)."""

    def __init__(
        self,
        table: str,
        columns: list[StoreColumn],
        keys: Sequence[str],
        quote: Callable[[str], str],
        type_of: Callable[[str], str],
        revisit: bool,
    ) -> None:
        self.usable = all(c.cast_on_write or c.oid in BINARY for c in columns)
        self.revisit = revisit
        self.dumpers = [TEXT_OID if c.cast_on_write else BINARY.get(c.oid, TEXT_OID) for c in columns]
        self.checks = [(n, CHECKED[c.oid]) for n, c in enumerate(columns) if not c.cast_on_write and c.oid in CHECKED]
        names = [quote(c.name) for c in columns]
        listed = ", ".join(names)
        digest = hashlib.sha1(repr((table, [(c.name, c.oid, c.cast_on_write) for c in columns])).encode()).hexdigest()
        stage = f"pg_temp.fd_stage_{digest[:16]}"
        staged = ", ".join(
            f"CAST({n} AS TEXT) AS {n}" if c.cast_on_write else n for n, c in zip(names, columns, strict=True)
        )
        # Created once per connection; emptied by every commit (and by a rollback: its rows roll back too).
        self.create_stage = (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            f"SELECT {staged} FROM {table} WITH NO DATA"
        )
        self.copy_stage = f"COPY {stage} ({listed}) FROM STDIN (FORMAT BINARY)"
        self.copy_direct = (
            None if any(c.cast_on_write for c in columns) else f"COPY {table} ({listed}) FROM STDIN (FORMAT BINARY)"
        )
        selected = ", ".join(
            f"CAST({n} AS {type_of(c.name)})" if c.cast_on_write else n for n, c in zip(names, columns, strict=True)
        )
        key_list = ", ".join(quote(k) for k in keys)
        others = [n for n, c in zip(names, columns, strict=True) if c.name not in keys]
        updates = ", ".join(f"{n} = excluded.{n}" for n in others)
        changed = " OR ".join(f"CAST({table}.{n} AS TEXT) IS DISTINCT FROM CAST(excluded.{n} AS TEXT)" for n in others)
        upsert = (
            f"INSERT INTO {table} ({listed}) SELECT {selected} FROM {stage} ON CONFLICT ({key_list}) "
            + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING")
            + (f" WHERE {changed}" if updates and revisit else "")
        )
        # xmax is 0 only for a new row version: inserts and updates counted by the server, one row back.
        self.merge = (
            f"WITH merged AS ({upsert} RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*), count(*) FILTER (WHERE inserted) FROM merged"
        )
        self.direct_declined = False

    def fits(self, rows: Sequence[Row]) -> bool:
        """Whether the values of the checked columns are of the type (and range) their dumper writes exactly."""
        for n, (kinds, low, high) in self.checks:
            values: list[Any] = list(map(itemgetter(n), rows))
            found = set(map(type, values))
            if type(None) in found:
                found.discard(type(None))
                values = [v for v in values if v is not None]
            if not found:
                continue
            if not found <= kinds or (low is not None and (min(values) < low or max(values) > high)):
                return False
        return True

    def write(self, cursor: Any, rows: Sequence[Row], direct: bool) -> tuple[int, int] | None:
        """(new keys, updated rows), or None when the batch must go through the row-by-row upsert (nothing
        of it was written: every attempt runs in a savepoint of the caller's transaction)."""
        import psycopg

        if not self.usable or not self.fits(rows):
            return None
        try:
            if direct and self.copy_direct is not None and not self.direct_declined and not self.revisit:
                try:
                    with _savepoint(cursor):
                        self._copy(cursor, self.copy_direct, rows)
                    return len(rows), 0
                except psycopg.errors.UniqueViolation:
                    self.direct_declined = True  # the table holds some of these keys: merge from now on
            # The savepoint, the stage (created once per connection) and the merge's release travel with the
            # statements beside them: one round trip each instead of three.
            with _savepoint(cursor, self.create_stage, release_with=self.merge):
                self._copy(cursor, self.copy_stage, rows)
            written, new = cursor.fetchone()
        except (TypeError, ValueError, OverflowError) as exc:
            # A value whose Python type the binary dumper does not take: this column list goes row by row.
            logger.info("COPY declined a batch (%s: %s): writing it row by row", type(exc).__name__, exc)
            self.usable = False
            return None
        except psycopg.Error as exc:
            # e.g. a key twice in the batch; the row-by-row upsert raises its own error if there is one
            logger.debug("COPY declined a batch (%s: %s)", type(exc).__name__, exc)
            return None
        new = int(new)
        return new, (int(written) - new) if self.revisit else len(rows) - new

    def _copy(self, cursor: Any, sql: str, rows: Sequence[Row]) -> None:
        with cursor.copy(sql) as copy:
            copy.set_types(self.dumpers)
            write_row = copy.write_row
            for row in rows:
                write_row(row)


@contextmanager
def _savepoint(cursor: Any, then: str = "", release_with: str = "") -> Iterator[None]:
    """A savepoint of the caller's transaction around the block (nothing of it stays on error), opened in the
    same round trip as `then` and released in the same round trip as `release_with`, whose result the cursor
    holds afterwards. Statements without parameters: sent together, they run in order and stop at an error."""
    cursor.execute(f"SAVEPOINT {SAVEPOINT}" + (f"; {then}" if then else ""))
    try:
        yield
        cursor.execute((f"{release_with}; " if release_with else "") + f"RELEASE SAVEPOINT {SAVEPOINT}")
    except BaseException:
        cursor.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}")
        raise


def store_columns(cursor: Any, table: str, names: Sequence[str], cast_on_write: set[str]) -> list[StoreColumn]:
    """The type oid of each of `names` in the store's `table` (its quoted name)."""
    cursor.execute(
        "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = CAST(%s AS regclass) "
        "AND attnum > 0 AND NOT attisdropped",
        (table,),
    )
    oids = dict(cursor.fetchall())
    return [StoreColumn(n, int(oids.get(n, 0)), n in cast_on_write) for n in names]
