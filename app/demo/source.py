"""The embedded demo source: a local SQLite database of realistic orders that gains new and updated rows
as time passes, so a fresh install shows real incremental syncs with zero configuration.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)

from app.clock import Clock, utc
from app.core.database import get_engine, write_transaction

REGIONS = ("North", "Northeast", "Center-West", "Southeast", "South")
PRODUCTS = {
    "Coffee beans 1kg": 79.9,
    "Espresso machine": 1899.0,
    "Grinder": 459.0,
    "Milk frother": 219.0,
    "Paper filters": 14.5,
    "Cold brew kit": 149.0,
}
CHANNELS = ("web", "app", "store", "marketplace")
FLOW = {"placed": "paid", "paid": "shipped", "shipped": "delivered"}
SEED_DAYS = 30
SEED_ORDERS = 3000
MAX_NEW_PER_GROWTH = 20_000

metadata = MetaData()
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False, index=True),
    Column("customer", String(60), nullable=False),
    Column("region", String(30), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("product", String(60), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("amount", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
)
demo_state = Table("demo_state", metadata, Column("id", Integer, primary_key=True), Column("grown_at", DateTime))


class DemoSource:
    """Owns the demo database file; `grow(now)` adds the orders placed since the last call."""

    def __init__(self, path: str, clock: Clock, orders_per_minute: int = 20, seed: int = 7) -> None:
        self.path = path
        self.clock = clock
        self.orders_per_minute = orders_per_minute
        self.random = random.Random(seed)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = get_engine(f"sqlite:///{path}")

    def ensure(self) -> None:
        """Create and seed the database (30 days of history) on first use."""
        metadata.create_all(self.engine)
        with write_transaction(self.engine) as conn:
            if conn.execute(select(demo_state.c.grown_at)).first() is not None:
                return
            now = self.clock.now()
            start = now - timedelta(days=SEED_DAYS)
            step = (now - start) / SEED_ORDERS
            rows = [self._order(i + 1, start + i * step) for i in range(SEED_ORDERS)]
            conn.execute(insert(orders), rows)
            conn.execute(insert(demo_state).values(id=1, grown_at=_naive(now)))

    def grow(self) -> int:
        """Add orders for the minutes elapsed since the last growth and move some along; returns new rows."""
        self.ensure()
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            grown_at = utc(conn.execute(select(demo_state.c.grown_at)).scalar_one())
            minutes = (now - grown_at).total_seconds() / 60.0
            count = min(int(minutes * self.orders_per_minute), MAX_NEW_PER_GROWTH)
            if count <= 0:
                return 0
            next_id = (conn.execute(select(func.max(orders.c.id))).scalar() or 0) + 1
            step = (now - grown_at) / count
            conn.execute(insert(orders), [self._order(next_id + i, grown_at + (i + 1) * step) for i in range(count)])
            self._advance_some(conn, max(count // 3, 1), now)
            conn.execute(update(demo_state).values(grown_at=_naive(now)))
        return count

    def _advance_some(self, conn: Connection, how_many: int, now: datetime) -> None:
        open_orders = conn.execute(
            select(orders.c.id, orders.c.status)
            .where(orders.c.status.in_(tuple(FLOW)), ~orders.c.deleted)
            .order_by(orders.c.id.desc())
            .limit(how_many * 4)
        ).all()
        for order_id, status in self.random.sample(open_orders, min(how_many, len(open_orders))):
            cancel = status == "placed" and self.random.random() < 0.1
            values = {"updated_at": _naive(now), "status": "cancelled" if cancel else FLOW[status]}
            if cancel:
                values["deleted"] = True  # a soft delete the sync carries to the dashboard
            conn.execute(update(orders).where(orders.c.id == order_id).values(**values))

    def _order(self, order_id: int, at: datetime) -> dict[str, object]:
        product = self.random.choice(tuple(PRODUCTS))
        quantity = self.random.choices((1, 2, 3, 4, 6), weights=(60, 20, 10, 6, 4))[0]
        return {
            "id": order_id,
            "created_at": _naive(at),
            "updated_at": _naive(at),
            "customer": f"customer-{self.random.randint(1, 900):04d}",
            "region": self.random.choices(REGIONS, weights=(6, 18, 9, 45, 22))[0],
            "channel": self.random.choice(CHANNELS),
            "product": product,
            "quantity": quantity,
            "amount": round(PRODUCTS[product] * quantity * self.random.uniform(0.9, 1.05), 2),
            "status": "delivered" if at < self.clock.now() - timedelta(days=3) else "placed",
            "deleted": False,
        }


def _naive(value: datetime) -> datetime:
    return utc(value).replace(tzinfo=None)
