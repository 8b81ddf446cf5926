"""The daily summary of the synced orders: (day, region, status) -> orders, revenue of the live rows.

The sync keeps it in step: each batch applies the change its orders make to their cells, inside the batch's
transaction (`maintain`, the engine's `around_batch` hook), so the dashboard reads a few hundred rows instead
of every order. It never decides anything about runs and never imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
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

from app.core.database import dialect_insert, write_transaction
from app.sync.source import Batch

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
def maintain(conn: Connection, orders: Table, batch: Batch) -> Iterator[None]:
    """Wraps a batch's upsert: what the batch's orders added to the summary before is taken away and what they
    add now is added, so a batch costs a few statements whatever the size of the table or of its days.

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
    keys = _stored_keys(conn, key, [row[batch.names.index(key.name)] for row in batch.rows])
    before = _contributions(conn, orders, key, keys)  # an update may move an order to another day or status
    yield
    _apply(conn, _delta(_batch_contributions(batch), before))


Cell = tuple[date, str, str]


def _contributions(conn: Connection, orders: Table, key: Column[Any], keys: list[Any]) -> dict[Cell, list[float]]:
    """What the given orders count in each (day, region, status) cell: [orders, revenue]."""
    cells: dict[Cell, list[float]] = {}
    chunk = 500  # bounded IN lists (SQLite's variable limit, statement cache size)
    for i in range(0, len(keys), chunk):
        for row in conn.execute(aggregate(orders).where(key.in_(keys[i : i + chunk]))):
            cell = cells.setdefault((_as_date(row.day), row.region, row.status), [0, 0.0])
            cell[0] += row.orders
            cell[1] += row.revenue
    return cells


def _stored_keys(conn: Connection, key: Column[Any], keys: list[Any]) -> list[Any]:
    """The keys that may already be stored: those above the largest stored key are new (an initial load's
    batches then cost no lookup)."""
    largest = conn.execute(select(func.max(key))).scalar()
    if largest is None:
        return []
    try:
        return [k for k in keys if k <= largest]
    except TypeError:  # keys the driver returns in another type than the batch's: look them all up
        return keys


def _batch_contributions(batch: Batch) -> dict[Cell, list[float]]:
    """The same cells computed from the batch's own rows (what they count once written), without a query.

    Mirrors `aggregate`: the day of created_at as the store has it (SQLite keeps the text the source gave),
    a missing region or status as "", a soft-deleted row (deleted true) counting nowhere.
    """
    at = {name: i for i, name in enumerate(batch.names)}
    created, region, status, amount, deleted = (at[n] for n in ("created_at", "region", "status", "amount", "deleted"))
    raw: dict[tuple[Any, str, str], list[float]] = {}
    for row in batch.rows:
        stamp = row[created]
        if stamp is None or row[deleted] is True or row[deleted] == 1:
            continue
        day = stamp[:10] if isinstance(stamp, str) else stamp.date() if isinstance(stamp, datetime) else stamp
        cell = raw.setdefault((day, row[region] or "", row[status] or ""), [0, 0.0])
        cell[0] += 1
        cell[1] += row[amount] or 0.0
    cells: dict[Cell, list[float]] = {}
    for (day, region_, status_), (count, revenue) in raw.items():  # a few dozen cells: parse each day once
        cell = cells.setdefault((_as_date(day), region_, status_), [0, 0.0])
        cell[0] += count
        cell[1] += revenue
    return cells


def _delta(after: dict[Cell, list[float]], before: dict[Cell, list[float]]) -> dict[Cell, tuple[int, float]]:
    changes: dict[Cell, tuple[int, float]] = {}
    for cell in after.keys() | before.keys():
        new, old = after.get(cell, [0, 0.0]), before.get(cell, [0, 0.0])
        if new != old:
            changes[cell] = (int(new[0] - old[0]), new[1] - old[1])
    return changes


def _apply(conn: Connection, changes: dict[Cell, tuple[int, float]]) -> None:
    """Add the changes to their cells (upsert) and drop the cells no order is left in."""
    if not changes:
        return
    stmt = dialect_insert(conn, daily)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "region", "status"],
        set_={"orders": daily.c.orders + stmt.excluded.orders, "revenue": daily.c.revenue + stmt.excluded.revenue},
    )
    rows = [{"day": d, "region": r, "status": st, "orders": n, "revenue": v} for (d, r, st), (n, v) in changes.items()]
    conn.execute(stmt, rows)
    days = sorted({cell[0] for cell in changes})
    conn.execute(delete(daily).where(daily.c.day.in_(days), daily.c.orders <= 0))


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
