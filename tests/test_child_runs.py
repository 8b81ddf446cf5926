"""Runs in a child process (RUN_ISOLATION=process): a run past its timeout is stopped and its process is gone
(invariant 12); progress, log lines, results and errors still reach the database; the guard still fences."""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from app.clock import FrozenClock, SystemClock
from app.core import child
from app.core.models import Job, Run, RunLog
from app.core.scheduler import SyncScheduler
from tests import child_jobs
from tests.support import alive, job, scheduler

runs, logs, jobs = Run.__table__, RunLog.__table__, Job.__table__
GRACE = 1.0


def pids_of(s: SyncScheduler, job_name: str) -> list[int]:
    with s.engine.connect() as conn:
        lines = conn.execute(
            select(logs.c.message).join(runs, runs.c.id == logs.c.run_id).where(runs.c.job_name == job_name)
        ).scalars()
        return [int(line.split()[1]) for line in lines if line.startswith("pid ")]


def runs_of(s: SyncScheduler, job_name: str) -> list[dict[str, Any]]:
    with s.engine.connect() as conn:
        query = select(runs).where(runs.c.job_name == job_name).order_by(runs.c.id)
        return [dict(r) for r in conn.execute(query).mappings()]


def in_child(make_settings: Any, url: str, *defs: Any, clock: Any = None, **settings: Any) -> SyncScheduler:
    options = {"run_isolation": "process", "run_kill_grace_seconds": GRACE, **settings}
    return scheduler(make_settings(url, **options), clock or FrozenClock(), *defs)


@pytest.mark.parametrize("func", [child_jobs.sleeps, child_jobs.reads_a_silent_socket])
def test_a_run_hung_in_a_blocking_call_is_stopped_at_its_timeout(db_url: str, make_settings: Any, func: Any) -> None:
    clock = FrozenClock()
    s = in_child(make_settings, db_url, job("hung", func, interval=60, timeout=1.5), clock=clock)
    began = time.monotonic()
    assert [o.status.value for o in s.tick()] == ["timeout"]
    took = time.monotonic() - began
    [pid] = pids_of(s, "hung")
    assert pid != os.getpid()
    assert not alive(pid), f"the run's process {pid} still runs after its timeout"
    assert took < 1.5 + GRACE + 3.0, f"stopping took {took:.1f} s"
    [run] = runs_of(s, "hung")
    assert run["status"] == "timeout" and "timed out after 1.5 s" in run["error"]
    clock.advance(60)  # the next slot runs (and is stopped the same way)
    assert [o.status.value for o in s.tick()] == ["timeout"]
    assert [r["status"] for r in runs_of(s, "hung")] == ["timeout", "timeout"]


def test_a_run_that_ignores_sigterm_is_killed_after_the_grace(sqlite_url: str, make_settings: Any) -> None:
    s = in_child(make_settings, sqlite_url, job("stubborn", child_jobs.ignores_sigterm, timeout=0.5))
    began = time.monotonic()
    assert [o.status.value for o in s.tick()] == ["timeout"]
    took = time.monotonic() - began
    [pid] = pids_of(s, "stubborn")
    assert not alive(pid)
    assert took >= 0.5 + GRACE * 0.9, "killed before the grace ran out"
    assert took < 0.5 + GRACE + 3.0


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (child_jobs.kills_itself, "the run's process ended with exit code -9 (SIGKILL) before it finished"),
        (child_jobs.exits, "the run's process ended with exit code 3 before it finished"),
    ],
)
def test_a_run_whose_process_dies_ends_failed(db_url: str, make_settings: Any, func: Any, message: str) -> None:
    s = in_child(make_settings, db_url, job("dies", func, timeout=30))
    [outcome] = s.tick()
    assert outcome.status.value == "failed" and outcome.error == message
    [run] = runs_of(s, "dies")
    assert run["status"] == "failed" and run["error"] == message


def test_progress_log_lines_and_the_result_reach_the_database(db_url: str, make_settings: Any) -> None:
    s = in_child(make_settings, db_url, job("reports", child_jobs.reports, timeout=30), lease_seconds=0.6)
    [outcome] = s.tick()
    assert outcome.status.value == "success", outcome.error
    assert outcome.result is not None and outcome.result["items"] == [1, 2]
    assert outcome.result["pid"] != os.getpid() and not alive(outcome.result["pid"])
    [run] = runs_of(s, "reports")
    assert run["rows"] == 5, "the progress sent over the pipe was not recorded"
    assert run["result"]["items"] == [1, 2]
    with s.engine.connect() as conn:
        lines = list(conn.execute(select(logs.c.message).where(logs.c.run_id == run["id"])).scalars())
    assert "hello from the child" in lines
    # the run's own line says where it ran: an operator sees RUN_ISOLATION at work in the history
    assert f"schedule run in process {outcome.result['pid']}, attempt 1: success, 5 rows" in lines


def test_an_error_is_recorded_with_its_message_and_no_secret(db_url: str, make_settings: Any) -> None:
    secret = "hunter2-very-secret"
    func = functools.partial(child_jobs.raises, secret=secret)
    s = in_child(make_settings, db_url, job("raises", func, timeout=30), admin_password=secret)
    [outcome] = s.tick()
    assert outcome.status.value == "failed"
    assert outcome.error == "RuntimeError: cannot reach postgresql://app:***@db.example.com/app"
    [run] = runs_of(s, "raises")
    assert secret not in run["error"] and "cannot reach" in run["error"]
    assert pids_of(s, "raises")[0] != os.getpid()


