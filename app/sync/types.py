"""The type mapping of a sync: for each source column, how it is read, which store column holds it and how its
values are converted, so that a value is copied exactly or the run fails naming the column (README, "Column
types"). It knows dialects and types, never a dataset's columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType, TypeEngine

from app.errors import SourceError

Processor = Callable[[Any], Any]
EXACT_FLOAT_DIGITS = 15  # a decimal of up to 15 significant digits survives a round trip through a double
INT64_MAX = 2**63 - 1
# PostgreSQL types whose Python form (psycopg) is not exact or has no store twin: read as their text form.
# interval: psycopg turns '1 mon' into 30 days; json/jsonb: JSON null and SQL NULL both arrive as None.
_PG_TEXT_FORM = (pg.INET, pg.CIDR, pg.MACADDR, pg.MACADDR8, pg.INTERVAL, pg.MONEY, pg.BIT, pg.TSVECTOR, pg.UUID)


@dataclass(frozen=True)
class ColumnPlan:
    """How one source column travels.

    `as_text`: the source reads `CAST(column AS TEXT)` (the type's own text form) instead of the value.
    `cast_on_write`: the store writes `CAST(? AS <store type>)`: the value is that type's text form.
    `convert`: driver value (after SQLAlchemy's result processor when `source_processor`) -> the value the store
    column takes; it raises ValueError when a value cannot be kept exactly.
    """

    name: str
    source_type: TypeEngine[Any]
    store_type: TypeEngine[Any]
    as_text: bool = False
    cast_on_write: bool = False
    convert: Processor | None = None
    source_processor: bool = True

    @property
    def source_type_name(self) -> str:
        return show_type(self.source_type)


def show_type(type_: TypeEngine[Any]) -> str:
    try:
        return str(type_.compile())
    except Exception:  # noqa: BLE001 - a type without a generic SQL name is still worth naming
        return type(type_).__name__


def plan_column(name: str, type_: TypeEngine[Any], source: Dialect, store: Dialect | None) -> ColumnPlan:
    """The plan of one column from `source` into `store` (None: the generic form, nothing converted)."""
    if store is None or store.name not in ("sqlite", "postgresql"):
        return ColumnPlan(name, type_, _generic(type_))
    if source.name == "sqlite" and store.name == "sqlite":
        # Driver values pass unchanged and the declared type keeps its affinity: SQLite holds what it held.
        return ColumnPlan(name, type_, sqltypes.BLOB() if isinstance(type_, NullType) else _generic(type_))
    # A mariadb:// URL's dialect is MySQL's under another name (same driver, same types).
    plan = _plan(name, type_, "mysql" if source.name == "mariadb" else source.name, store.name)
    if plan is None:
        raise SourceError(
            f"column {name!r} has type {show_type(type_)} in the {source.name} source, which Freshdash cannot copy "
            f"exactly into a {store.name} store (README, 'Column types'): leave the column out of the source "
            "(a view) or cast it to a listed type"
        )
    return plan


def _plan(name: str, t: TypeEngine[Any], src: str, store: str) -> ColumnPlan | None:
    to_pg = store == "postgresql"
    if isinstance(t, NullType):
        return None
    text_form = src == "postgresql" and (isinstance(t, _PG_TEXT_FORM) or isinstance(t, pg.TIME) and t.timezone)
    if text_form or isinstance(t, (sqltypes.ARRAY, sqltypes.JSON, sqltypes.Enum, mysql.SET)):
        return _structured(name, t, src, to_pg)
    if isinstance(t, (sqltypes.DateTime, sqltypes.Date, sqltypes.Time)):
        return _temporal(name, t, src, to_pg)
    if isinstance(t, sqltypes.Boolean):
        return ColumnPlan(
            name,
            t,
            sqltypes.Boolean(),
            convert=_strict_bool if src == "sqlite" else None,
            source_processor=src != "sqlite",
        )
    if isinstance(t, mysql.BIT):
        return ColumnPlan(name, t, sqltypes.BigInteger()) if (t.length or 1) <= 63 else None
    if isinstance(t, (sqltypes.Integer, mysql.YEAR)):
        return _integer(name, t, src, to_pg)
    if isinstance(t, sqltypes.Float):
        kept = t if src == "postgresql" and to_pg else sqltypes.Double() if to_pg else _generic(t)
        # The driver's float is the value. SQLAlchemy reflects a MySQL DOUBLE as asdecimal=True, whose result
        # processor rounds it to 10 decimal places (3.141592653589793 -> Decimal('3.1415926536')).
        return ColumnPlan(name, t, kept, convert=None if to_pg else _no_nan, source_processor=False)
    if isinstance(t, sqltypes.Numeric):
        return _decimal(name, t, src, to_pg)
    if isinstance(t, sqltypes.String):
        return ColumnPlan(name, t, _text(t, src, to_pg))
    if isinstance(t, sqltypes._Binary):
        return ColumnPlan(
            name, t, sqltypes.LargeBinary(), convert=_bytes if src == "sqlite" else None, source_processor=False
        )
    return None


def _structured(name: str, t: TypeEngine[Any], src: str, to_pg: bool) -> ColumnPlan | None:
    """Arrays, JSON, enums and PostgreSQL's types without an exact Python twin (read as their text form)."""
    if isinstance(t, sqltypes.ARRAY):
        if src == "postgresql" and to_pg:
            return ColumnPlan(name, t, t, as_text=True, cast_on_write=True)
        return ColumnPlan(name, t, sqltypes.Text(), convert=_json_array) if src == "postgresql" else None
    if isinstance(t, sqltypes.JSON):
        kept: TypeEngine[Any] = pg.JSON() if isinstance(t, pg.JSON) and not isinstance(t, pg.JSONB) else pg.JSONB()
        # PostgreSQL's text form keeps JSON null ('null') apart from SQL NULL; the others hand over the text.
        return ColumnPlan(
            name,
            t,
            kept if to_pg else sqltypes.Text(),
            as_text=src == "postgresql",
            cast_on_write=to_pg,
            convert=_json_text if src == "sqlite" else None,
            source_processor=False,
        )
    if isinstance(t, (sqltypes.Enum, mysql.SET)):
        return ColumnPlan(name, t, sqltypes.Text(), as_text=src == "postgresql", source_processor=False)
    return ColumnPlan(name, t, t if to_pg else sqltypes.Text(), as_text=True, cast_on_write=to_pg)


def _temporal(name: str, t: TypeEngine[Any], src: str, to_pg: bool) -> ColumnPlan:
    """Dates, times and timestamps; SQLite's are text, parsed strictly (an offset or a non-ISO text fails)."""
    if src == "mysql" and isinstance(t, (sqltypes.DateTime, sqltypes.Date)):
        # Read as the server's own text and parsed by fromisoformat (C) over the column: PyMySQL's per-value
        # regex parsing took a third of a read. The text is what PyMySQL parses, so the value is the same; a
        # zero date ('0000-00-00'), which PyMySQL hands over as a string, now fails naming the column.
        kind = sqltypes.Date() if not isinstance(t, sqltypes.DateTime) else sqltypes.DateTime()
        convert = _mysql_date if isinstance(kind, sqltypes.Date) else _mysql_datetime
        return ColumnPlan(name, t, kind, as_text=True, convert=convert, source_processor=False)
    if isinstance(t, sqltypes.DateTime):
        if src == "sqlite":
            return ColumnPlan(name, t, sqltypes.DateTime(), convert=_iso_datetime, source_processor=False)
        if t.timezone:
            return ColumnPlan(
                name,
                t,
                sqltypes.DateTime(timezone=True) if to_pg else sqltypes.DateTime(),
                convert=None if to_pg else _utc_naive,
            )
        return ColumnPlan(name, t, sqltypes.DateTime())
    if isinstance(t, sqltypes.Date):
        return ColumnPlan(
            name, t, sqltypes.Date(), convert=_iso_date if src == "sqlite" else None, source_processor=src != "sqlite"
        )
    if src == "mysql":  # a MySQL TIME is a duration (-838:59:59 to 838:59:59) that pymysql reads as one
        return ColumnPlan(name, t, sqltypes.Time(), convert=_time_of_day, source_processor=False)
    return ColumnPlan(
        name, t, sqltypes.Time(), convert=_iso_time if src == "sqlite" else None, source_processor=src != "sqlite"
    )


def _integer(name: str, t: TypeEngine[Any], src: str, to_pg: bool) -> ColumnPlan:
    if src == "sqlite":  # every SQLite integer is 64-bit, whatever the declared name
        return ColumnPlan(name, t, sqltypes.BigInteger() if to_pg else sqltypes.Integer())
    unsigned = bool(getattr(t, "unsigned", False))
    if isinstance(t, sqltypes.BigInteger):
        if not unsigned:
            return ColumnPlan(name, t, sqltypes.BigInteger())
        return ColumnPlan(
            name, t, sqltypes.Numeric(20, 0) if to_pg else sqltypes.BigInteger(), convert=None if to_pg else _int64
        )
    # An unsigned column needs the next wider signed type (TINYINT UNSIGNED still fits a SMALLINT).
    tiny = isinstance(t, (mysql.TINYINT, mysql.YEAR))
    small = isinstance(t, sqltypes.SmallInteger) and not tiny
    if tiny or small and not unsigned:
        return ColumnPlan(name, t, sqltypes.SmallInteger())
    if unsigned and not small and not isinstance(t, mysql.MEDIUMINT):
        return ColumnPlan(name, t, sqltypes.BigInteger())
    return ColumnPlan(name, t, sqltypes.Integer())


def _decimal(name: str, t: sqltypes.Numeric[Any], src: str, to_pg: bool) -> ColumnPlan:
    if src == "sqlite":  # values are whatever SQLite holds (integer, real or text): kept as their exact decimal
        store: TypeEngine[Any] = sqltypes.Numeric() if to_pg else _generic(t)
        return ColumnPlan(name, t, store, convert=_sqlite_decimal if to_pg else None, source_processor=False)
    precision, scale = t.precision, t.scale
    if to_pg:
        kept = sqltypes.Numeric(precision, scale) if precision is not None else sqltypes.Numeric()
        return ColumnPlan(name, t, kept)
    if precision is not None and precision <= EXACT_FLOAT_DIGITS:
        return ColumnPlan(name, t, sqltypes.Numeric(precision, scale), convert=_decimal_float)
    # Wider than a double holds exactly: the exact decimal string (SQLite's NUMERIC would keep 15 digits).
    return ColumnPlan(name, t, sqltypes.Text(), convert=_decimal_text)


def _text(t: sqltypes.String, src: str, to_pg: bool) -> TypeEngine[Any]:
    """The same kind of string column without its collation (the store may not have it; values are unchanged)."""
    if src == "sqlite" and to_pg:
        return sqltypes.Text()  # SQLite does not enforce a declared length
    if src == "postgresql" and to_pg and isinstance(t, sqltypes.CHAR):
        return sqltypes.CHAR(t.length)
    if t.length is not None and not isinstance(t, sqltypes.CHAR) and not isinstance(t, sqltypes.Text):
        return sqltypes.String(t.length)
    return sqltypes.Text()


def _generic(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    """The generic form of a reflected type (a MySQL or SQLite column can be created on PostgreSQL), without
    a collation."""
    try:
        found = type_.as_generic()
    except NotImplementedError:
        found = type_
    if isinstance(found, sqltypes.String) and found.collation:
        return sqltypes.Text() if isinstance(found, sqltypes.Text) else sqltypes.String(found.length)
    return found


# -- converters: each keeps the value exactly or raises ValueError saying why --------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)  # uuid, ip addresses, ranges: their text form


def _json_array(value: Any) -> str:
    """A PostgreSQL array as a JSON list (nested for several dimensions); elements JSON has no type for become
    their text form."""
    for item in _flat(value):
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"array element {item!r} has no JSON form")
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _flat(value: Any) -> Any:
    for item in value:
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item


def _json_text(value: Any) -> str:
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        json.loads(text)
    except ValueError:
        raise ValueError(f"{_short(text)} is not JSON") from None
    return text


def _strict_bool(value: Any) -> bool:
    if value in (0, 1) and not isinstance(value, float | str):
        return bool(value)
    raise ValueError(f"{_short(value)} is not a boolean (0 or 1)")


def _int64(value: int) -> int:
    if value > INT64_MAX:
        raise ValueError(f"{value} does not fit a 64-bit integer of the SQLite store")
    return value


def _no_nan(value: float) -> float:
    if value != value:
        raise ValueError("NaN cannot be stored in SQLite (it would become NULL)")
    return value


# Decoders whose whole column is checked at C speed instead (True: every value passes through unchanged).
COLUMN_CHECKS: dict[Callable[[Any], Any], Callable[[Sequence[Any]], bool]] = {
    _no_nan: lambda values: not any(map(math.isnan, values)),
}


def _decimal_float(value: Decimal) -> float:
    if not value.is_finite():
        raise ValueError(f"{value} cannot be stored in a SQLite NUMERIC column")
    return float(value)


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _sqlite_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return Decimal(repr(value))  # the shortest text that reads back as the same double
    try:
        return Decimal(value.decode() if isinstance(value, bytes) else value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{_short(value)} is not a number") from None


def _utc_naive(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _iso(kind: str, value: Any, parse: Callable[[str], Any]) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"{_short(value)} is not a {kind} (SQLite holds it as {type(value).__name__})")
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"{_short(value)} is not an ISO 8601 {kind}") from None


def _iso_datetime(value: Any) -> datetime:
    found: datetime = _iso("datetime", value, datetime.fromisoformat)
    if found.tzinfo is not None:
        raise ValueError(f"{_short(value)} carries a UTC offset in a column without time zone")
    return found


def _iso_date(value: Any) -> date:
    found: date = _iso("date", value, date.fromisoformat)
    return found


def _iso_time(value: Any) -> time:
    found: time = _iso("time", value, time.fromisoformat)
    if found.tzinfo is not None:
        raise ValueError(f"{_short(value)} carries a UTC offset in a column without time zone")
    return found


def datetime_text(value: str) -> datetime:
    """datetime.fromisoformat, also for a fraction of 1, 2, 4 or 5 digits (MySQL's DATETIME(2) text), which
    Python 3.10 refuses."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        head, dot, fraction = value.partition(".")
        if dot and fraction.isdigit() and len(fraction) < 6:
            return datetime.fromisoformat(f"{head}.{fraction.ljust(6, '0')}")
        raise


def _mysql_datetime(value: Any) -> datetime:
    """A MySQL DATETIME or TIMESTAMP as text ('2026-02-01 09:00:00.123'): zero dates fail."""
    try:
        return datetime_text(value)
    except (ValueError, TypeError):
        raise ValueError(f"{_short(value)} is not a date and time (a MySQL zero date has no Python value)") from None


def _mysql_date(value: Any) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{_short(value)} is not a date (a MySQL zero date has no Python value)") from None


def _time_of_day(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, timedelta) and timedelta(0) <= value < timedelta(days=1):
        return (datetime.min + value).time()
    raise ValueError(f"{_short(value)} is not a time of day (a MySQL TIME may be a duration; this one is)")


def _finite_floats(values: Sequence[Decimal]) -> list[float]:
    if not all(map(Decimal.is_finite, values)):
        raise ValueError("a value is not finite")
    return list(map(float, values))


# Decoders with a twin that converts a whole column (without NULLs) at C speed, raising ValueError or
# TypeError where the decoder would raise for some value (that column is then decoded value by value).
COLUMN_CONVERTERS: dict[Callable[[Any], Any], Callable[[Sequence[Any]], list[Any]]] = {
    _mysql_datetime: lambda values: list(map(datetime.fromisoformat, values)),
    _mysql_date: lambda values: list(map(date.fromisoformat, values)),
    _decimal_float: _finite_floats,
}


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise ValueError(f"{_short(value)} is not binary (SQLite holds it as {type(value).__name__})")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"
