"""Read-only access to the tables the syncs keep, whatever their columns: what a table holds (row count,
columns and types), its rows (filtered, ordered by key, bounded), and SQL over several of them.

Generic: it knows tables by name and reflects their columns; it never writes. Must not import Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, MetaData, Table, false, func, inspect, literal, or_, select, text
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from app.errors import StoreError


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    key: bool


@dataclass(frozen=True)
class TableInfo:
    """A store table as the Data page shows it; `exists` is False before the first sync created it."""

    name: str
    exists: bool
    rows: int
    columns: tuple[ColumnInfo, ...]


def describe(engine: Engine, table: str) -> TableInfo:
    """Row count, columns and types of a store table (an empty TableInfo when it does not exist yet)."""
    try:
        inspector = inspect(engine)
        if not inspector.has_table(table):
            return TableInfo(table, False, 0, ())
        keys = set(inspector.get_pk_constraint(table).get("constrained_columns") or ())
        columns = tuple(
            ColumnInfo(c["name"], _type_name(c["type"]), c["name"] in keys) for c in inspector.get_columns(table)
        )
        with engine.connect() as conn:
            rows = int(conn.execute(select(func.count()).select_from(_reflect(engine, table))).scalar_one())
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read table {table!r} of the store: {_reason(exc)}") from None
    return TableInfo(table, True, rows, columns)


def read_rows(
    engine: Engine,
    table: str,
    *,
    columns: Sequence[str] | None = None,
    equals: Mapping[str, Any] | None = None,
    contains: str = "",
    exclude_marked: str = "",
    between: tuple[str, datetime, datetime] | None = None,
    limit: int | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows of a store table in key order: `equals` keeps rows whose column equals a value (or is in a list),
    `contains` keeps rows where any text column contains it (case-insensitive), `exclude_marked` names a
    soft-delete column whose true / non-NULL rows are left out, `between` = (column, start, end) keeps rows whose
    column (UTC) is in [start, end). Returns (column names, rows)."""
    try:
        found = _reflect(engine, table)
        named = (*(columns or ()), *(equals or {}), *((between[0],) if between else ()))
        unknown = [c for c in named if c not in found.c]
        if unknown:
            raise StoreError(f"table {table!r} has no column {unknown[0]!r} (it has {', '.join(found.c.keys())})")
        chosen = [found.c[c] for c in columns] if columns else list(found.c)
        query = select(*chosen)
        for name, value in (equals or {}).items():
            column = found.c[name]
            is_list = isinstance(value, (list, tuple, set, frozenset))
            query = query.where(column.in_(list(value)) if is_list else column == value)
        if contains:
            pattern = f"%{contains.lower()}%"
            texts = [func.lower(c).like(pattern) for c in found.c if _is_text(c.type)]
            query = query.where(or_(*texts) if texts else false())
        if exclude_marked and exclude_marked in found.c:
            marker = found.c[exclude_marked]
            query = query.where((marker.is_(None)) | (marker.in_([False, 0])))
        if between is not None:
            column = found.c[between[0]]
            low, high = (_bound(column.type, at) for at in between[1:])
            query = query.where(column >= low, column < high)
        keys = list(found.primary_key.columns) or chosen[:1]
        query = query.order_by(*keys)
        if limit is not None:
            query = query.limit(limit)
        with engine.connect() as conn:
            result = conn.execute(query)
            return list(result.keys()), [tuple(r) for r in result]
    except NoSuchTableError:
        raise StoreError(f"table {table!r} is not in the store yet (its first sync has not finished)") from None
    except SQLAlchemyError as exc:
        raise StoreError(f"reading table {table!r} of the store failed: {_reason(exc)}") from None


def run_query(
    engine: Engine, sql: str, params: Mapping[str, Any] | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A read-only SQL query over store tables (`:name` parameters); returns (column names, rows)."""
    try:
        with engine.connect() as conn:
            result = conn.execute(text(sql), dict(params or {}))
            if not result.returns_rows:
                raise StoreError("a dataset query must be a SELECT (it returned no rows)")
            names, rows = list(result.keys()), [tuple(r) for r in result]
            conn.rollback()  # read-only: whatever the text did, nothing is committed
            return names, rows
    except SQLAlchemyError as exc:
        raise StoreError(f"the dataset query failed: {_reason(exc)}") from None


def _bound(type_: Any, at: datetime) -> Any:
    """A period bound as the column compares: a naive UTC datetime for a time column, else UTC text."""
    naive = at.astimezone(timezone.utc).replace(tzinfo=None)
    try:
        is_time = type_.python_type is datetime
    except NotImplementedError:
        is_time = False
    return literal(naive, type_) if is_time else naive.isoformat(sep=" ")


def _reflect(engine: Engine, table: str) -> Table:
    return Table(table, MetaData(), autoload_with=engine)


def _type_name(type_: Any) -> str:
    try:
        return str(type_.compile())
    except Exception:  # noqa: BLE001 - a type without a generic SQL name is still worth naming
        return type(type_).__name__


def _is_text(type_: Any) -> bool:
    try:
        return type_.python_type is str
    except NotImplementedError:
        return False


def _reason(exc: SQLAlchemyError) -> str:
    origin = getattr(exc, "orig", None) or exc
    lines = str(origin).strip().splitlines()
    return f"{type(origin).__name__}: {lines[0][:300] if lines else ''}"
