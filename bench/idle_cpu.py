"""Idle CPU of a process whose scheduler is started with 100 jobs, versus plain APScheduler with 100 jobs.

Each side runs in its own child process (so neither sees the other's threads): start, wait until the
catch-up runs are done (Freshdash runs every job once at start), warm up, then measure the process's CPU
time (all threads) over the idle window. Jobs run every 15 min, so nothing runs while measuring; what is
left is the timer, Freshdash's housekeeping tick (SCHEDULER_POLL_SECONDS, default 5 s) and idle threads.
Goal: Freshdash under 1% of one core.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import load, progress, settings_for

GOAL_PERCENT = 1.0
INTERVAL_SECONDS = 900.0


def measure(seconds: float) -> dict[str, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    threading.Event().wait(seconds)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "percent": 100.0 * cpu / wall,
        "threads": threading.active_count(),
    }


def phase_freshdash(jobs: int, warmup: float, seconds: float) -> dict[str, float]:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
    from sqlalchemy import func, select

    from app.core.database import dispose_engines
    from app.core.scheduler import HOUSEKEEPING_ID, JobDefinition, SyncScheduler
    from app.core.store import JobSpec, runs

    with tempfile.TemporaryDirectory(prefix="fd-bench-") as tmp:
        settings = settings_for(Path(tmp) / "freshdash.db")
        definitions = [
            JobDefinition(JobSpec(f"job_{i:03d}", INTERVAL_SECONDS, timeout_seconds=60.0), lambda ctx: None)
            for i in range(jobs)
        ]
        scheduler = SyncScheduler(settings=settings, jobs=definitions, instance_id="bench")
        started = time.perf_counter()
        scheduler.start()
        # Every job has a finished run and none is running (the start may run a job twice, see RESULTS.md).
        finished = select(func.count(runs.c.job_name.distinct())).where(runs.c.status != "running")
        running = select(func.count()).select_from(runs).where(runs.c.status == "running")
        waiter = threading.Event()
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            with scheduler.engine.connect() as conn:
                done = conn.execute(finished).scalar_one()
                busy = conn.execute(running).scalar_one()
            if done >= jobs and not busy:
                break
            waiter.wait(0.2)
        catch_up = time.perf_counter() - started
        progress(f"freshdash: catch-up runs of {done} jobs finished in {catch_up:.1f} s; warming up {warmup:g} s")
        waiter.wait(warmup)
        with scheduler.engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(runs)).scalar_one()
        # Count the housekeeping ticks inside the window (a private hook, read-only: one event per tick).
        ticks: list[str] = []
        timer = scheduler.timer._aps
        assert timer is not None
        timer.add_listener(lambda event: ticks.append(event.job_id), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        result = measure(seconds)
        result["housekeeping_ticks"] = sum(1 for job_id in ticks if job_id == HOUSEKEEPING_ID)
        with scheduler.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(runs)).scalar_one()
        scheduler.shutdown(wait=True)
        dispose_engines()
    result.update(
        catch_up_seconds=catch_up,
        runs=total,
        runs_while_measuring=total - before,
        poll_seconds=settings.scheduler_poll_seconds,
    )
    return result


def phase_plain(jobs: int, warmup: float, seconds: float) -> dict[str, float]:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    aps = BackgroundScheduler()
    for i in range(jobs):
        aps.add_job(lambda: None, IntervalTrigger(seconds=INTERVAL_SECONDS), id=f"job_{i:03d}")
    aps.start()
    threading.Event().wait(warmup)
    result = measure(seconds)
    aps.shutdown(wait=True)
    return result


def child(phase: str, jobs: int, warmup: float, seconds: float) -> dict[str, float]:
    options = {"--phase": phase, "--jobs": str(jobs), "--warmup": str(warmup), "--seconds": str(seconds)}
    command = [sys.executable, __file__, *(part for pair in options.items() for part in pair)]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="5.5 s idle windows (one housekeeping tick) instead of 30 s"
    )
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=None, help="idle window measured")
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--phase", choices=("freshdash", "plain"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    seconds = args.seconds or (5.5 if args.quick else 30.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 6.0)

    if args.phase == "freshdash":
        print(json.dumps(phase_freshdash(args.jobs, warmup, seconds)))
        return
    if args.phase == "plain":
        print(json.dumps(phase_plain(args.jobs, warmup, seconds)))
        return

    load_before = load()
    progress(f"plain APScheduler, {args.jobs} jobs, {seconds:g} s idle")
    base = child("plain", args.jobs, warmup, seconds)
    progress(f"Freshdash SyncScheduler, {args.jobs} jobs, {seconds:g} s idle")
    fresh = child("freshdash", args.jobs, warmup, seconds)
    ok = fresh["percent"] < GOAL_PERCENT
    ratio = fresh["percent"] / base["percent"] if base["percent"] > 0 else float("inf")
    print(
        f"bench_idle_cpu: freshdash {args.jobs} jobs {fresh['percent']:.3f}% of a core "
        f"({fresh['cpu_seconds'] * 1000:.0f} ms CPU in {fresh['wall_seconds']:.1f} s, "
        f"poll {fresh['poll_seconds']:g} s, {fresh['housekeeping_ticks']:.0f} housekeeping ticks, "
        f"{fresh['threads']:.0f} threads, "
        f"catch-up {fresh['catch_up_seconds']:.1f} s, "
        f"{fresh['runs']:.0f} runs at start, {fresh['runs_while_measuring']:.0f} runs while measuring); "
        f"plain apscheduler {args.jobs} jobs {base['percent']:.3f}% ({base['cpu_seconds'] * 1000:.0f} ms CPU, "
        f"{base['threads']:.0f} threads); ratio {ratio:.1f}x (goal freshdash <{GOAL_PERCENT:g}%) "
        f"{'PASS' if ok else 'FAIL'} [load {load_before}->{load()}]"
    )


if __name__ == "__main__":
    main()
