"""Totals of finished runs per job, status and failure reason, cheap to read with a million runs of history.

Runs older than an hour are folded once into `run_tallies` and a mark moves past them (`settle`); a read is
then those few rows plus a primary-key range scan of the runs after the mark. The retention purge folds the
unsettled runs it deletes (`archive`), so totals never go down: Prometheus would read a drop as a reset.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, literal_column, select, update

from app.core.database import dialect_insert, write_transaction
from app.core.models import Run, RunStatus, RunTally, TallyMark

runs = cast(Table, Run.__table__)
tallies, marks = cast(Table, RunTally.__table__), cast(Table, TallyMark.__table__)
FAILURE_STATUSES = (RunStatus.FAILED.value, RunStatus.TIMEOUT.value, RunStatus.ABANDONED.value)
ERROR_HEAD = 100  # characters of an error that name its class ("DeliveryError: ...")
# A run's claim committed within milliseconds; an hour later no lower run id can still appear (any replica).
SETTLE_AFTER = timedelta(hours=1)
SETTLE_CHUNK = 50_000  # runs folded per write transaction: the write lock is never held for long
MARK_ID = 1
Key = tuple[str, str, str]  # (job, status, reason); reason is "" unless the status is a failure


def failure_reason(status: str, error: str | None) -> str:
    """A short class of a failure: timeout, abandoned, or the exception type the run wrapper recorded."""
    if status in (RunStatus.TIMEOUT.value, RunStatus.ABANDONED.value):
        return status
    head = (error or "").split(":", 1)[0].strip()
    return head if head.isidentifier() else "error"


@dataclass
class RunTotals:
    runs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (job, status) -> finished runs
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # (job, reason) -> failed runs
    duration_count: Counter[str] = field(default_factory=Counter)  # job -> finished runs with a duration
    duration_sum_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, key: Key, count: int, timed: int, seconds: float) -> None:
        job, status, reason = key
        self.runs[job, status] += count
        if reason:
            self.failures[job, reason] += count
        self.duration_count[job] += timed
        self.duration_sum_seconds[job] += seconds


def run_totals(engine: Engine) -> RunTotals:
    """Totals over every finished run ever recorded, read from one snapshot of the database."""
    totals = RunTotals()
    with _snapshot(engine) as conn:
        mark = _mark(conn)
        for row in conn.execute(select(tallies)).mappings():
            key = (row["job_name"], row["status"], row["reason"])
            totals.add(key, int(row["runs"]), int(row["duration_count"]), float(row["duration_sum_seconds"]))
        for key, (count, timed, seconds) in _fold(conn, runs.c.id > mark).items():
            totals.add(key, count, timed, seconds)
    return totals


def settle(engine: Engine, now: datetime) -> int:
    """Fold finished runs older than SETTLE_AFTER into the tallies; returns how many runs were folded."""
    folded = 0
    while True:
        with engine.connect() as conn:
            mark, target = _mark(conn), _settle_target(conn, now)
        if target <= mark:  # the usual case: nothing to write, no write lock taken
            return folded
        with write_transaction(engine) as conn:
            mark = _lock_mark(conn)
            target = min(_settle_target(conn, now), mark + SETTLE_CHUNK)
            if target <= mark:
                return folded
            counts = _fold(conn, (runs.c.id > mark) & (runs.c.id <= target))
            _add(conn, counts)
            conn.execute(update(marks).where(marks.c.id == MARK_ID).values(settled_through_id=target, settled_at=now))
            folded += sum(count for count, _, _ in counts.values())


def archive(conn: Connection, run_ids: Sequence[int]) -> None:
    """Fold the unsettled runs about to be deleted (call in the deleting transaction, before the DELETE)."""
    if run_ids:
        mark = _lock_mark(conn)
        _add(conn, _fold(conn, runs.c.id.in_(run_ids) & (runs.c.id > mark)))


def _snapshot(engine: Engine) -> Connection:
    # Tallies and the tail must come from one snapshot, or a concurrent settle would count runs twice.
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn  # SQLite: one read transaction in WAL mode is a snapshot already


def _mark(conn: Connection, lock: bool = False) -> int:
    query = select(marks.c.settled_through_id).where(marks.c.id == MARK_ID)
    value = conn.execute(query.with_for_update() if lock else query).scalar()
    return int(value or 0)


def _lock_mark(conn: Connection) -> int:
    """The mark, locked until the transaction ends: a concurrent settle or purge waits here."""
    conn.execute(dialect_insert(conn, marks).values(id=MARK_ID, settled_through_id=0).on_conflict_do_nothing())
    return _mark(conn, lock=True)


def _settle_target(conn: Connection, now: datetime) -> int:
    """The highest id below which every run is finished and older than SETTLE_AFTER (index lookups only)."""
    old = conn.execute(
        select(runs.c.id)
        .where(runs.c.started_at < now - SETTLE_AFTER)
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(1)
    ).scalar()
    if old is None:
        return 0
    running = conn.execute(select(func.min(runs.c.id)).where(runs.c.status == RunStatus.RUNNING.value)).scalar()
    return int(old) if running is None else min(int(old), int(running) - 1)


def _fold(conn: Connection, where: Any) -> dict[Key, list[Any]]:
    head = func.substr(runs.c.error, 1, ERROR_HEAD)
    # Grouping by `job_name || ''` (not the bare column) keeps SQLite's planner off ix_runs_job_started,
    # which would read every run in job order instead of the primary-key range in `where`.
    job = runs.c.job_name.op("||")(literal_column("''"))
    grouped = (
        select(
            job,
            runs.c.status,
            head,
            func.count(),
            func.count(runs.c.duration_seconds),
            func.coalesce(func.sum(runs.c.duration_seconds), 0.0),
        )
        .where(where, runs.c.status != RunStatus.RUNNING.value)
        .group_by(job, runs.c.status, head)
    )
    counts: dict[Key, list[Any]] = {}
    for job, status, error, count, timed, seconds in conn.execute(grouped):
        reason = failure_reason(status, error) if status in FAILURE_STATUSES else ""
        slot = counts.setdefault((job, status, reason), [0, 0, 0.0])
        slot[0] += int(count)
        slot[1] += int(timed)
        slot[2] += float(seconds)
    return counts


def _add(conn: Connection, counts: dict[Key, list[Any]]) -> None:
    for (job, status, reason), (count, timed, seconds) in counts.items():
        statement = dialect_insert(conn, tallies).values(
            job_name=job, status=status, reason=reason, runs=count, duration_count=timed, duration_sum_seconds=seconds
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[tallies.c.job_name, tallies.c.status, tallies.c.reason],
                set_={
                    "runs": tallies.c.runs + statement.excluded.runs,
                    "duration_count": tallies.c.duration_count + statement.excluded.duration_count,
                    "duration_sum_seconds": tallies.c.duration_sum_seconds + statement.excluded.duration_sum_seconds,
                },
            )
        )
