"""The daily summary of the synced orders: (day, region, status) -> orders, revenue of the live rows.

The sync keeps it in step: each batch recomputes only the days it touches, inside the batch's transaction
(`maintain`, the engine's `around_batch` hook), so the dashboard reads a few hundred rows instead of every
order. It never decides anything about runs and never imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Date,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.sql.expression import TableClause

from app.core.database import write_transaction

SUMMARY_TABLE = "orders_daily"
NEEDED = ("created_at", "region", "status", "amount", "deleted")  # what the dashboard reads

daily = Table(
    SUMMARY_TABLE,
    MetaData(),
    Column("day", Date, primary_key=True),
    Column("region", Text, primary_key=True),  # "" for a missing region (a key part cannot be NULL)
    Column("status", Text, primary_key=True),
    Column("orders", Integer, nullable=False),
    Column("revenue", Float, nullable=False),
)


def live(orders: TableClause) -> ColumnElement[bool]:
    """Soft-deleted rows (deleted true) are not orders any more; NULL counts as not deleted."""
    return orders.c.deleted.is_not(True)


def aggregate(orders: TableClause) -> Select[Any]:
    """The summary's rows computed from the orders themselves (also the fallback before the table exists)."""
    day = func.date(orders.c.created_at)
    region, status = func.coalesce(orders.c.region, ""), func.coalesce(orders.c.status, "")
    return (
        select(
            day.label("day"),
            region.label("region"),
            status.label("status"),
            func.count().label("orders"),
            func.coalesce(func.sum(orders.c.amount), 0.0).label("revenue"),
        )
        .where(live(orders))
        .group_by(day, region, status)
    )


def applies_to(orders: Table) -> bool:
    """Only a destination with the dashboard's columns and a one-column key gets a summary."""
    return all(name in orders.c for name in NEEDED) and len(orders.primary_key.columns) == 1


def exists(conn: Connection) -> bool:
    return inspect(conn).has_table(SUMMARY_TABLE)


def rebuild(conn: Connection, orders: Table) -> None:
    """Create the summary (and the created_at index that day ranges use) and fill it from every order."""
    Index(f"ix_{orders.name}_created_at", orders.c.created_at).create(conn, checkfirst=True)
    daily.create(conn, checkfirst=True)
    conn.execute(delete(daily))
    conn.execute(insert(daily).from_select(list(daily.c.keys()), aggregate(orders)))


def rebuild_for(engine: Engine, table_name: str) -> None:
    """After rows were written outside the sync (a bulk load): recompute the whole summary once."""
    with write_transaction(engine) as conn:
        rebuild(conn, Table(table_name, MetaData(), autoload_with=conn))


@contextmanager
def maintain(conn: Connection, orders: Table, keys: list[Any]) -> Iterator[None]:
    """Wraps a batch's upsert: the days its rows were on before and are on after are recomputed.

    The first batch after an upgrade builds the summary from every order instead.
    """
    if not applies_to(orders):
        yield
        return
    if not exists(conn):
        yield
        rebuild(conn, orders)
        return
    key = next(iter(orders.primary_key.columns))
    days = _days_of(conn, orders, key, keys)  # an update may move an order off a day
    yield
    recompute(conn, orders, days | _days_of(conn, orders, key, keys))


def recompute(conn: Connection, orders: Table, days: Iterable[date]) -> None:
    """Replace the summary rows of `days` by aggregating those days' orders (an index range each)."""
    for day in sorted(days):
        start = datetime.combine(day, time())
        in_day = (orders.c.created_at >= start) & (orders.c.created_at < start + timedelta(days=1))
        conn.execute(delete(daily).where(daily.c.day == day))
        conn.execute(insert(daily).from_select(list(daily.c.keys()), aggregate(orders).where(in_day)))


def _days_of(conn: Connection, orders: Table, key: Column[Any], keys: list[Any]) -> set[date]:
    """Distinct (UTC) days of the given orders' created_at, as the store computes them."""
    days: set[date] = set()
    chunk = 500  # bounded IN lists (SQLite's variable limit, statement cache size)
    for i in range(0, len(keys), chunk):
        query = select(func.date(orders.c.created_at)).where(key.in_(keys[i : i + chunk])).distinct()
        days.update(_as_date(value) for value in conn.execute(query).scalars() if value is not None)
    return days


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
