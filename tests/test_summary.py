"""The dashboard's daily summary: kept in step by each sync batch, in the batch's transaction, days touched only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    update,
)

from app.clock import FrozenClock
from app.core.database import create_schema, get_engine, write_transaction
from app.demo import orders, summary
from app.sync.engine import Syncer
from app.sync.source import SqlTableSource

T0 = datetime(2026, 3, 10, 12, 0)
REGIONS = ("North", "South", "East")
STATUSES = ("paid", "shipped", "delivered")


class Shop:
    """A real source table with the dashboard's columns and a real store synced from it."""

    def __init__(self, source_url: str, store_url: str) -> None:
        self.source = create_engine(source_url)
        self.table = Table(
            "src_orders",
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("created_at", DateTime, nullable=False),
            Column("updated_at", DateTime, nullable=False),
            Column("region", String(20)),
            Column("status", String(20)),
            Column("amount", Float),
            Column("deleted", Boolean, default=False),
        )
        self.table.metadata.create_all(self.source)
        self.store = get_engine(store_url)
        create_schema(self.store)
        self.clock = FrozenClock(datetime(2026, 3, 20, tzinfo=timezone.utc))
        self.next_id = 1
        self.edits = 0

    def sync(self, batch_size: int = 7, hook: Any = summary.maintain) -> None:
        source = SqlTableSource(self.source, "src_orders")
        Syncer(self.store, source, "orders", self.clock, "sync", around_batch=hook).run(batch_size)

    def add(self, count: int, day: date) -> list[int]:
        ids = list(range(self.next_id, self.next_id + count))
        self.next_id += count
        created = datetime.combine(day, datetime.min.time()) + timedelta(hours=9)
        rows = [
            {
                "id": i,
                "created_at": created + timedelta(minutes=i),
                "updated_at": self.tick(),
                "region": REGIONS[i % 3],
                "status": STATUSES[i % 3],
                "amount": float(i % 11) + 0.25,
                "deleted": False,
            }
            for i in ids
        ]
        with self.source.begin() as conn:
            conn.execute(insert(self.table), rows)
        return ids

    def change(self, ids: list[int], **values: Any) -> None:
        with self.source.begin() as conn:
            conn.execute(update(self.table).where(self.table.c.id.in_(ids)).values(updated_at=self.tick(), **values))

    def tick(self) -> datetime:
        self.edits += 1
        return T0 + timedelta(seconds=self.edits)

    def stored_summary(self) -> list[tuple[Any, ...]]:
        with self.store.connect() as conn:
            rows = conn.execute(select(summary.daily).order_by(*summary.daily.primary_key.columns)).all()
        return [(str(r.day), r.region, r.status, r.orders, round(r.revenue, 6)) for r in rows]

    def recomputed(self) -> list[tuple[Any, ...]]:
        """The summary as a full aggregation of the stored orders says it should be."""
        agg = summary.aggregate(orders.orders).subquery()
        with self.store.connect() as conn:
            rows = conn.execute(select(agg).order_by(agg.c.day, agg.c.region, agg.c.status)).all()
        return [(str(r.day)[:10], r.region, r.status, r.orders, round(r.revenue, 6)) for r in rows]


@pytest.fixture
def shop(tmp_path: Any, db_url: str) -> Iterator[Shop]:
    s = Shop(f"sqlite:///{tmp_path / 'source.db'}", db_url)
    yield s
    s.source.dispose()


def day(n: int) -> date:
    return date(2026, 3, 1) + timedelta(days=n)


def test_the_summary_equals_a_full_aggregation_after_inserts_updates_and_soft_deletes(shop: Shop) -> None:
    first = shop.add(20, day(0)) + shop.add(15, day(1))
    shop.sync()
    assert shop.stored_summary() == shop.recomputed() != []
    shop.add(9, day(2))
    shop.change(first[:5], status="shipped", amount=99.5)
    shop.change(first[10:14], deleted=True)  # soft deletes leave the totals
    shop.change(first[20:22], region=None)
    shop.sync()
    assert shop.stored_summary() == shop.recomputed()
    assert sum(r[3] for r in shop.stored_summary()) == 44 - 4


