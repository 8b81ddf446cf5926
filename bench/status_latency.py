"""`SyncScheduler.get_status()` (runs on every page view) with a million runs of history on SQLite.

The runs are bulk-inserted with raw sqlite3 into the schema `prepare()` created (one job, one run a minute
going back ~1.9 years, a few failures and timeouts). No ANALYZE is run: the app does not run it either.
Baseline in the same run: a bare `SELECT 1` round trip through the same engine. Goal: median < 5 ms.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from _common import load, percentile, progress, settings_for
from sqlalchemy import text

from app.core.database import dispose_engines
from app.core.scheduler import JobDefinition, SyncScheduler
from app.core.store import JobSpec

JOB = "incremental_sync"
GOAL_MEDIAN_MS = 5.0
BATCH = 50_000
FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's DateTime stores naive UTC on SQLite


def run_rows(count: int, end: datetime) -> Iterator[tuple[object, ...]]:
    """One run a minute ending at `end`; every 50th failed, every 200th timed out, the rest succeeded."""
    first = end - timedelta(minutes=count)
    ok_result = json.dumps({"rows": 120})
    for i in range(count):
        slot = first + timedelta(minutes=i)
        started = slot + timedelta(milliseconds=5)
        finished = started + timedelta(seconds=2)
        status, error, result = "success", None, ok_result
        if i % 200 == 7:
            status, error, result = "timeout", "timed out after 600 s; the run was cancelled", None
        elif i % 50 == 3:
            status, error, result = "failed", "SourceError: connection refused by source", None
        s_started = started.strftime(FMT)
        s_finished = finished.strftime(FMT)
        yield (
            JOB,
            slot.strftime(FMT),
            "schedule",
            1,
            status,
            "bench-host:1:abcdef",
            i + 1,
            s_started,
            s_finished,
            (started + timedelta(seconds=60)).strftime(FMT),
            s_finished,
            2.0,
            120 if status == "success" else 0,
            result,
            error,
        )


def fill(db_path: Path, count: int, now: datetime) -> None:
    conn = sqlite3.connect(db_path, timeout=30)
    conn.execute("PRAGMA synchronous=NORMAL")
    rows = run_rows(count, now - timedelta(minutes=1))
    inserted = 0
    while inserted < count:
        batch = [row for _, row in zip(range(BATCH), rows, strict=False)]
        with conn:
            conn.executemany(
                "INSERT INTO runs (job_name, scheduled_for, reason, attempt, status, owner, fence, started_at,"
                " heartbeat_at, lease_expires_at, finished_at, duration_seconds, rows, result, error)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
        inserted += len(batch)
        progress(f"inserted {inserted:,} runs")
    last_id, last_finished = conn.execute("SELECT id, finished_at FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    with conn:
        conn.execute(
            "UPDATE jobs SET last_run_id=?, last_success_at=?, fence=?, next_run_at=? WHERE name=?",
            (last_id, last_finished, count, (now + timedelta(minutes=14)).strftime(FMT), JOB),
        )
        conn.execute(
            "INSERT INTO sync_cursors (name, value, version, updated_at) VALUES (?,?,?,?)",
            (JOB, json.dumps({"updated_at": last_finished}), count, last_finished),
        )
    conn.close()


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 runs and 100 calls")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    args = parser.parse_args()
    count = args.runs or (20_000 if args.quick else 1_000_000)
    calls = args.calls or (100 if args.quick else 500)

    load_before = load()
    with tempfile.TemporaryDirectory(prefix="fd-bench-") as tmp:
        db_path = Path(tmp) / "freshdash.db"
        settings = settings_for(db_path)
        definition = JobDefinition(JobSpec(JOB, interval_seconds=900.0, timeout_seconds=600.0), lambda ctx: None)
        scheduler = SyncScheduler(settings=settings, jobs=[definition], instance_id="bench")
        scheduler.prepare()
        now = scheduler.clock.now()
        scheduler.instances.beat(scheduler.instance_id, now, "running", 1)
        build_started = time.perf_counter()
        fill(db_path, count, now)
        progress(f"built {count:,} runs in {time.perf_counter() - build_started:.1f} s")

        engine = scheduler.engine

        def select_one() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1")).scalar()

        status = scheduler.get_status(JOB)
        assert status.last_result is not None and status.data_version == count, status
        for _ in range(20):  # warm the pool, SQLAlchemy's statement cache and SQLite's page cache
            scheduler.get_status(JOB)
            select_one()

        status_ms: list[float] = []
        select_ms: list[float] = []
        for _ in range(calls):  # interleaved, so noise hits both alike
            status_ms.append(timed(lambda: scheduler.get_status(JOB)))
            select_ms.append(timed(select_one))
        rate_ms = [timed(lambda: scheduler.success_rate(JOB)) for _ in range(max(calls // 5, 20))]
        history_ms = [timed(lambda: scheduler.history(limit=50)) for _ in range(max(calls // 5, 20))]
        rate = scheduler.success_rate(JOB)
        progress(f"success_rate over 24 h: {rate}")
        with engine.connect() as conn:
            for label, sql in (
                ("history", "SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 50"),
                (
                    "success_rate",
                    "SELECT count(*) FROM runs WHERE job_name='x' AND started_at >= '2026' AND status != 'running'",
                ),
            ):
                plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
                progress(f"plan {label}: " + " | ".join(str(row[-1]) for row in plan))
        dispose_engines()

    median = percentile(status_ms, 50)
    base = percentile(select_ms, 50)
    ok = median < GOAL_MEDIAN_MS
    print(
        f"bench_status_latency: get_status() with {count:,} runs median={median:.3f} "
        f"p95={percentile(status_ms, 95):.3f} ms (n={calls}); bare SELECT 1 median={base:.3f} ms; "
        f"ratio median={median / base:.1f}x; "
        f"success_rate(24h) median={percentile(rate_ms, 50):.3f} ms; history(limit=50) "
        f"median={percentile(history_ms, 50):.3f} ms (goal get_status median<{GOAL_MEDIAN_MS:g}ms) "
        f"{'PASS' if ok else 'FAIL'} [load {load_before}->{load()}]"
    )


if __name__ == "__main__":
    main()
