"""The timer (app/core/timer.py): aimed at a job's due slot as the database has it, woken on a request, and
never busy-looping a job that waits for a dependency. A real BackgroundScheduler, with every instant a day
ahead of the real time so that nothing fires while a test looks at it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.clock import FrozenClock, SystemClock
from app.config import load_settings
from app.core.records import JobState
from app.core.scheduler import SyncScheduler
from app.core.timer import TIMER_LEAD, Timer

ROOT = Path(__file__).resolve().parents[1]

POLL = 5.0


def state(name: str, next_run_at: datetime | None, interval: float = 600.0) -> JobState:
    values: dict[str, object] = {field.name: None for field in dataclasses.fields(JobState)}
    values.update(name=name, description="", period_seconds=interval, trigger="", depends_on=(), tags=())
    values.update(timeout_seconds=30.0, max_retries=0, retry_backoff_seconds=10.0, priority=0, paused=False)
    values.update(job_paused=False, next_run_at=next_run_at, follow_up_reason="", follow_up_attempt=0, fence=0)
    return JobState(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(SystemClock().now().astimezone(timezone.utc) + timedelta(days=1))


@pytest.fixture
def timer(clock: FrozenClock) -> Iterator[Timer]:
    timer = Timer(clock, clock.now().tzinfo, POLL, threading.RLock())  # type: ignore[arg-type]
    fired: list[str] = []
    timer.start(lambda: None, fired.append, [state("j", clock.now() + timedelta(minutes=10))])
    yield timer
    shutdown = timer.detach()
    assert shutdown is not None
    shutdown(True)
    assert fired == [], "nothing may fire a day ahead of the real time"


def next_fire(timer: Timer, name: str = "j") -> datetime:
    job = timer._aps.get_job(name)  # type: ignore[union-attr]
    assert job is not None and job.next_run_time is not None
    return job.next_run_time  # type: ignore[no-any-return]


def test_a_job_is_aimed_at_its_slot_minus_the_lead(timer: Timer, clock: FrozenClock) -> None:
    assert timer.running and timer.built
    assert next_fire(timer) == clock.now() + timedelta(minutes=10) - TIMER_LEAD
    timer.aim(state("j", clock.now() + timedelta(minutes=20)), held_back=False)  # another replica moved it
    assert next_fire(timer) == clock.now() + timedelta(minutes=20) - TIMER_LEAD


def test_a_new_interval_replaces_the_trigger(timer: Timer, clock: FrozenClock) -> None:
    timer.aim(state("j", clock.now() + timedelta(minutes=10), interval=120.0), held_back=False)
    assert timer._aps.get_job("j").trigger.interval == timedelta(seconds=120)  # type: ignore[union-attr]


def test_a_job_held_back_by_a_dependency_is_looked_at_again_at_the_next_poll_not_at_once(
    timer: Timer, clock: FrozenClock
) -> None:
    overdue = state("j", clock.now() - timedelta(seconds=1))
    timer.aim(overdue, held_back=False)
    assert next_fire(timer) == clock.now()  # due: fire now
    timer.aim(overdue, held_back=True)
    assert next_fire(timer) == clock.now() + timedelta(seconds=POLL)
    clock.advance(2)
    timer.aim(overdue, held_back=True)  # already aimed at a later look: not pushed out on every poll
    assert next_fire(timer) == clock.now() + timedelta(seconds=POLL - 2)


def test_wake_fires_a_job_now_and_ignores_an_unknown_one(timer: Timer, clock: FrozenClock) -> None:
    timer.wake("j")
    assert next_fire(timer) == clock.now()
    timer.wake("unknown")  # no error: a request for a job this process does not run


def test_a_detached_timer_stops_and_is_gone(clock: FrozenClock) -> None:
    timer = Timer(clock, clock.now().tzinfo, POLL, threading.RLock())  # type: ignore[arg-type]
    assert timer.detach() is None and not timer.running
    timer.start(lambda: None, lambda name: None, [])
    assert timer.running
    shutdown = timer.detach()
    assert shutdown is not None and not timer.running and not timer.built
    shutdown(True)
    timer.aim(state("j", clock.now()), held_back=False)  # no timer: nothing to aim, no error
    timer.wake("j")


# A process whose main thread ends with a scheduler running (Streamlit's "Stopping...", a script): Python
# marks every thread pool shut down before it exits, while APScheduler's daemon thread still fires the
# housekeeping into its pool every SCHEDULER_POLL_SECONDS. The atexit sleep holds the process in that window.
EXITS_WITH_A_RUNNING_SCHEDULER = """
import atexit, logging, sys, threading
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
from app.config import load_settings
from app.core import process_registry
from app.core.catalogue import JobDefinition
from app.core.scheduler import SyncScheduler
from app.core.store import JobSpec

env = {"DATABASE_URL": sys.argv[1], "SCHEDULER_POLL_SECONDS": "0.05", "RUN_ISOLATION": "thread"}
job = JobDefinition(JobSpec("j", 3600.0, timeout_seconds=60), lambda ctx: {"rows": 0})
scheduler = SyncScheduler(settings=load_settings(env=env, secrets={}), jobs=[job])
process_registry.register(scheduler)  # as get_scheduler() does
scheduler.start()
scheduler.stop()  # Stop, Start and Restart as the buttons do
scheduler.start()
scheduler.restart()
threading.Event().wait(0.3)  # a few housekeeping ticks
atexit.register(threading.Event().wait, 0.5)  # runs after Python shut its thread pools down
"""


EXIT_HOOKS_IN_ORDER = """
import sys, threading
from app.config import load_settings
from app.core import process_registry
from app.core.scheduler import SyncScheduler
scheduler = SyncScheduler(settings=load_settings(env={"DATABASE_URL": sys.argv[1]}, secrets={}), jobs=[])
process_registry.register(scheduler)  # before any timer started: APScheduler has not made a pool yet
for hook in threading._threading_atexits:
    hook = getattr(hook, "func", hook)
    print(f"{hook.__module__}.{hook.__qualname__}")
"""


def test_the_schedulers_exit_hook_runs_before_the_thread_pools_close(sqlite_url: str) -> None:
    """Exit hooks run newest first: ours must be registered after concurrent.futures' own, whose module
    APScheduler imports only when a timer starts (the exit test below lost that race now and then in CI)."""
    out = subprocess.run(
        [sys.executable, "-c", EXIT_HOOKS_IN_ORDER, sqlite_url], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    hooks = out.stdout.split()
    assert "concurrent.futures.thread._python_exit" in hooks, hooks
    assert hooks.index("concurrent.futures.thread._python_exit") < hooks.index(
        "app.core.process_registry.shutdown_live"
    ), hooks


def test_a_process_that_exits_with_its_scheduler_running_logs_no_traceback(sqlite_url: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", EXITS_WITH_A_RUNNING_SCHEDULER, sqlite_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "scheduler" in out.stderr and "started" in out.stderr  # the log was captured
    problems = [line for line in out.stderr.splitlines() if line.startswith(("ERROR", "CRITICAL", "Traceback"))]
    assert problems == [], out.stderr
    stopped = SyncScheduler(settings=load_settings(env={"DATABASE_URL": sqlite_url}, secrets={}), jobs=[])
    assert stopped.scheduling().state == "stopped"  # it beat "stopped" on its way out: health knows at once
