"""Firing lateness of a 1-second interval job: Freshdash SyncScheduler versus plain APScheduler, same run.

Freshdash: a real `start()` (APScheduler timer, SystemClock, SQLite file); lateness is measured where the
job's code begins, as `clock.now() - claim.scheduled_for`, so it includes the claim transaction and the
run's worker thread (what a user of the job sees). The runs table's `started_at - scheduled_for` (clock read
before the claim) is reported beside it. Plain APScheduler: the time the function is called minus the
event's `scheduled_run_time`. The first run of each is dropped (start-up). Goal: p99 <= 1.2x and < 50 ms.
By default the two run one after the other (60 s each); `--rounds N` alternates N shorter blocks of each.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

from _common import load, percentile, progress, settings_for
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from app.clock import SystemClock
from app.core.database import dispose_engines
from app.core.runner import RunContext
from app.core.scheduler import JobDefinition, SyncScheduler
from app.core.store import JobSpec, runs

GOAL_RATIO = 1.2
GOAL_P99_MS = 50.0


def freshdash(seconds: float) -> tuple[list[float], list[float], int]:
    """(lateness in the job function ms, lateness from the runs table ms, runs not on the 1 s grid)."""
    in_job: list[tuple[datetime, datetime]] = []

    def tick(ctx: RunContext) -> None:
        called = ctx.clock.now()
        in_job.append((ctx.claim.scheduled_for, called))

    with tempfile.TemporaryDirectory(prefix="fd-bench-") as tmp:
        settings = settings_for(Path(tmp) / "freshdash.db", SCHEDULER_POLL_SECONDS=5)
        definition = JobDefinition(JobSpec("tick", interval_seconds=1.0, timeout_seconds=30.0), tick)
        scheduler = SyncScheduler(settings=settings, clock=SystemClock(), jobs=[definition], instance_id="bench")
        scheduler.start()
        threading.Event().wait(seconds)
        scheduler.shutdown(wait=True)
        with scheduler.engine.connect() as conn:
            rows = conn.execute(
                select(runs.c.scheduled_for, runs.c.started_at, runs.c.reason).order_by(runs.c.id)
            ).all()
        dispose_engines()
    first = rows[0][0] if rows else None
    off_grid = sum(1 for r in rows[1:] if first is not None and (r[0] - first).total_seconds() % 1.0 > 1e-6)
    job_ms = [(called - due).total_seconds() * 1000 for due, called in in_job[1:]]
    table_ms = [(started - due).total_seconds() * 1000 for due, started, _ in rows[1:]]
    return job_ms, table_ms, off_grid


def plain_apscheduler(seconds: float) -> tuple[list[float], int]:
    """(lateness ms, misfired runs) of a BackgroundScheduler with IntervalTrigger(seconds=1)."""
    called: list[datetime] = []
    scheduled: list[datetime] = []
    missed: list[datetime] = []

    def tick() -> None:
        called.append(datetime.now(timezone.utc))

    def listen(event: JobExecutionEvent) -> None:
        (missed if event.code == EVENT_JOB_MISSED else scheduled).append(event.scheduled_run_time)

    aps = BackgroundScheduler(timezone=timezone.utc)
    aps.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    # First fire at once, as Freshdash's first (catch-up) run; both first runs are dropped below.
    first = datetime.now(timezone.utc)
    aps.add_job(tick, IntervalTrigger(seconds=1, timezone=timezone.utc), id="tick", next_run_time=first)
    aps.start()
    threading.Event().wait(seconds)
    aps.shutdown(wait=True)
    # max_instances=1 and a job that returns at once: calls and executed events pair up in order.
    pairs = list(zip(scheduled, called, strict=False))
    if len(scheduled) != len(called):
        progress(f"warning: {len(called)} calls but {len(scheduled)} executed events")
    return [(c - s).total_seconds() * 1000 for s, c in pairs[1:]], len(missed)


def stats(values: list[float]) -> str:
    return f"p50={percentile(values, 50):.2f} p99={percentile(values, 99):.2f} max={max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 s per scheduler instead of 60 s")
    parser.add_argument("--seconds", type=float, default=None, help="measurement time per scheduler")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="split each scheduler's time into this many alternating blocks (plain, freshdash, plain, ...) so "
        "load from other processes hits both alike; 1 (default) = one block each, one after the other",
    )
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 60.0)
    block = seconds / max(args.rounds, 1)

    load_before = load()
    base_ms: list[float] = []
    job_ms: list[float] = []
    table_ms: list[float] = []
    base_missed = off_grid = 0
    for round_no in range(max(args.rounds, 1)):
        progress(f"round {round_no + 1}/{args.rounds}: plain APScheduler for {block:g} s")
        base, missed = plain_apscheduler(block)
        base_ms += base
        base_missed += missed
        progress(f"round {round_no + 1}/{args.rounds}: Freshdash SyncScheduler for {block:g} s")
        job, table, off = freshdash(block)
        job_ms += job
        table_ms += table
        off_grid += off

    ratio = percentile(job_ms, 99) / percentile(base_ms, 99)
    ok = ratio <= GOAL_RATIO and percentile(job_ms, 99) < GOAL_P99_MS
    layout = "one after the other" if args.rounds <= 1 else f"{args.rounds} alternating blocks"
    print(
        f"bench_firing_lateness: freshdash {stats(job_ms)} ms (n={len(job_ms)}, measured in the job; "
        f"runs table started_at-scheduled_for p50={percentile(table_ms, 50):.2f} p99={percentile(table_ms, 99):.2f} "
        f"ms, off-grid={off_grid}); plain apscheduler {stats(base_ms)} ms (n={len(base_ms)}, missed={base_missed}); "
        f"{seconds:g} s each, {layout}; "
        f"ratio p99={ratio:.2f}x (table p99 {percentile(table_ms, 99) / percentile(base_ms, 99):.2f}x) "
        f"(goal <={GOAL_RATIO}x and p99<{GOAL_P99_MS:g}ms) {'PASS' if ok else 'FAIL'} [load {load_before}->{load()}]"
    )


if __name__ == "__main__":
    main()
