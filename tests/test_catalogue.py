"""Issue 5 on a real SQLite file and a real PostgreSQL with an injected clock: the job catalogue (@job and user
modules), calendar triggers in the scheduler, priorities, dependencies, runtime changes that survive a
restart, the built-in retention and daily renewal jobs, today's queue.
"""

from __future__ import annotations

import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from app.clock import FrozenClock
from app.core.catalogue import Catalogue, JobDefinition, catalogue, check_dependencies, default_jobs
from app.core.models import Run, RunStatus
from app.core.scheduler import SyncScheduler
from app.core.store import JobSpec
from app.errors import ConfigError, SchedulerError, TriggerError
from tests.support import ScriptedJob

runs = Run.__table__
SP = ZoneInfo("America/Sao_Paulo")
MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=SP).astimezone(timezone.utc)


def spec(name: str, trigger: str = "every 1h", **fields: Any) -> JobSpec:
    return JobSpec(name=name, interval_seconds=3600.0, timeout_seconds=30.0, trigger=trigger, **fields)


def build(settings: Any, clock: FrozenClock, *defs: JobDefinition) -> SyncScheduler:
    return SyncScheduler(settings=settings, clock=clock, jobs=list(defs))


def run_rows(s: SyncScheduler, job: str | None = None) -> list[dict[str, Any]]:
    query = select(runs).order_by(runs.c.id)
    if job is not None:
        query = query.where(runs.c.job_name == job)
    with s.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def test_priority_decides_the_order_when_several_jobs_are_due(db_url: str, make_settings: Any) -> None:
    clock, order = FrozenClock(MONDAY_NOON), []
    defs = [
        JobDefinition(spec(name, priority=prio), lambda ctx, n=name: order.append(n))
        for name, prio in (("load", 15), ("download", 5 + 90), ("report", 1))
    ]
    build(make_settings(db_url, MAX_CONCURRENT_RUNS=1), clock, *defs).tick()
    assert order == ["download", "load", "report"]


def test_a_dependent_runs_after_its_dependency_succeeded_in_its_window(db_url: str, make_settings: Any) -> None:
    clock, order = FrozenClock(MONDAY_NOON), []
    download = JobDefinition(spec("download", "daily 08:00", priority=1), lambda ctx: order.append("download"))
    # Higher priority than its dependency: it must still wait for it.
    load = JobDefinition(
        spec("load", "daily 08:30", priority=9, depends_on=("download",)), lambda ctx: order.append("load")
    )
    s = build(make_settings(db_url, SCHEDULER_TIMEZONE="America/Sao_Paulo"), clock, download, load)
    s.prepare()
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SP).astimezone(timezone.utc))  # both slots are due
    s.tick()
    assert order == ["download", "load"]
    assert [r["status"] for r in run_rows(s, "load")] == [RunStatus.SUCCESS.value]


def test_a_failed_dependency_marks_the_dependent_skipped_with_the_reason(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock(MONDAY_NOON)
    broken, load_job = ScriptedJob(failures=1), ScriptedJob()
    download = JobDefinition(spec("download", "daily 08:00"), broken)
    load = JobDefinition(spec("load", "daily 08:30", depends_on=("download",)), load_job)
    s = build(make_settings(db_url, SCHEDULER_TIMEZONE="America/Sao_Paulo"), clock, download, load)
    s.prepare()
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SP).astimezone(timezone.utc))
    s.tick()
    assert load_job.calls == []
    skipped = run_rows(s, "load")
    assert [r["status"] for r in skipped] == [RunStatus.SKIPPED.value]
    assert "dependency 'download' ended failed" in skipped[0]["error"]
    assert "source exploded" in skipped[0]["error"]
    # The series moves on: tomorrow both run again, and the dependent runs when the dependency succeeds.
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=SP).astimezone(timezone.utc))
    s.tick()
    assert [r["status"] for r in run_rows(s, "load")] == [RunStatus.SKIPPED.value, RunStatus.SUCCESS.value]


