"""A caller waiting on a run keeps the reaper going: a run whose process died is abandoned when its lease
expires and the request is served by a new run (issue 9, item 1), in-process and after a real kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from app.clock import FrozenClock
from app.core.models import Run
from app.core.store import JobStore
from tests.support import ScriptedJob, job, scheduler
from tests.test_multiprocess import wait_for_line

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime.fromisoformat("2026-12-01T12:00:00+00:00")


def dead_owner_claims(s: Any, name: str, manual: bool) -> int:
    """A process that claims the job's run and dies at once (it never renews its lease)."""
    dead = JobStore(s.engine, "dead-host:999:abcdef", s.settings.lease_seconds, s.settings.tz)
    if manual:
        dead.request_run(name, s.clock.now(), "someone")
    claim = dead.claim(name, s.clock.now())
    assert claim is not None
    return claim.run_id


@pytest.mark.parametrize("manual", [False, True], ids=["scheduled-run-died", "manual-run-died"])
def test_a_waiting_caller_abandons_a_dead_run_at_its_lease_expiry_and_is_served_by_a_new_run(
    db_url: str, make_settings: Any, manual: bool
) -> None:
    clock, work = FrozenClock(T0), ScriptedJob()
    s = scheduler(make_settings(db_url, lease_seconds=30), clock, job("j", work))
    s.prepare()
    dead_run = dead_owner_claims(s, "j", manual)
    handle = s.run_now("j", requested_by="cli")
    assert handle.joined and handle.run_id == dead_run
    clock.advance(timedelta(seconds=29))
    assert handle.poll().status == "running"  # the lease is still live: nobody may take over yet
    clock.advance(timedelta(seconds=2))
    record = handle.wait(timeout=5)
    assert record is not None and record.status == "success", record
    assert record.id != dead_run and len(work.calls) == 1
    # A dead manual run left its retry: the request follows it instead of asking for a second run.
    assert record.reason == ("retry" if manual else "manual")
    dead = s.status_reader.run(dead_run)
    assert dead is not None and dead.status == "abandoned" and "expired" in dead.error
    assert s.tick() == []  # nothing left behind: one new run served the request
    assert len(work.calls) == 1


def test_poll_alone_keeps_the_reaper_going_and_the_page_sees_the_new_run(sqlite_url: str, make_settings: Any) -> None:
    clock, work = FrozenClock(T0), ScriptedJob()
    s = scheduler(make_settings(sqlite_url, lease_seconds=30), clock, job("j", work))
    s.prepare()
    dead_run = dead_owner_claims(s, "j", manual=True)
    handle = s.run_now("j", requested_by="session 1")
    clock.advance(timedelta(seconds=31))
    record = None
    for _ in range(100):  # what the page's progress fragment does every second; bounded
        record = handle.poll()
        if record is not None and record.status != "running":
            break
        threading.Event().wait(0.05)  # the replacement runs in the background driver thread
    assert record is not None and record.status == "success" and record.id != dead_run


def cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_run_wait_after_a_kill_9_is_served_by_a_new_run_within_lease_plus_poll_seconds(
    tmp_path: Path, db_url: str
) -> None:
    lease, poll = 3.0, 1.0
    url = db_url
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "DEMO_SOURCE_PATH": str(tmp_path / "demo.db"),
        "JOB_MODULES": "tests.crash_jobs",
        "FRESHDASH_CRASH_MARKER": str(tmp_path / "hung-once"),
        "LEASE_SECONDS": str(lease),
        "SCHEDULER_POLL_SECONDS": str(poll),
    }
    paused = cli(env, "pause", "incremental_sync")  # only the crash job runs here
    assert paused.wait(60) == 0, paused.communicate()
    victim = cli(env, "run", "hang_once", "--wait")
    wait_for_line(victim, "HANGING", timeout=60)
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.time()
    victim.wait(10)
    waiter = cli(env, "--json", "run", "hang_once", "--wait", "--timeout", "60")
    out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, out + err
    served = json.loads(out)
    engine = create_engine(url)
    with engine.connect() as conn:
        runs = conn.execute(
            select(Run.__table__.c.id, Run.__table__.c.status, Run.__table__.c.reason, Run.__table__.c.started_at)
            .where(Run.__table__.c.job_name == "hang_once")
            .order_by(Run.__table__.c.id)
        ).all()
    engine.dispose()
    assert [(r.status, r.reason) for r in runs] == [("abandoned", "manual"), ("success", "retry")]
    assert served["id"] == runs[1].id and served["status"] == "success"
    started_at = runs[1].started_at
    started = (started_at if started_at.tzinfo else started_at.replace(tzinfo=timezone.utc)).timestamp()
    print(f"served by run {served['id']} {started - killed_at:.2f} s after the kill (lease {lease:g} s)")
    assert started - killed_at <= lease + poll, f"served {started - killed_at:.2f} s after the kill"


def test_a_dead_run_of_a_dependent_job_is_replaced_by_a_request_that_does_not_wait_for_dependencies(
    sqlite_url: str, make_settings: Any
) -> None:
    from app.core.catalogue import JobDefinition
    from app.core.store import JobSpec

    clock, work = FrozenClock(T0), ScriptedJob()
    child = JobDefinition(JobSpec("child", 60.0, 30.0, depends_on=("parent",)), work)
    s = scheduler(make_settings(sqlite_url, lease_seconds=30), clock, job("parent", ScriptedJob()), child)
    s.prepare()  # the parent is due (a new job runs at once): a retry of the child would wait for it
    dead_run = dead_owner_claims(s, "child", manual=True)
    handle = s.run_now("child", requested_by="cli")
    clock.advance(timedelta(seconds=31))
    record = handle.wait(timeout=3)
    assert record is not None and record.status == "success", record
    assert record.id != dead_run and record.reason == "manual" and len(work.calls) == 1
