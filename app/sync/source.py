"""The source contract, and the SQL table source over any SQLAlchemy URL (keyset pagination).

Rows travel as tuples read with the source's own driver: SQLAlchemy's per-row processing is applied once per
column where it changes a value, and skipped where the store takes the driver's values as they are. How each
column is read and stored is the type mapping's (app/sync/types.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Column, Engine, MetaData, Table, func, inspect, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from app.core.failures import Role, describe, source_role
from app.errors import SourceError, StoreError
from app.redaction import redact_url
from app.sync.keyset import KeysetReader
from app.sync.types import ColumnPlan, datetime_text, plan_column

Row = Sequence[Any]
SEED_SETTINGS = {  # which setting each part of a SQL source comes from, for messages
    "url": "SOURCE_URL",
    "table": "SOURCE_TABLE",
    "key": "SOURCE_KEY",
    "cursor": "SOURCE_CURSOR_FIELD",
    "soft_delete": "soft_delete",
}
Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class Cursor:
    """A high-water mark: the last (cursor value, key) read; ties on the value are broken by the key.

    `key`: the key's value, a tuple of values when the key has several columns.
    `as_read`: (value, *key values) exactly as the source's driver returned them, kept when JSON holds them
    exactly (SQLite text and numbers), so the next run compares what the source stores, not a re-encoding of it.
    A cursor whose value is None starts the next run from the beginning (a table copied whole).
    """

    value: Any
    key: Any
    as_read: tuple[Any, ...] | None = None

    @property
    def key_values(self) -> tuple[Any, ...]:
        return self.key if isinstance(self.key, tuple) else (self.key,)

    def as_json(self) -> dict[str, Any]:
        key = [_to_json(k) for k in self.key] if isinstance(self.key, tuple) else _to_json(self.key)
        found = {"value": _to_json(self.value), "key": key}
        return found if self.as_read is None else {**found, "as_read": list(self.as_read)}


@dataclass(frozen=True)
class Batch:
    """Rows in (cursor field, key) order, each a tuple of the values of `names`, and the cursor of the last.

    `driver_values`: the values are exactly what the store's driver takes (a source hands them over
    unconverted only when it was told the store's dialect and both sides agree); otherwise they are the values
    the store's columns take (app/sync/types.py).
    `revisit`: the rows may be unchanged since the last run (a table without a cursor, rows whose cursor is
    NULL): the store then writes only the rows that differ.
    """

    names: tuple[str, ...]
    rows: Sequence[Row]
    last: Cursor
    driver_values: bool = False
    revisit: bool = False


class Source(Protocol):
    """A table-like source read in batches, in (cursor_field, key) order, strictly after a cursor."""

    @property
    def keys(self) -> tuple[str, ...]:
        """The key's columns (one or more): the destination's primary key."""
        ...

    @property
    def cursor_field(self) -> str | None:
        """The column that only grows when a row changes; None: the table is copied whole on every run."""
        ...

    def columns(self, store: Dialect | None = None) -> list[Column[Any]]:
        """Detached column definitions the destination table is created from (the key is the primary key),
        typed for the `store` dialect; a column that cannot be stored exactly raises SourceError naming it."""
        ...

    def check_keys(self) -> None:
        """Raise SourceError naming the key and an example when the key is not unique (before any write)."""
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
    if value is not None and not isinstance(value, (str, int, float, bool)):
        return str(value)  # uuid, decimal: their exact text form
    return value


def normalise_keys(key: str | Sequence[str]) -> tuple[str, ...]:
    """A key as a tuple of column names: "id", ["tenant", "code"] (a "tenant,code" text is one column name)."""
    keys = (key,) if isinstance(key, str) else tuple(key)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise SourceError(f"a key is one column name or a list of them, not {key!r}")
    if len(set(keys)) != len(keys):
        raise SourceError(f"the key {list(keys)!r} names a column twice")
    return keys


def _process(processor: Processor | None, value: Any) -> Any:
    return value if processor is None or value is None else processor(value)


def passes_through(source: Dialect, store: Dialect | None) -> bool:
    """Whether driver values of `source` can be written by `store` unchanged: SQLite to SQLite, where a value
    is one of five storage classes and is copied exactly (a DATETIME stays the source's own text)."""
    return store is not None and source.name == "sqlite" and store.name == "sqlite"


class SqlTableSource:
    """Rows of one table of any SQLAlchemy database, read by keyset pagination (no OFFSET, no full scan).

    `table` may name a schema ("public.events": schema, then table, split at the last dot). `key` is a column
    or a sequence of columns. `cursor_field=None` copies the table whole on every run (its deletes are then
    reconciled by the engine). Rows whose cursor value is NULL are read on every run, by key, after the cursor
    pass, and written only where they differ. `soft_delete` names a column that marks deleted rows: it is
    copied like any other, so the store keeps the row and its mark (app/sync/reconcile.py's `live()`).
    """

    def __init__(
        self,
        engine: Engine,
        table: str,
        key: str | Sequence[str] = "id",
        cursor_field: str | None = "updated_at",
        *,
        soft_delete: str | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.engine = engine
        # The keys a user typed, named in messages: the seed's SOURCE_* or a dataset's datasets.NAME.*.
        self.settings = {**SEED_SETTINGS, **(settings or {})}
        self.keys = normalise_keys(key)
        self.cursor_field = cursor_field or None
        self.soft_delete = soft_delete or None
        self.table_name = table
        schema, _, name = table.rpartition(".")
        self.schema, self.name = schema or None, name
        self._table: Table | None = None
        self._plans: dict[str, list[ColumnPlan]] = {}
        self._unique: bool | None = None
        self._types: dict[str, type] | None = None

    @property
    def key(self) -> str:
        """The key column of a one-column key."""
        if len(self.keys) != 1:
            raise AttributeError(f"the key of {self.table_name!r} has several columns: use .keys")
        return self.keys[0]

    @property
    def table(self) -> Table:
        if self._table is None:
            try:
                # Names and types are all a sync needs: cheaper than reflecting keys, indexes and constraints.
                found = inspect(self.engine).get_columns(self.name, schema=self.schema)
                self._table = Table(
                    self.name, MetaData(), *(Column(c["name"], c["type"]) for c in found), schema=self.schema
                )
            except NoSuchTableError:
                where = self.settings["table"]
                raise SourceError(f"source table {self.table_name!r} does not exist ({where})") from None
            except (SQLAlchemyError, StoreError) as exc:
                raise SourceError(describe("cannot reach the source", exc, self.engine.url, self._role())) from None
            optional = ((self.cursor_field, "cursor"), (self.soft_delete, "soft_delete"))
            named = [(k, self.settings["key"]) for k in self.keys]
            named += [(field, self.settings[part]) for field, part in optional if field]
            for field, setting in named:
                if field not in self._table.c:
                    raise SourceError(f"{setting}={field!r}: no such column in table {self.table_name!r}")
        return self._table

    def _role(self) -> Role:
        return source_role(self.settings["url"], self.settings["table"])

    def _where(self) -> str:
        return redact_url(self.engine.url.render_as_string(hide_password=False))

    def plans(self, store: Dialect | None) -> list[ColumnPlan]:
        """The type mapping of every column into `store` (raises SourceError naming a column it cannot keep)."""
        name = store.name if store is not None else ""
        if name not in self._plans:
            self._plans[name] = [plan_column(c.name, c.type, self.engine.dialect, store) for c in self.table.columns]
        return self._plans[name]

    def columns(self, store: Dialect | None = None) -> list[Column[Any]]:
        return [
            Column(
                p.name,
                p.store_type,
                primary_key=p.name in self.keys,
                nullable=p.name not in self.keys,
                info={"cast_on_write": p.cast_on_write, "source_type": p.source_type_name},
            )
            for p in self.plans(store)
        ]

    def check_keys(self) -> None:
        """A primary key or unique constraint within the key's columns proves it unique (reflected once);
        otherwise one `GROUP BY key HAVING count(*) > 1 LIMIT 1` query asks the source on every run."""
        if self._unique is None:
            self._unique = self._declared_unique()
        if self._unique:
            return
        key_cols = [self.table.c[k] for k in self.keys]
        query = select(*key_cols, func.count()).group_by(*key_cols).having(func.count() > 1).limit(1)
        try:
            with self.engine.connect() as conn:
                found = conn.execute(query).first()
        except (SQLAlchemyError, StoreError) as exc:
            action = f"cannot check the key of {self.table_name!r} in"
            raise SourceError(describe(action, exc, self.engine.url, self._role())) from None
        if found is not None:
            example = dict(zip(self.keys, found[:-1], strict=True))
            raise SourceError(
                f"the key ({', '.join(self.keys)}) is not unique in the source table {self.table_name!r}: "
                f"{example!r} is in {found[-1]} rows. Nothing was written. Name columns that identify one row "
                '(a composite key is a list, e.g. key = ["tenant", "code"])'
            )

    def _declared_unique(self) -> bool:
        wanted = set(self.keys)
        if self.engine.dialect.name == "postgresql":
            return self._unique_index_on_postgresql()
        try:
            inspector = inspect(self.engine)
            sets: list[Sequence[str | None]] = [
                inspector.get_pk_constraint(self.name, schema=self.schema).get("constrained_columns") or []
            ]
            sets += [u["column_names"] for u in inspector.get_unique_constraints(self.name, schema=self.schema)]
            sets += [
                ix["column_names"]
                for ix in inspector.get_indexes(self.name, schema=self.schema)
                # a partial index (sqlite_where, postgresql_where ...) says nothing about the other rows
                if ix["unique"] and not any(k.endswith("_where") for k in ix.get("dialect_options", {}))
            ]
        except (SQLAlchemyError, StoreError, NotImplementedError):
            return False
        return any(s and set(s) <= wanted for s in sets)

    def _unique_index_on_postgresql(self) -> bool:
        """One catalog query instead of three reflections (about ten): a unique index (every primary key and
        unique constraint has one) on columns all within the key, not partial, not on an expression."""
        query = text(
            "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = CAST(:table AS regclass) AND i.indisunique "
            "AND i.indpred IS NULL AND i.indexprs IS NULL AND (SELECT bool_and(a.attname = ANY(:keys)) "
            "FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)))"
        )
        try:
            with self.engine.connect() as conn:
                table = self.engine.dialect.identifier_preparer.format_table(self.table)
                return bool(conn.execute(query, {"table": table, "keys": list(self.keys)}).scalar())
        except (SQLAlchemyError, StoreError):
            return False

    def parse_cursor(self, stored: dict[str, Any] | None) -> Cursor | None:
        if not stored or stored.get("value") is None or self.cursor_field is None:
            return None
        key = stored.get("key")
        if len(self.keys) == 1:
            typed_key: Any = self._typed(self.keys[0], key)
        else:
            if not isinstance(key, list) or len(key) != len(self.keys):
                return None  # a cursor of another key: read everything again (upserts are idempotent)
            typed_key = tuple(self._typed(k, v) for k, v in zip(self.keys, key, strict=True))
        as_read = stored.get("as_read")
        exact = isinstance(as_read, list) and len(as_read) == 1 + len(self.keys)
        read = tuple(as_read) if exact and isinstance(as_read, list) else None
        return Cursor(self._typed(self.cursor_field, stored.get("value")), typed_key, read)

    def _python_types(self) -> dict[str, type]:
        if self._types is None:
            self._types = {}
            for c in self.table.columns:
                try:
                    self._types[c.name] = c.type.python_type
                except NotImplementedError:
                    pass
        return self._types

    def _typed(self, column: str, value: Any) -> Any:
        """A JSON or store value as the Python value of the source column (parse the cursor, probe keys)."""
        if value is None:
            return None
        python_type = self._python_types().get(column)
        if python_type is None:
            return value
        if isinstance(value, python_type):
            return value
        if python_type is datetime and isinstance(value, str):
            return datetime_text(value)  # an isoformat() text, or MySQL's own (a cursor read as text)
        if python_type is date and isinstance(value, str):
            return date.fromisoformat(value)
        return python_type(value)

    def typed_keys(self, keys: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Key values as any store holds them (text, numbers) typed like the source's key columns."""
        return [tuple(self._typed(k, v) for k, v in zip(self.keys, key, strict=True)) for key in keys]

    def present_keys(self, stored: Sequence[tuple[Any, ...]], store: Dialect) -> set[tuple[Any, ...]]:
        """Which of these keys, as the `store` holds them, the source holds now (one indexed IN query).

        SQLite to SQLite compares the stored values themselves; other pairs compare the values typed like the
        source's columns (a key of SQLite's loose date, time, decimal or boolean text cannot be looked up
        exactly in another store's form, and is refused rather than risk deleting a row that exists).
        """
        if not stored:
            return set()
        dialect = self.engine.dialect
        raw = passes_through(dialect, store)
        if not raw and dialect.name == "sqlite":
            for plan in self.plans(store):
                if plan.name in self.keys and plan.convert is not None:
                    raise SourceError(
                        f"deletes of {self.table_name!r} cannot be reconciled: its key column {plan.name!r} "
                        f"({plan.source_type_name}) is SQLite text or numbers that the store holds in another form"
                    )
        impls = [self.table.c[k].type.dialect_impl(dialect) for k in self.keys]
        binds = [impl.bind_processor(dialect) for impl in impls]
        typed = list(stored) if raw else self.typed_keys(stored)
        params = [v for key in typed for v in (key if raw else map(_process, binds, key))]
        try:
            with self.engine.connect() as conn:
                dbapi_conn = conn.connection.dbapi_connection
                assert dbapi_conn is not None
                cursor = dbapi_conn.cursor()
                try:
                    cursor.execute(self._lookup_sql(len(typed)), params)
                    rows, types = cursor.fetchall(), [d[1] for d in cursor.description]
                finally:
                    cursor.close()
        except (SQLAlchemyError, StoreError, dialect.loaded_dbapi.Error) as exc:
            action = f"cannot read the keys of {self.table_name!r} from"
            raise SourceError(describe(action, exc, self.engine.url, self._role())) from None
        if raw:
            found = {tuple(r) for r in rows}
        else:
            results = [impl.result_processor(dialect, t) for impl, t in zip(impls, types, strict=True)]
            found = {tuple(map(_process, results, r)) for r in rows}
        return {key for key, probe in zip(stored, typed, strict=True) if probe in found}

    def _lookup_sql(self, count: int) -> str:
        dialect = self.engine.dialect
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        preparer = dialect.identifier_preparer
        escape: Callable[[str], str] = (lambda s: s) if marker == "?" else (lambda s: s.replace("%", "%%"))
        columns = ", ".join(escape(preparer.quote(k)) for k in self.keys)
        table = escape(preparer.format_table(self.table))
        if len(self.keys) == 1:
            listed = ", ".join([marker] * count)
            return f"SELECT {columns} FROM {table} WHERE {columns} IN ({listed})"
        one = f"({', '.join([marker] * len(self.keys))})"
        # SQLite takes a row value IN only over VALUES (or a subquery); MySQL takes the plain list.
        listed = ", ".join([one] * count)
        listed = listed if dialect.name in ("mysql", "mariadb") else f"VALUES {listed}"
        return f"SELECT {columns} FROM {table} WHERE ({columns}) IN ({listed})"

    def read_batches(self, after: Cursor | None, batch_size: int, store: Dialect | None = None) -> Iterator[Batch]:
        reader = KeysetReader(self.table, self.plans(store), self.keys, self.cursor_field, self.engine.dialect)
        raw = passes_through(self.engine.dialect, store)
        if self.cursor_field is None:
            for rows, types in self._pages(reader, "all", None, batch_size):
                last = Cursor(None, self._cursor_of(reader, rows[-1], types).key)
                yield Batch(reader.names, self._rows(reader, rows, types, raw), last, raw, revisit=True)
            return
        # The next page starts at the last row's driver values, compared exactly as the source stores them;
        # a stored cursor without them (older, or values JSON cannot hold exactly) goes through the bind processors.
        position = None if after is None else after.as_read or reader.encode(after.value, after.key_values)
        high = after
        for rows, types in self._pages(reader, "cursor", position, batch_size):
            high = self._cursor_of(reader, rows[-1], types)
            yield Batch(reader.names, self._rows(reader, rows, types, raw), high, raw)
        # NULL cursor values: never skipped, never fatal. Those rows are read by key on every run (the cursor
        # cannot say whether they changed) and the store writes only those that differ.
        mark = high or Cursor(None, None)
        for rows, types in self._pages(reader, "null", None, batch_size):
            yield Batch(reader.names, self._rows(reader, rows, types, raw), mark, raw, revisit=True)

    def _cursor_of(self, reader: KeysetReader, row: Row, types: list[Any]) -> Cursor:
        value, keys, as_read = reader.decode_cursor(row, types)
        return Cursor(value, keys[0] if len(keys) == 1 else keys, as_read)

    def _rows(self, reader: KeysetReader, rows: list[Row], types: list[Any], raw: bool) -> list[Row]:
        if raw:
            return rows
        try:
            decoded: list[Row] = reader.decode(rows, types)
            return decoded
        except ValueError as exc:
            raise SourceError(f"table {self.table_name!r}: {exc}") from None

    def _pages(
        self, reader: KeysetReader, mode: str, position: tuple[Any, ...] | None, batch_size: int
    ) -> Iterator[tuple[list[Row], list[Any]]]:
        """The pages of one walk, read on one connection in autocommit: each page is one statement (one round
        trip), not a checkout, a BEGIN, the query and a rollback, and no transaction stays open between pages."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                dbapi_conn = conn.connection.dbapi_connection
                assert dbapi_conn is not None
                while True:
                    rows, types = self._fetch(dbapi_conn, reader.statement(mode, position, batch_size))
                    if not rows:
                        return
                    yield rows, types
                    if len(rows) < batch_size:
                        return
                    position = reader.position(mode, rows[-1])
        except (SQLAlchemyError, StoreError) as exc:
            raise SourceError(
                describe(f"cannot read {self.table_name!r} from", exc, self.engine.url, self._role())
            ) from None

    def _fetch(self, dbapi_conn: Any, statement: tuple[str, Any]) -> tuple[list[Row], list[Any]]:
        """One page as the driver returns it (tuples), and the driver's type code of each column."""
        try:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute(*statement)
                return list(cursor.fetchall()), [d[1] for d in cursor.description]
            finally:
                cursor.close()
        except self.engine.dialect.loaded_dbapi.Error as exc:
            raise SourceError(
                describe(f"cannot read {self.table_name!r} from", exc, self.engine.url, self._role())
            ) from None