def test_an_order_moved_to_another_day_leaves_its_old_day(shop: Shop) -> None:
    ids = shop.add(3, day(0))
    shop.sync()
    shop.change(ids[:1], created_at=datetime.combine(day(5), datetime.min.time()))
    shop.sync()
    assert shop.stored_summary() == shop.recomputed()
    assert sum(r[3] for r in shop.stored_summary() if r[0] == str(day(0))) == 2


def test_only_the_days_a_batch_touches_are_recomputed(shop: Shop) -> None:
    shop.add(5, day(0))
    ids = shop.add(5, day(1))
    shop.sync()
    with shop.store.begin() as conn:  # a marker: recomputing day 0 would overwrite it
        conn.execute(update(summary.daily).where(summary.daily.c.day == day(0)).values(orders=1000))
    shop.change(ids, status="delivered")
    shop.sync()
    stored = shop.stored_summary()
    assert {r[3] for r in stored if r[0] == str(day(0))} == {1000}
    assert [r for r in stored if r[0] == str(day(1))] == [r for r in shop.recomputed() if r[0] == str(day(1))]


def test_a_batch_that_fails_after_the_summary_was_updated_rolls_both_back(shop: Shop) -> None:
    ids = shop.add(6, day(0))
    shop.sync()
    before, rows_before = shop.stored_summary(), shop.recomputed()
    shop.change(ids, amount=500.0)

    @contextmanager
    def then_fail(conn: Any, table: Table, batch: Any) -> Iterator[None]:
        with summary.maintain(conn, table, batch):
            yield
        assert shop.stored_summary() == before  # another connection does not see it yet
        raise RuntimeError("crash after the summary was written")

    with pytest.raises(RuntimeError, match="crash"):
        shop.sync(hook=then_fail)
    assert shop.stored_summary() == before and shop.recomputed() == rows_before
    shop.sync()  # the next run catches up
    assert shop.stored_summary() == shop.recomputed() != before


def test_the_first_sync_after_an_upgrade_builds_the_summary_from_every_order(shop: Shop) -> None:
    shop.add(12, day(0))
    shop.sync(hook=None)  # an older version: orders, no summary
    with shop.store.connect() as conn:
        assert not summary.exists(conn)
    assert orders.kpis(shop.store, shop.clock.now())["orders"] == 12  # the fallback aggregates the orders
    shop.add(3, day(1))
    shop.sync()
    assert shop.stored_summary() == shop.recomputed()
    assert sum(r[3] for r in shop.stored_summary()) == 15


def test_dashboard_queries_read_the_summary_and_match_the_orders(shop: Shop) -> None:
    ids = shop.add(30, day(17)) + shop.add(30, day(18))  # the clock is at day 19: day 18 is the last 24 h
    shop.change(ids[:3], deleted=True)
    shop.sync()
    now = datetime.combine(day(19), datetime.min.time()).replace(tzinfo=timezone.utc)
    with_summary = (orders.kpis(shop.store, now), orders.daily_revenue(shop.store), orders.choices(shop.store))
    assert with_summary[0]["orders"] == 57 and with_summary[0]["orders_24h"] == 30
    assert [r["day"] for r in with_summary[1]][:1] == [str(day(17))]
    with write_transaction(shop.store) as conn:  # the bookkeeping is the only difference
        conn.execute(update(summary.daily).values(orders=0, revenue=0.0))
    assert orders.kpis(shop.store, now)["orders"] == 0  # proof that the summary is what is read
    with write_transaction(shop.store) as conn:
        summary.daily.drop(conn)
    fallback = (orders.kpis(shop.store, now), orders.daily_revenue(shop.store), orders.choices(shop.store))
    assert fallback == with_summary


def test_a_destination_without_the_dashboard_columns_gets_no_summary(tmp_path: Any, sqlite_url: str) -> None:
    source = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    plain = Table("plain", MetaData(), Column("id", Integer, primary_key=True), Column("updated_at", DateTime))
    plain.metadata.create_all(source)
    with source.begin() as conn:
        conn.execute(insert(plain), [{"id": 1, "updated_at": T0}])
    store: Engine = get_engine(sqlite_url)
    create_schema(store)
    Syncer(store, SqlTableSource(source, "plain"), "plain", FrozenClock(), around_batch=summary.maintain).run(10)
    with store.connect() as conn:
        assert not summary.exists(conn)
    source.dispose()
