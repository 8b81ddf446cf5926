"""Read-only queries over the synced orders for the dashboard (soft-deleted rows excluded).

Totals, the chart and the filter choices read the daily summary that the sync keeps (app/demo/summary.py);
only the last 24 h and the latest rows touch the orders table, through indexes. Before the first sync that
builds the summary, the same numbers are aggregated from the orders (a full scan, as before).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    FromClause,
    bindparam,
    column,
    func,
    inspect,
    literal,
    select,
    table,
)

from app.clock import utc
from app.demo import summary

DESTINATION_TABLE = "orders"  # the demo dataset's table

orders = table(
    DESTINATION_TABLE,
    column("id"),
    column("created_at"),
    column("updated_at"),
    column("customer"),
    column("region"),
    column("channel"),
    column("product"),
    column("quantity"),
    column("amount"),
    column("status"),
    column("deleted"),
)
live = summary.live(orders)


def has_orders(engine: Engine) -> bool:
    return inspect(engine).has_table(DESTINATION_TABLE)


def _days(conn: Connection) -> FromClause:
    """The daily summary, or the same rows aggregated on the fly while it does not exist yet."""
    return summary.daily if summary.exists(conn) else summary.aggregate(orders).subquery("days")


def kpis(engine: Engine, now: datetime) -> dict[str, Any]:
    # naive UTC, typed so the driver compares it with the stored created_at (an index range)
    day_ago = bindparam("day_ago", (now - timedelta(days=1)).replace(tzinfo=None), type_=DateTime())
    recent_day = select(func.count(), func.coalesce(func.sum(orders.c.amount), 0.0)).where(
        live, orders.c.created_at >= day_ago
    )
    with engine.connect() as conn:
        days = _days(conn)
        count, revenue = conn.execute(
            select(func.coalesce(func.sum(days.c.orders), 0), func.coalesce(func.sum(days.c.revenue), 0.0))
        ).one()
        count_24h, revenue_24h = conn.execute(recent_day).one()
    count, revenue = int(count), float(revenue)  # PostgreSQL sums integers as numeric
    return {
        "orders": count,
        "revenue": revenue,
        "average": revenue / count if count else 0.0,
        "orders_24h": int(count_24h),
        "revenue_24h": float(revenue_24h),
    }


def daily_revenue(engine: Engine, days: int = 30) -> list[dict[str, Any]]:
    """Revenue per day and region over the last `days` days that have orders (days as 'YYYY-MM-DD')."""
    with engine.connect() as conn:
        source = _days(conn)
        query = (
            select(source.c.day, source.c.region, func.sum(source.c.revenue).label("revenue"))
            .group_by(source.c.day, source.c.region)
            .order_by(source.c.day, source.c.region)
        )
        rows = [{**r, "day": str(r["day"])} for r in conn.execute(query).mappings()]
    days_seen = sorted({r["day"] for r in rows})[-days:]
    return [r for r in rows if r["day"] in days_seen]


def recent(
    engine: Engine, regions: tuple[str, ...] = (), statuses: tuple[str, ...] = (), limit: int = 500
) -> list[dict[str, Any]]:
    query = select(orders).where(live).order_by(orders.c.updated_at.desc(), orders.c.id.desc()).limit(limit)
    if regions:
        query = query.where(orders.c.region.in_(regions))
    if statuses:
        query = query.where(orders.c.status.in_(statuses))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def choices(engine: Engine) -> dict[str, list[str]]:
    """The regions and statuses that live orders have (a filter never offers an empty table)."""
    with engine.connect() as conn:
        days = _days(conn)

        def distinct(name: str) -> list[str]:
            query = select(days.c[name]).where(days.c[name] != "").distinct().order_by(days.c[name])
            return list(conn.execute(query).scalars())

        return {"regions": distinct("region"), "statuses": distinct("status")}


# -- one period [start, end) of created orders (the e-mailed report) -----------------------------------


def _naive_utc(value: datetime) -> datetime:
    """The synced orders table stores naive UTC timestamps."""
    return utc(value).replace(tzinfo=None)


def _created_between(start: datetime, end: datetime) -> Any:
    # Typed binds: SQLite then compares the same text form the sync wrote ("YYYY-MM-DD HH:MM:SS.ffffff").
    low, high = literal(_naive_utc(start), DateTime()), literal(_naive_utc(end), DateTime())
    return live & (orders.c.created_at >= low) & (orders.c.created_at < high)


def period_kpis(engine: Engine, start: datetime, end: datetime) -> dict[str, Any]:
    """Orders, revenue, average order and units of the orders created in [start, end)."""
    query = select(
        func.count(), func.coalesce(func.sum(orders.c.amount), 0.0), func.coalesce(func.sum(orders.c.quantity), 0)
    ).where(_created_between(start, end))
    with engine.connect() as conn:
        count, revenue, units = conn.execute(query).one()
    return {
        "orders": int(count),
        "revenue": float(revenue),
        "average": float(revenue) / count if count else 0.0,
        "units": int(units),
    }


def period_breakdown(engine: Engine, start: datetime, end: datetime, by: str) -> list[dict[str, Any]]:
    """Orders and revenue per value of column `by` (region, channel, status ...) in [start, end)."""
    key = orders.c[by]
    query = (
        select(
            key.label(by), func.count().label("orders"), func.coalesce(func.sum(orders.c.amount), 0.0).label("revenue")
        )
        .where(_created_between(start, end))
        .group_by(key)
        .order_by(key)
    )
    with engine.connect() as conn:
        return [
            {by: r[by], "orders": int(r["orders"]), "revenue": float(r["revenue"])}
            for r in conn.execute(query).mappings()
        ]


def orders_between(engine: Engine, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every live order created in [start, end), oldest first."""
    query = select(orders).where(_created_between(start, end)).order_by(orders.c.created_at, orders.c.id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