def test_a_dependent_waits_while_its_dependency_retries(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock(MONDAY_NOON)
    flaky, load_job = ScriptedJob(failures=1), ScriptedJob()
    download = JobDefinition(spec("download", "daily 08:00", max_retries=1, retry_backoff_seconds=60), flaky)
    load = JobDefinition(spec("load", "daily 08:30", depends_on=("download",)), load_job)
    s = build(make_settings(db_url, SCHEDULER_TIMEZONE="America/Sao_Paulo"), clock, download, load)
    s.prepare()
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SP).astimezone(timezone.utc))
    s.tick()
    assert load_job.calls == [] and run_rows(s, "load") == []  # waiting, not skipped: a retry is pending
    clock.advance(61)
    s.tick()
    assert [r["status"] for r in run_rows(s, "download")] == ["failed", "success"]
    assert [r["status"] for r in run_rows(s, "load")] == ["success"]


def test_dependencies_must_exist_and_not_form_a_cycle() -> None:
    a = JobDefinition(spec("a", depends_on=("b",)), lambda ctx: None)
    with pytest.raises(ConfigError, match="'a' depends on 'b'"):
        check_dependencies([a])
    b = JobDefinition(spec("b", depends_on=("a",)), lambda ctx: None)
    with pytest.raises(SchedulerError, match="cycle: a -> b -> a"):
        check_dependencies([a, b])


def test_a_calendar_job_runs_on_its_local_time_and_a_missed_slot_once(db_url: str, make_settings: Any) -> None:
    clock, work = FrozenClock(MONDAY_NOON), ScriptedJob()
    s = build(
        make_settings(db_url, SCHEDULER_TIMEZONE="America/Sao_Paulo"),
        clock,
        JobDefinition(spec("report", "daily 07:00 on weekdays"), work),
    )
    assert s.tick() == []  # registered at noon: the first slot is tomorrow 07:00, not now
    assert s.store.get_job("report").next_run_at == datetime(2026, 12, 1, 7, 0, tzinfo=SP)
    clock.set(datetime(2026, 12, 5, 10, 0, tzinfo=SP).astimezone(timezone.utc))  # down Tue..Sat morning
    assert [o.status for o in s.tick()] == [RunStatus.SUCCESS]  # four missed slots: one catch-up run
    assert s.tick() == []
    assert s.store.get_job("report").next_run_at == datetime(2026, 12, 7, 7, 0, tzinfo=SP)  # Monday
    assert [r["reason"] for r in run_rows(s)] == ["catch-up"]


