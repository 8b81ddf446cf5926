"""Invariants 1, 2, 4, 5, 6 of ARCHITECTURE.md on a real SQLite file and a real PostgreSQL, clock injected."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, insert, select, text
from sqlalchemy.exc import IntegrityError

from app.clock import FrozenClock
from app.core.models import Instance, Job, Run, RunStatus
from app.core.runner import RunContext, Runner
from app.core.store import JobSpec, JobStore
from app.errors import CursorMovedError, LeaseLostError, LeaseTakenOverError, RunCancelledError
from tests.support import ScriptedJob, job, scheduler

runs = Run.__table__


def all_runs(s: Any) -> list[dict[str, Any]]:
    with s.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(runs).order_by(runs.c.id)).mappings()]


def test_first_start_runs_at_once_then_every_interval(db_url: str, make_settings: Any) -> None:
    clock, work = FrozenClock(), ScriptedJob()
    s = scheduler(make_settings(db_url), clock, job("j", work, interval=60))
    assert len(s.tick()) == 1
    assert s.tick() == []
    clock.advance(59)
    assert s.tick() == []
    clock.advance(1)
    assert [o.status for o in s.tick()] == [RunStatus.SUCCESS]
    assert [r["reason"] for r in all_runs(s)] == ["schedule", "schedule"]


def test_claim_is_won_by_exactly_one_of_many_concurrent_claimers(
    db_url: str, make_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url), clock, job("j", ScriptedJob()))
    s.prepare()
    stores = [JobStore(s.engine, f"owner-{i}") for i in range(8)]
    barrier = threading.Barrier(len(stores))
    won: list[Any] = []

    def attempt(store: JobStore) -> None:
        barrier.wait(5)
        claim = store.claim("j", clock.now())
        if claim is not None:
            won.append(claim)

    threads = [threading.Thread(target=attempt, args=(st,)) for st in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1
    assert len(all_runs(s)) == 1
    # The compare-and-set turned the losers away; the unique key (last line of defence) was not needed.
    assert "already has a run" not in caplog.text


def test_the_unique_slot_key_is_the_last_line_of_defence(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url), clock, job("j", ScriptedJob()))
    s.tick()
    [first] = all_runs(s)
    duplicate = {
        k: first[k]
        for k in (
            "job_name",
            "scheduled_for",
            "reason",
            "status",
            "owner",
            "fence",
            "started_at",
            "heartbeat_at",
            "lease_expires_at",
        )
    }
    with pytest.raises(IntegrityError), s.engine.begin() as conn:
        conn.execute(insert(runs).values(**duplicate))


def test_zombie_whose_lease_was_taken_over_cannot_commit(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url, lease_seconds=30), clock, job("j", ScriptedJob(), retries=1))
    s.prepare()
    zombie = JobStore(s.engine, "zombie", lease_seconds=30)
    claim = zombie.claim("j", clock.now())
    assert claim is not None
    clock.advance(31)  # the zombie stopped renewing
    taker = JobStore(s.engine, "taker", lease_seconds=30)
    taken = taker.claim("j", clock.now())  # reaps the zombie and claims the retry slot
    assert taken is not None and taken.fence > claim.fence
    with pytest.raises(LeaseLostError), s.engine.begin() as conn:
        zombie.guard(conn, claim)
    assert zombie.renew(claim, clock.now()) is False
    assert zombie.finish(claim, clock.now(), RunStatus.SUCCESS, rows=99) is False
    first, second = all_runs(s)
    assert first["status"] == "abandoned" and "lease held by zombie expired" in first["error"]
    assert second["status"] == "running" and second["reason"] == "retry" and second["attempt"] == 2


def test_nothing_stays_running_after_its_lease_expires(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url, lease_seconds=20), clock, job("j", ScriptedJob(), interval=600))
    s.prepare()
    dead = JobStore(s.engine, "dead-process", lease_seconds=20).claim("j", clock.now())
    assert dead is not None
    clock.advance(19)
    assert s.store.reap_expired(clock.now()) == 0
    clock.advance(2)
    assert s.store.reap_expired(clock.now()) == 1
    [run] = all_runs(s)
    assert run["status"] == "abandoned" and run["finished_at"] is not None
    job_row = s.store.get_job("j")
    assert job_row.lease_owner is None
    assert s.get_status("j").current_run is None


def test_job_that_raises_is_recorded_and_the_scheduler_goes_on(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    bad, good = ScriptedJob(failures=99), ScriptedJob()
    s = scheduler(make_settings(db_url), clock, job("bad", bad), job("good", good))
    outcomes = s.tick()
    assert sorted(o.status.value for o in outcomes) == ["failed", "success"]
    failed = [r for r in all_runs(s) if r["job_name"] == "bad"][0]
    assert failed["error"] == "RuntimeError: source exploded on call 1"
    assert s.get_status("bad").last_result == "failed"


def test_fails_twice_then_succeeds_with_backoff(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    flaky = ScriptedJob(failures=2)
    s = scheduler(make_settings(db_url), clock, job("j", flaky, interval=3600, retries=3, backoff=10))
    s.tick()
    assert s.tick() == []  # the retry waits for its backoff
    clock.advance(10)
    s.tick()
    clock.advance(19)
    assert s.tick() == []
    clock.advance(1)  # second backoff is 20 s
    s.tick()
    history = [(r["status"], r["attempt"], r["reason"]) for r in all_runs(s)]
    assert history == [("failed", 1, "schedule"), ("failed", 2, "retry"), ("success", 3, "retry")]
    assert s.get_status("j").last_result == "success"


def test_job_that_hangs_past_its_timeout_is_ended_and_fenced(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    hang = ScriptedJob(hang=True)
    s = scheduler(make_settings(db_url), clock, job("hang", hang, timeout=0.3), job("ok", ScriptedJob()))
    try:
        outcomes = {o.status.value for o in s.tick()}
        assert outcomes == {"timeout", "success"}
        run = [r for r in all_runs(s) if r["job_name"] == "hang"][0]
        assert run["status"] == "timeout" and "timed out after 0.3 s" in run["error"]
        job_row = s.store.get_job("hang")
        assert job_row.lease_owner is None and job_row.fence == run["fence"] + 1
    finally:
        hang.release.set()


def test_downtime_of_five_intervals_gives_exactly_one_catch_up(db_url: str, make_settings: Any) -> None:
    clock, work = FrozenClock(), ScriptedJob()
    settings = make_settings(db_url)
    scheduler(settings, clock, job("j", work, interval=60)).tick()
    clock.advance(5 * 60 + 30)  # the process was down (or hibernating) for five slots
    restarted = scheduler(settings, clock, job("j", work, interval=60))
    outcomes = restarted.tick()
    assert len(outcomes) == 1
    assert restarted.tick() == []
    assert [r["reason"] for r in all_runs(restarted)] == ["schedule", "catch-up"]
    status = restarted.get_status("j")
    assert status.next_run is not None
    clock.advance(30)
    assert len(restarted.tick()) == 1  # back on the original cadence


def test_stale_data_is_caught_up_on_start_even_when_the_next_slot_is_ahead(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    settings = make_settings(db_url)
    s = scheduler(settings, clock, job("j", ScriptedJob(failures=1), interval=600))
    s.tick()  # fails: no fresh data, next slot 10 min ahead
    clock.advance(1)
    assert s.store.make_due_if_stale("j", clock.now()) is True
    assert [o.status.value for o in s.tick()] == ["success"]
    assert s.store.make_due_if_stale("j", clock.now()) is False


def test_a_restart_loses_nothing(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    settings = make_settings(db_url)
    s = scheduler(settings, clock, job("j", ScriptedJob(), interval=60))
    s.tick()
    s.store.set_interval("j", 300, clock.now())
    s.store.set_paused("j", True, clock.now())
    again = scheduler(settings, clock, job("j", ScriptedJob(), interval=60))
    again.prepare()
    row = again.store.get_job("j")
    assert row.period_seconds == 300 and row.paused is True
    assert len(all_runs(again)) == 1
    clock.advance(3600)
    assert again.tick() == []  # paused survives the restart
    assert again.get_status("j").state == "paused"


def test_run_now_coalesces_requests_and_joins_a_run_in_progress(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    hang = ScriptedJob(hang=True)
    s = scheduler(make_settings(db_url), clock, job("j", hang, interval=3600))
    s.prepare()
    s.store.set_paused("j", True, clock.now())
    first = s.run_now("j", requested_by="alice")
    second = s.run_now("j", requested_by="bob")
    assert not first.joined and second.joined and second.request.requested_at == first.request.requested_at
    worker = threading.Thread(target=s.tick)
    worker.start()
    try:
        assert hang.started.wait(10)
        third = s.run_now("j")
        assert third.joined and third.run_id == first.run_id
    finally:
        hang.release.set()
        worker.join(10)
    assert first.done() and first.poll().status == "success"
    assert len(hang.calls) == 1
    assert all_runs(s)[0]["requested_by"] == "alice"


def test_hibernates_without_sessions_and_wakes_with_a_catch_up(db_url: str, make_settings: Any) -> None:
    clock, work = FrozenClock(), ScriptedJob()
    s = scheduler(make_settings(db_url, scheduler_idle_minutes=30), clock, job("j", work, interval=600))
    s.tick()
    assert s.check_idle() is False  # no session was ever seen: a CLI process never hibernates
    s.touch("session-a")
    clock.advance(timedelta(minutes=29))
    assert s.check_idle() is False
    clock.advance(timedelta(minutes=1))
    assert s.check_idle() is True
    with s.engine.connect() as conn:
        assert conn.execute(select(Instance.__table__.c.state)).scalar_one() == "hibernating"
    clock.advance(timedelta(hours=3))
    s.touch("session-b")  # the next page view wakes it
    assert s.hibernating is False
    assert [r["reason"] for r in all_runs(s)] == ["schedule"]
    assert [o.status.value for o in s.tick()] == ["success"]
    assert [r["reason"] for r in all_runs(s)] == ["schedule", "catch-up"]


def test_a_silent_scheduler_is_visible_in_the_status(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(sqlite_url, scheduler_poll_seconds=5), clock, job("j", ScriptedJob()))
    s.timer._aps = type("Timer", (), {"running": True})()  # a timer that claims to run but stopped ticking
    s.tick()  # its last beat (a process without a running timer writes none)
    clock.advance(29)
    assert s.get_status("j").state == "running"
    clock.advance(2)
    status = s.get_status("j")
    assert status.state == "silent" and status.running is False
    assert status.silent_since is not None
    s.timer._aps = None


def test_priority_orders_due_jobs(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    order: list[str] = []
    low = job("low", lambda ctx: order.append("low"), priority=1)
    high = job("high", lambda ctx: order.append("high"), priority=9)
    scheduler(make_settings(sqlite_url), clock, low, high).tick()
    assert order == ["high", "low"]


def test_each_run_leaves_a_structured_log_line(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(sqlite_url), clock, job("bad", ScriptedJob(failures=9)), job("ok", ScriptedJob()))
    s.tick()
    lines = {(line.level, line.message) for line in s.run_logs()}
    assert ("INFO", "schedule run in a thread, attempt 1: success, 10 rows") in lines
    failed = "schedule run in a thread, attempt 1: failed, 0 rows (RuntimeError: source exploded on call 1)"
    assert ("ERROR", failed) in lines


def test_secrets_are_scrubbed_from_run_errors(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()

    def leaky(ctx: Any) -> None:
        raise ConnectionError("login failed for postgresql://app:hunter2@db/x with adm1n-pw and tok-42")

    settings = make_settings(
        sqlite_url, admin_password="adm1n-pw", source_url="postgresql://app:hunter2@db/x", source_token="tok-42"
    )
    s = scheduler(settings, clock, job("j", leaky))
    s.tick()
    error = s.get_status("j").last_error
    assert "hunter2" not in error and "adm1n-pw" not in error and "tok-42" not in error and "***" in error
    assert all("hunter2" not in line.message for line in s.run_logs())


def test_operator_reset_of_a_stuck_run_fences_it_and_frees_the_job(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    hang = ScriptedJob(hang=True)
    s = scheduler(make_settings(sqlite_url, lease_seconds=0.6), clock, job("j", hang))
    outcomes: list[Any] = []
    worker = threading.Thread(target=lambda: outcomes.extend(s.tick()))
    worker.start()
    try:
        assert hang.started.wait(10)
        assert s.store.reset_stuck("j", clock.now()) is True
        worker.join(10)  # the runner's next renewal finds the fence moved and gives the run up
        assert [o.status.value for o in outcomes] == ["abandoned"] and outcomes[0].recorded is False
    finally:
        hang.release.set()
        worker.join(10)
    [run] = all_runs(s)
    assert run["status"] == "abandoned"
    assert s.store.get_job("j").lease_owner is None
    assert s.store.reset_stuck("j", clock.now()) is False


# -- guarantees pinned against their mutations (bench/core_mutations.sh) ---------------------------------


@contextmanager
def concurrent_write_before(engine: Engine, statement: str, change: str) -> Iterator[list[str]]:
    """Run `change` on the same connection right before the first statement starting with `statement`: what
    a concurrent writer that committed between this transaction's read and its write leaves behind."""
    fired: list[str] = []

    def hook(_conn: Any, cursor: Any, sql: str, *_args: Any) -> None:
        if not fired and sql.lstrip().startswith(statement):
            fired.append(sql)
            cursor.execute(change)

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield fired
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def test_a_claim_never_starts_a_second_run_while_the_first_holds_its_lease(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url, lease_seconds=300), clock, job("j", ScriptedJob(), interval=60))
    s.prepare()
    first = JobStore(s.engine, "first", lease_seconds=300).claim("j", clock.now())
    assert first is not None
    clock.advance(61)  # the next slot is due while the first run still holds (and renews) its lease
    assert JobStore(s.engine, "first", lease_seconds=300).renew(first, clock.now()) is True
    assert JobStore(s.engine, "second", lease_seconds=300).claim("j", clock.now()) is None
    assert [r["status"] for r in all_runs(s)] == ["running"]
    assert s.store.get_job("j").fence == first.fence


