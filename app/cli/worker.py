"""`python -m app worker`: the scheduler headless (timer, runs, heartbeats; no browser, no Streamlit) until
SIGTERM or SIGINT, then a graceful stop."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import click

from app.cli.context import EXIT_CONFIG, Context, exit_with, fail
from app.core.scheduler import SyncScheduler
from app.errors import AppError


@click.command()
@click.option(
    "--grace",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, 24 * 3600),
    help="Seconds a run in progress gets to end after SIGTERM or SIGINT.",
)
@click.pass_obj
def worker(obj: Context, grace: float) -> None:
    """Run the scheduler headless (no browser, no Streamlit): timer, runs, heartbeats, until SIGTERM or SIGINT.

    Web processes with SCHEDULER_ROLE=web record Sync now in the database; a worker hears of it at once
    (LISTEN/NOTIFY on PostgreSQL, a 1-second poll elsewhere). Several workers may share one database: the
    claim gives each slot to one of them. Logs go to stderr. Exit 0 after a clean stop."""
    logging.basicConfig(  # the offset: `status` shows SCHEDULER_TIMEZONE's times, this clock may differ
        stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z"
    )
    logging.getLogger("app").setLevel(logging.INFO)  # a worker says what it does (its runs, its stop)
    if not obj.settings.scheduler_enabled:
        exit_with("SCHEDULER_ENABLED=false: a worker is a scheduler; unset it for worker processes", EXIT_CONFIG)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        scheduler = SyncScheduler(settings=obj.settings, worker=True)
        scheduler.start(resume_jobs=False)
    except AppError as exc:
        fail(exc)
    log = logging.getLogger("app.cli")  # the name a worker's log lines have always shown
    scheduler.start_metrics()
    log.info("worker %s: %d job(s); SIGTERM or SIGINT stops it", scheduler.instance_id, len(scheduler.definitions))
    while not stop.wait(1.0):  # a bounded wait: signal handlers run between waits
        pass
    log.info("stopping: no new runs; a run in progress gets %g s to end", grace)
    scheduler.shutdown(wait=False)
    if scheduler.wait_for_runs(grace):
        log.info("worker %s stopped", scheduler.instance_id)
        return
    # Its lease expires and another worker takes the job over; a late write of this run is fenced out.
    log.warning("a run was still in progress after %g s; leaving it to its lease", grace)
    logging.shutdown()
    os._exit(0)  # the run's thread would otherwise hold the interpreter open