def test_a_closure_runs_in_a_thread_with_one_warning(
    sqlite_url: str, make_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    def closure(ctx: Any) -> dict[str, Any]:
        seen.append(os.getpid())
        return {"rows": 1}

    clock = FrozenClock()
    s = in_child(make_settings, sqlite_url, job("closure", closure, interval=60), clock=clock)
    with caplog.at_level(logging.WARNING, logger="app.core.runner"):
        s.tick()
        clock.advance(60)
        s.tick()
    assert seen == [os.getpid(), os.getpid()]
    warnings = [r.getMessage() for r in caplog.records if "runs in a thread" in r.getMessage()]
    assert len(warnings) == 1 and "job closure" in warnings[0] and "module-level function" in warnings[0]


def test_the_guard_fences_a_child_whose_lease_was_taken_over(db_url: str, make_settings: Any, tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    func = functools.partial(child_jobs.writes_after_go, url=db_url, flags=str(flags))
    s = in_child(make_settings, db_url, job("zombie", func, timeout=60), clock=SystemClock(), lease_seconds=60)
    s.prepare()
    child_jobs.metadata.create_all(s.engine)
    with s.engine.begin() as conn:
        conn.execute(delete(child_jobs.items))
        conn.execute(insert(child_jobs.items).values(id=1, name="kept"))
        conn.execute(insert(child_jobs.cursors).values(id=1, value=1))
    outcomes: list[Any] = []
    ticking = threading.Thread(target=lambda: outcomes.extend(s.tick()), daemon=True)
    ticking.start()
    for _ in range(3000):  # bounded: 30 s
        if (flags / "ready").exists():
            break
        time.sleep(0.01)
    assert (flags / "ready").exists(), "the job never started"
    with s.engine.begin() as conn:  # another process took the lease over (a higher fence)
        conn.execute(update(jobs).where(jobs.c.name == "zombie").values(fence=jobs.c.fence + 1, lease_owner="other"))
    (flags / "go").touch()
    ticking.join(60)
    assert not ticking.is_alive()
    [outcome] = outcomes
    assert outcome.status.value in {"failed", "abandoned"}
    assert outcome.status.value == "abandoned" or "LeaseTakenOverError" in (outcome.error or "")
    with s.engine.connect() as conn:
        assert list(conn.execute(select(child_jobs.items.c.name)).scalars()) == ["kept"]
        assert conn.execute(select(child_jobs.cursors.c.value)).scalar_one() == 1


def test_an_in_memory_database_keeps_runs_in_a_thread(make_settings: Any) -> None:
    s = in_child(make_settings, "sqlite://", job("pid", child_jobs.pid, timeout=30))
    [outcome] = s.tick()
    assert outcome.status.value == "success" and outcome.result is not None
    assert outcome.result["pid"] == os.getpid()


def test_job_functions_of_the_application_pickle(make_settings: Any, sqlite_url: str) -> None:
    import pickle

    from app.jobs.builtin import builtin_jobs

    settings = make_settings(sqlite_url, smtp_host="mail.example.com", report_recipients="a@example.com")
    definitions, _ = builtin_jobs(settings)
    assert len(definitions) >= 3
    for definition in definitions:
        pickle.dumps(definition.func)


def test_a_run_never_executes_the_main_script(
    sqlite_url: str, make_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under Streamlit, `__main__` is the page being run: multiprocessing would run it again in the child."""
    marker = tmp_path / "page-ran"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(marker)!r}, 'w').close()\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    s = in_child(make_settings, sqlite_url, job("pid", child_jobs.pid, timeout=30))
    [outcome] = s.tick()
    assert outcome.status.value == "success", outcome.error
    assert outcome.result is not None and outcome.result["pid"] != os.getpid()
    assert not marker.exists(), "the run's process executed the main script"


def test_a_run_whose_lease_was_taken_over_is_stopped(db_url: str, make_settings: Any) -> None:
    grace = 8.0  # a lost lease stops the process at once: SIGTERM, not the grace's wait
    s = in_child(
        make_settings,
        db_url,
        job("taken", child_jobs.sleeps, timeout=60),
        lease_seconds=1.5,
        run_kill_grace_seconds=grace,
    )
    s.prepare()
    outcomes: list[Any] = []
    ticking = threading.Thread(target=lambda: outcomes.extend(s.tick()), daemon=True)
    ticking.start()
    pids: list[int] = []
    for _ in range(3000):  # bounded: 30 s for the job to start
        pids = pids_of(s, "taken")
        if pids:
            break
        time.sleep(0.01)
    assert pids, "the job never started"
    with s.engine.begin() as conn:  # another process took the lease over
        conn.execute(update(jobs).where(jobs.c.name == "taken").values(fence=jobs.c.fence + 1, lease_owner="other"))
    ticking.join(6.0)  # a renewal (every 0.5 s) notices; SIGTERM ends the sleeping process at once
    assert not ticking.is_alive(), "the run went on after its lease was taken over"
    assert [o.status.value for o in outcomes] == ["abandoned"]
    assert not alive(pids[0]), "the run's process outlived its lost lease"


def test_a_run_process_yields_the_cpu_to_the_app(sqlite_url: str, make_settings: Any) -> None:
    """Page renders come first: the run's process runs at a lower priority than the app's."""
    s = in_child(make_settings, sqlite_url, job("pid", child_jobs.pid, timeout=30))
    [outcome] = s.tick()
    assert outcome.status.value == "success", outcome.error
    assert outcome.result is not None and outcome.result["pid"] != os.getpid()
    assert outcome.result["niceness"] == min(os.nice(0) + child.RUN_NICENESS, 19)