def test_a_claim_whose_job_row_changed_since_its_read_wins_nothing(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url), clock, job("j", ScriptedJob()))
    s.prepare()
    with concurrent_write_before(s.engine, "UPDATE jobs", "UPDATE jobs SET fence = fence + 1") as fired:
        assert s.store.claim("j", clock.now()) is None  # the compare-and-set on (fence, slot) turned it away
    assert fired and all_runs(s) == []


def test_make_due_if_stale_changes_nothing_when_the_job_moved_on_since_its_read(
    db_url: str, make_settings: Any
) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url), clock, job("j", ScriptedJob(failures=1), interval=600))
    s.tick()  # fails: no fresh data, next slot 10 min ahead
    clock.advance(1)
    # Another replica claimed and ran the job (the fence moved) between this call's read and its write.
    with concurrent_write_before(s.engine, "UPDATE jobs", "UPDATE jobs SET fence = fence + 1") as fired:
        assert s.store.make_due_if_stale("j", clock.now()) is False
    assert fired and s.store.get_job("j").follow_up_at is None


def test_reap_ends_a_running_run_that_its_job_no_longer_points_at(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url, lease_seconds=20), clock, job("j", ScriptedJob(), interval=600))
    s.prepare()
    assert JobStore(s.engine, "dead-process", lease_seconds=20).claim("j", clock.now()) is not None
    with s.engine.begin() as conn:  # the job row was freed but its run row was left running (an orphan)
        conn.execute(text("UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL, current_run_id = NULL"))
    clock.advance(21)
    assert s.store.reap_expired(clock.now()) == 1
    [run] = all_runs(s)
    assert run["status"] == "abandoned" and run["error"] == "lease expired"


