"""Read-only queries over the synced orders for the dashboard (soft-deleted rows excluded)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Engine, column, func, inspect, literal, select, table

from app.clock import utc
from app.sync.job import DESTINATION_TABLE

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
live = orders.c.deleted.is_(False) | orders.c.deleted.is_(None)


def has_orders(engine: Engine) -> bool:
    return inspect(engine).has_table(DESTINATION_TABLE)


def kpis(engine: Engine, now: datetime) -> dict[str, Any]:
    day_ago = (now - timedelta(days=1)).replace(tzinfo=None)
    query = select(
        func.count(),
        func.coalesce(func.sum(orders.c.amount), 0.0),
        func.count().filter(orders.c.created_at >= day_ago),
        func.coalesce(func.sum(orders.c.amount).filter(orders.c.created_at >= day_ago), 0.0),
    ).where(live)
    with engine.connect() as conn:
        count, revenue, count_24h, revenue_24h = conn.execute(query).one()
    return {
        "orders": int(count),
        "revenue": float(revenue),
        "average": float(revenue) / count if count else 0.0,
        "orders_24h": int(count_24h),
        "revenue_24h": float(revenue_24h),
    }


def daily_revenue(engine: Engine, days: int = 30) -> list[dict[str, Any]]:
    day = func.date(orders.c.created_at)
    query = (
        select(day.label("day"), orders.c.region, func.sum(orders.c.amount).label("revenue"))
        .where(live)
        .group_by(day, orders.c.region)
        .order_by(day)
    )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    days_seen = sorted({str(r["day"]) for r in rows})[-days:]
    return [r for r in rows if str(r["day"]) in days_seen]


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
    with engine.connect() as conn:
        regions = list(conn.execute(select(orders.c.region).distinct().order_by(orders.c.region)).scalars())
        statuses = list(conn.execute(select(orders.c.status).distinct().order_by(orders.c.status)).scalars())
    return {"regions": regions, "statuses": statuses}


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