def test_fixed_delay_counts_from_the_end_of_the_run(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock(MONDAY_NOON)

    def slow(ctx: Any) -> None:
        clock.advance(300)  # the run takes 5 minutes

    s = build(make_settings(db_url), clock, JobDefinition(spec("poll", "delay 10m"), slow))
    s.tick()
    ended = MONDAY_NOON + timedelta(seconds=300)
    assert s.store.get_job("poll").next_run_at == ended + timedelta(minutes=10)


def test_a_one_time_job_runs_once(db_url: str, make_settings: Any) -> None:
    clock, work = FrozenClock(MONDAY_NOON), ScriptedJob()
    s = build(
        make_settings(db_url, SCHEDULER_TIMEZONE="America/Sao_Paulo"),
        clock,
        JobDefinition(spec("migrate", "once 2026-11-30 13:00"), work),
    )
    assert s.tick() == []
    clock.advance(timedelta(hours=2))
    assert len(s.tick()) == 1
    clock.advance(timedelta(days=3))
    assert s.tick() == [] and len(work.calls) == 1
    assert s.store.get_job("migrate").next_run_at is None


def test_runtime_changes_survive_a_restart(db_url: str, make_settings: Any) -> None:
    settings = make_settings(db_url, SCHEDULER_TIMEZONE="America/Sao_Paulo")
    clock = FrozenClock(MONDAY_NOON)
    definition = JobDefinition(spec("export", "every 1h"), lambda ctx: None)
    first = build(settings, clock, definition)
    first.tick()
    first.set_trigger("export", "cron 0 8 * * 1-5")
    first.pause_job("export")
    with pytest.raises(TriggerError, match="has 2 fields"):
        first.set_trigger("export", "cron 0 8")
    first.shutdown()
    again = build(settings, clock, definition)  # a new process: the code still says "every 1h"
    row = again.store.get_job("export")
    assert row.trigger == "cron 0 8 * * 1-5" and row.paused is True
    assert row.next_run_at == datetime(2026, 12, 1, 8, 0, tzinfo=SP)
    again.resume_job("export")
    assert again.store.get_job("export").paused is False


def test_the_decorator_registers_a_job_that_the_scheduler_stores() -> None:
    registry = Catalogue()

    @registry.job("nightly", trigger="daily 02:00", priority=7, retries=2, tags=("export",), timeout_minutes=5)
    def nightly(ctx: Any) -> dict[str, int]:
        """Exports the day."""
        return {"rows": 1}

    (definition,) = registry.definitions()
    assert definition.func is nightly
    assert definition.spec.trigger == "daily 02:00" and definition.spec.description == "Exports the day."
    assert (definition.spec.priority, definition.spec.max_retries, definition.spec.timeout_seconds) == (7, 2, 300.0)
    with pytest.raises(TriggerError):
        registry.job("bad", trigger="hourly")(nightly)


def test_a_user_module_in_job_modules_shows_up_without_touching_our_code(
    tmp_path: Path, sqlite_url: str, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "acme_jobs.py").write_text(
        textwrap.dedent(
            """
            from app.core.catalogue import job

            @job("acme_cleanup", trigger="daily 04:00 on weekends", description="Cleans ACME temp files")
            def cleanup(ctx):
                return {"rows": 3}
            """
        )
    )
    (tmp_path / "broken_jobs.py").write_text("raise RuntimeError('typo in the module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(catalogue, "_definitions", {})
    settings = make_settings(sqlite_url, JOB_MODULES="acme_jobs,broken_jobs,no_such_module")
    names = {d.spec.name for d in default_jobs(settings)}
    assert {"incremental_sync", "history_retention", "daily_renewal", "acme_cleanup"} <= names
    s = SyncScheduler(settings=settings, clock=FrozenClock(MONDAY_NOON))
    s.prepare()
    assert [p for p in catalogue.problems if "broken_jobs" in p or "no_such_module" in p] == [
        "JOB_MODULES: cannot import 'broken_jobs' (RuntimeError: typo in the module)",
        "JOB_MODULES: cannot import 'no_such_module' (ModuleNotFoundError: No module named 'no_such_module')",
    ]
    row = s.store.get_job("acme_cleanup")
    assert row.trigger == "daily 04:00 on weekends" and row.description == "Cleans ACME temp files"
    sys.modules.pop("acme_jobs", None)


def test_the_broken_module_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    from app.core.catalogue import load_job_modules

    problems = load_job_modules(["no_such_module_xyz"])
    assert len(problems) == 1 and "cannot import 'no_such_module_xyz'" in problems[0]
    assert "JOB_MODULES" in caplog.text


def test_retention_job_deletes_only_what_is_old(db_url: str, make_settings: Any) -> None:
    settings = make_settings(db_url, HISTORY_RETENTION_DAYS=30)
    clock = FrozenClock(MONDAY_NOON)
    s = SyncScheduler(
        settings=settings, clock=clock, jobs=[d for d in default_jobs(settings) if d.spec.name != "incremental_sync"]
    )
    s.prepare()
    old, recent = MONDAY_NOON - timedelta(days=45), MONDAY_NOON - timedelta(days=5)
    with s.engine.begin() as conn:
        for i, at in enumerate((old, old + timedelta(hours=1), recent)):
            conn.execute(
                insert(runs).values(
                    job_name="history_retention",
                    scheduled_for=at,
                    reason="schedule",
                    attempt=1,
                    status="success",
                    owner="test",
                    fence=i,
                    started_at=at,
                    heartbeat_at=at,
                    lease_expires_at=at,
                    finished_at=at,
                    rows=0,
                )
            )
    s.run_now("history_retention")
    s.tick()
    left = [r["started_at"] for r in run_rows(s, "history_retention")]
    assert old not in left and recent in left
    purge_run = run_rows(s, "history_retention")[-1]
    assert purge_run["status"] == "success" and purge_run["result"]["runs_deleted"] == 2


def test_todays_queue_shows_planned_slots_and_what_happened(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock(datetime(2026, 12, 1, 6, 0, tzinfo=SP).astimezone(timezone.utc))
    defs = [
        JobDefinition(spec("download", "daily 08:00", priority=5), lambda ctx: None),
        JobDefinition(spec("load", "cron 0 9,15 * * *", depends_on=("download",)), lambda ctx: None),
    ]
    s = build(make_settings(db_url, SCHEDULER_TIMEZONE="America/Sao_Paulo"), clock, *defs)
    queue = s.todays_agenda()
    assert [(e.job, e.planned_for.astimezone(SP).hour, e.state) for e in queue] == [
        ("download", 8, "planned"),
        ("load", 9, "planned"),
        ("load", 15, "planned"),
    ]
    clock.set(datetime(2026, 12, 1, 9, 30, tzinfo=SP).astimezone(timezone.utc))
    s.tick()
    states = [(e.job, e.state) for e in s.todays_agenda()]
    assert states == [("download", "success"), ("load", "success"), ("load", "planned")]
    s.set_trigger("load", "cron 0 9,17 * * *")  # re-planned: the future slot moves, the past stays
    assert [e.planned_for.astimezone(SP).hour for e in s.todays_agenda()] == [8, 9, 17]


@pytest.mark.parametrize(
    ("zone", "trigger", "start", "expected"),
    [
        # New York falls back on 1 Nov 2026: 01:30 happens twice, the job runs once a day.
        (
            "America/New_York",
            "daily 01:30",
            datetime(2026, 10, 31, 0, 0),
            ["10-31 01:30", "11-01 01:30", "11-02 01:30", "11-03 01:30"],
        ),
        # São Paulo sprang forward at midnight on 4 Nov 2018: 00:30 did not exist, it ran at 01:00.
        (
            "America/Sao_Paulo",
            "daily 00:30",
            datetime(2018, 11, 3, 0, 0),
            ["11-03 00:30", "11-04 01:00", "11-05 00:30", "11-06 00:30"],
        ),
        # A day group across the weekend boundary: Friday, then Monday.
        ("America/Sao_Paulo", "cron 0 18 * * mon-fri", datetime(2026, 12, 4, 0, 0), ["12-04 18:00", "12-07 18:00"]),
    ],
)
def test_the_scheduler_fires_calendar_jobs_on_the_right_local_times(
    sqlite_url: str, make_settings: Any, zone: str, trigger: str, start: datetime, expected: list[str]
) -> None:
    tz = ZoneInfo(zone)
    clock = FrozenClock(start.replace(tzinfo=tz).astimezone(timezone.utc))
    s = build(
        make_settings(sqlite_url, SCHEDULER_TIMEZONE=zone), clock, JobDefinition(spec("cal", trigger), lambda ctx: None)
    )
    end = clock.now() + timedelta(days=4) - timedelta(hours=2)
    while clock.now() < end:  # the timer's view: a tick every 10 minutes of injected time
        s.tick()
        clock.advance(timedelta(minutes=10))
    fired = [r["scheduled_for"].astimezone(tz).strftime("%m-%d %H:%M") for r in run_rows(s, "cal")]
    assert fired == expected
    assert {r["reason"] for r in run_rows(s, "cal")} == {"schedule"}


@pytest.mark.slow
def test_with_the_real_timer_a_dependent_waits_for_its_dependency_then_runs(
    sqlite_url: str, make_settings: Any
) -> None:
    import threading

    done = threading.Event()
    events: list[tuple[str, str]] = []

    def download(ctx: Any) -> None:
        events.append(("download", "start"))
        threading.Event().wait(0.4)  # real work takes a while; the dependent must not start meanwhile
        events.append(("download", "end"))

    def load(ctx: Any) -> None:
        events.append(("load", "start"))
        if sum(1 for e in events if e == ("load", "start")) >= 2:
            done.set()

    settings = make_settings(sqlite_url, SCHEDULER_POLL_SECONDS=0.2)
    defs = [
        JobDefinition(spec("download", "every 2s", priority=1), download),
        JobDefinition(spec("load", "every 2s", priority=9, depends_on=("download",)), load),
    ]
    s = SyncScheduler(settings=settings, jobs=defs)
    s.start()
    try:
        assert done.wait(20), f"load did not run twice: {events}"
    finally:
        s.shutdown()
    for index, event in enumerate(events):
        if event == ("load", "start"):
            before = events[:index]
            assert before.count(("download", "end")) >= before.count(("download", "start")) > 0, events
    assert [r["status"] for r in run_rows(s, "load")].count("skipped") == 0


def test_the_scheduler_heartbeat_raises_a_failing_alert_once(sqlite_url: str, make_settings: Any) -> None:
    from app.core.alerts import open_alerts

    clock = FrozenClock(MONDAY_NOON)
    broken = JobDefinition(spec("export", "every 1m"), ScriptedJob(failures=99))
    s = build(make_settings(sqlite_url, ALERT_AFTER_FAILURES=2), clock, broken)
    for _ in range(3):  # the heartbeat judges before it runs what is due: two failures seen on the third
        s.tick()
        clock.advance(61)
    assert [(a["job_name"], a["kind"]) for a in open_alerts(s.engine)] == [("export", "failing")]
    for _ in range(5):  # still failing, later stale too: each episode is raised once, not on every check
        clock.advance(61)
        s.tick()
    kinds = sorted(a["kind"] for a in open_alerts(s.engine) if a["job_name"] == "export")
    assert kinds == ["failing", "stale"]


def test_the_report_job_joins_the_catalogue_once_smtp_is_configured(sqlite_url: str, make_settings: Any) -> None:
    plain = {d.spec.name for d in default_jobs(make_settings(sqlite_url))}
    assert "email_report" not in plain
    configured = make_settings(
        sqlite_url, SMTP_HOST="smtp.example.com", REPORT_RECIPIENTS="ana@example.com", REPORT_TIME="06:45"
    )
    report = next(d for d in default_jobs(configured) if d.spec.name == "email_report")
    assert report.spec.trigger == "daily 06:45"


def test_a_job_with_an_unknown_or_circular_dependency_is_left_out_and_said_so(
    tmp_path: Path, sqlite_url: str, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wired_jobs.py").write_text(
        textwrap.dedent(
            """
            from app.core.catalogue import job

            @job("orphan", trigger="daily 05:00", depends_on=("no_such_job",))
            def orphan(ctx):
                return None

            @job("ping", trigger="daily 05:00", depends_on=("pong",))
            def ping(ctx):
                return None

            @job("pong", trigger="daily 05:00", depends_on=("ping",))
            def pong(ctx):
                return None

            @job("fine", trigger="daily 05:00", depends_on=("incremental_sync",))
            def fine(ctx):
                return None
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(catalogue, "_definitions", {})
    settings = make_settings(sqlite_url, JOB_MODULES="wired_jobs")
    names = {d.spec.name for d in default_jobs(settings)}
    assert "fine" in names and not names & {"orphan", "ping", "pong"}
    assert any("'orphan' left out: it depends on 'no_such_job'" in p for p in catalogue.problems)
    assert any("ping, pong left out" in p and "cycle" in p for p in catalogue.problems)
    sys.modules.pop("wired_jobs", None)


def test_a_one_time_job_that_ran_is_never_judged_stale(sqlite_url: str, make_settings: Any) -> None:
    from app.core.alerts import open_alerts

    clock = FrozenClock(MONDAY_NOON)
    s = build(
        make_settings(sqlite_url), clock, JobDefinition(spec("migrate", "once 2026-11-30 15:00"), lambda ctx: None)
    )
    clock.advance(timedelta(hours=4))
    assert len(s.tick()) == 1
    for _ in range(3):  # days later: nothing more is planned, so nothing is late
        clock.advance(timedelta(days=2))
        s.tick()
    assert open_alerts(s.engine) == []