def test_waking_from_hibernation_catches_up_stale_data_before_the_next_slot(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(
        make_settings(db_url, scheduler_idle_minutes=30), clock, job("j", ScriptedJob(failures=1), interval=7200)
    )
    s.tick()  # fails: no fresh data, the next slot is two hours ahead
    s.touch("session-a")
    clock.advance(timedelta(minutes=30))
    assert s.check_idle() is True
    clock.advance(timedelta(minutes=1))
    s.touch("session-b")  # wakes, and the data is stale: due now, not at the next slot
    assert [o.status.value for o in s.tick()] == ["success"]
    assert [r["reason"] for r in all_runs(s)] == ["schedule", "catch-up"]


def test_a_timeout_cancels_the_job_and_its_next_progress_call_stops_it(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    saw_cancel, stopped = threading.Event(), threading.Event()

    def slow(ctx: RunContext) -> None:
        for rows in range(1000):  # the job polls `cancelled`, which the runner sets at the timeout
            if ctx.cancelled.wait(0.01):
                saw_cancel.set()
            try:
                ctx.progress(rows)
            except LeaseLostError:
                stopped.set()
                return
        # bounded: 1000 x 10 ms without a cancel is far past the 0.2 s timeout

    s = scheduler(make_settings(db_url), clock, job("slow", slow, timeout=0.2))
    assert [o.status.value for o in s.tick()] == ["timeout"]
    assert saw_cancel.wait(10), "the timeout did not cancel the job"
    assert stopped.wait(10), "progress() after the cancel did not stop the job"


def test_a_run_in_progress_outlives_a_shutdown_of_its_scheduler(sqlite_url: str, make_settings: Any) -> None:
    # Shutdown (a worker's SIGTERM, a cache release, Restart) only stops new claims: the run in progress ends
    # on its own (a worker gives it --grace seconds, then leaves it to its lease). So the runner takes no
    # stopping flag: one that cancelled the run would break the grace, one it ignored would promise it.
    assert list(inspect.signature(Runner.execute).parameters) == ["self", "claim", "func"]
    work = ScriptedJob(hang=True)
    s = scheduler(make_settings(sqlite_url), FrozenClock(), job("j", work))
    outcomes: list[Any] = []
    ticking = threading.Thread(target=lambda: outcomes.extend(s.tick()))
    ticking.start()
    assert work.started.wait(10)
    s.shutdown(wait=False)
    assert s.wait_for_runs(0.2) is False  # still running after the shutdown
    work.release.set()
    ticking.join(10)
    assert [(o.status.value, o.recorded) for o in outcomes] == [("success", True)]


def test_lease_taken_over_cursor_moved_and_cancelled_are_three_signals(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(sqlite_url, lease_seconds=30), clock, job("j", ScriptedJob(), retries=1))
    s.prepare()
    zombie = JobStore(s.engine, "zombie", lease_seconds=30)
    claim = zombie.claim("j", clock.now())
    assert claim is not None
    ctx = RunContext(zombie, claim, clock)
    ctx.cancelled.set()
    with pytest.raises(RunCancelledError):  # the runner's cancel (timeout, lease lost, shutdown)
        ctx.progress(1)
    clock.advance(31)
    assert JobStore(s.engine, "taker", lease_seconds=30).claim("j", clock.now()) is not None
    with pytest.raises(LeaseTakenOverError), s.engine.begin() as conn:  # the fence moved on
        zombie.guard(conn, claim)
    signals = (LeaseTakenOverError, CursorMovedError, RunCancelledError)
    assert all(issubclass(e, LeaseLostError) for e in signals)  # `except LeaseLostError` still catches each
    assert len({e for e in signals for f in signals if e is not f and issubclass(e, f)}) == 0


@contextmanager
def connection_killed_at(engine: Engine, admin_url: str, statement: str) -> Iterator[list[str]]:
    """Terminate the backend of the connection about to run the first statement starting with `statement`
    (PostgreSQL): a server restart or failover in the middle of a lease write."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    fired: list[str] = []

    def hook(_conn: Any, cursor: Any, sql: str, *_args: Any) -> None:
        if not fired and sql.lstrip().startswith(statement):
            fired.append(sql)
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": cursor.connection.info.backend_pid})

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield fired
    finally:
        event.remove(engine, "before_cursor_execute", hook)
        admin.dispose()


@pytest.mark.parametrize("write", ["finish", "renew"])
def test_a_lease_write_survives_a_connection_lost_once(pg_url: str, make_settings: Any, write: str) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(pg_url), clock, job("j", ScriptedJob()))
    s.prepare()
    claim = s.store.claim("j", clock.now())
    assert claim is not None
    clock.advance(5)
    first = "SELECT" if write == "finish" else "UPDATE jobs"
    with connection_killed_at(s.engine, pg_url, first) as fired:
        if write == "finish":
            assert s.store.finish(claim, clock.now(), RunStatus.SUCCESS, rows=7) is True
        else:
            assert s.store.renew(claim, clock.now(), rows=3) is True
    assert fired  # the first try did lose its connection
    [run] = all_runs(s)
    if write == "finish":
        assert (run["status"], run["rows"]) == ("success", 7)
        assert s.store.get_job("j").lease_owner is None
    else:
        assert (run["status"], run["rows"], run["heartbeat_at"]) == ("running", 3, clock.now())


def test_replicas_starting_together_register_a_new_job_once(db_url: str, make_settings: Any) -> None:
    """Two workers started together on a fresh database both found no row for a job and both inserted it;
    the second died on the primary key (CI, two workers on PostgreSQL). The first insert wins; the other
    process keeps going."""
    clock = FrozenClock()
    s = scheduler(make_settings(db_url), clock, job("j", ScriptedJob()))
    s.prepare()
    names = [c.name for c in Job.__table__.columns if c.name != "name"]
    other = f"INSERT INTO jobs (name, {', '.join(names)}) SELECT 'late', {', '.join(names)} FROM jobs WHERE name = 'j'"
    with concurrent_write_before(s.engine, "INSERT INTO jobs", other) as fired:
        s.store.ensure_job(JobSpec("late", 60.0, 30.0, description="late"), clock.now())
    assert fired
    assert s.store.get_job("late").name == "late"
