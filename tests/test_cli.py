"""`python -m app`: the operations work without a browser, print for people, and --json for machines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app.clock import FrozenClock, SystemClock
from app.core import migrations
from app.core.database import create_schema
from app.core.instances import InstanceStore
from tests.support import ScriptedJob, job, scheduler

ROOT = Path(__file__).resolve().parents[1]


def cli(tmp_path: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url or f"sqlite:///{tmp_path / 'fd.db'}",
        "DEMO_SOURCE_PATH": str(tmp_path / "demo.db"),
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_run_wait_then_status_history_and_health(tmp_path: Path) -> None:
    assert cli(tmp_path, "health").returncode == 1  # nothing ever ran: not healthy
    ran = cli(tmp_path, "run", "--wait")
    assert ran.returncode == 0, ran.stderr
    assert "success, 3000 rows" in ran.stdout
    status = json.loads(cli(tmp_path, "--json", "status").stdout)
    assert status["last_result"] == "success" and status["data_version"] == 1
    history = cli(tmp_path, "history", "--limit", "5").stdout
    assert "incremental_sync" in history and "manual" in history
    health = json.loads(cli(tmp_path, "--json", "health").stdout)  # fresh data, and no scheduler runs:
    assert health == {"healthy": False, "problems": ["no scheduler has ever run"]}  # the CLI's run is none


def test_status_says_what_the_workers_heartbeats_say_not_cli(tmp_path: Path) -> None:
    before = json.loads(cli(tmp_path, "--json", "status").stdout)
    assert (before["state"], before["running"], before["silent_since"]) == ("silent", False, None)
    engine = create_engine(f"sqlite:///{tmp_path / 'fd.db'}")
    beats, now = InstanceStore(engine), SystemClock().now()
    beats.beat("worker-1", now, "running", 0)
    running = json.loads(cli(tmp_path, "--json", "status").stdout)
    assert (running["state"], running["running"], running["silent_since"]) == ("running", True, None)
    assert running.keys() == before.keys()  # the same JSON keys as ever
    beats.beat("worker-1", now + timedelta(seconds=1), "stopped", 0)
    stopped = cli(tmp_path, "status")
    assert "state:        stopped since 20" in stopped.stdout, stopped.stdout
    engine.dispose()


def test_health_is_unhealthy_at_once_when_the_last_scheduler_stopped(tmp_path: Path) -> None:
    assert cli(tmp_path, "run", "--wait").returncode == 0  # fresh data: the scheduler is the only cause left
    engine = create_engine(f"sqlite:///{tmp_path / 'fd.db'}")
    beats, now = InstanceStore(engine), SystemClock().now()
    beats.beat("worker-1", now, "running", 0)
    assert cli(tmp_path, "health").returncode == 0
    beats.beat("worker-1", now + timedelta(seconds=1), "stopped", 0)  # a clean exit, a second ago
    stopped = cli(tmp_path, "health")
    assert stopped.returncode == 1, stopped.stdout
    assert "no scheduler is running: the last one (worker-1) stopped at" in stopped.stdout
    beats.beat("worker-2", now, "running", 0)  # another worker runs: its beat is older than that stop
    assert cli(tmp_path, "health").returncode == 0
    engine.dispose()


def test_pause_resume_are_persisted_and_unknown_jobs_are_named(tmp_path: Path) -> None:
    assert "paused" in cli(tmp_path, "pause", "incremental_sync").stdout
    jobs = {j["job"]: j for j in json.loads(cli(tmp_path, "--json", "jobs").stdout)}
    assert jobs["incremental_sync"]["paused"] is True and jobs["history_retention"]["paused"] is False
    assert jobs["incremental_sync"]["job_paused"] is True and jobs["incremental_sync"]["scheduler_paused"] is False
    assert "resumed" in cli(tmp_path, "resume", "incremental_sync").stdout
    missing = cli(tmp_path, "pause", "nope")
    assert missing.returncode == 2 and "no job named 'nope'" in missing.stderr


def test_purge_rejects_a_bad_duration(tmp_path: Path) -> None:
    bad = cli(tmp_path, "purge", "--older-than", "soon")
    assert bad.returncode == 2 and "is not a duration" in bad.stderr
    huge = cli(tmp_path, "purge", "--older-than", "99999999999999999999d")
    assert huge.returncode == 2 and "longer than any calendar allows" in huge.stderr and "Traceback" not in huge.stderr
    ancient = cli(tmp_path, "purge", "--older-than", "9999999d")
    assert ancient.returncode == 2 and "before the year 1" in ancient.stderr and "Traceback" not in ancient.stderr


def test_retention_deletes_only_old_finished_runs(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(sqlite_url), clock, job("j", ScriptedJob(), interval=86400))
    for _ in range(5):
        s.tick()
        clock.advance(timedelta(days=10))
    assert len(s.history(limit=100)) == 5
    deleted = s.store.purge(clock.now() - timedelta(days=30))
    kept = s.history(limit=100)
    assert deleted == 2 and len(kept) == 3
    assert all(clock.now() - r.started_at <= timedelta(days=30) for r in kept)


def test_an_old_database_gets_new_columns_in_place(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    migrations._baseline_metadata().create_all(engine)  # a database of a release before migrations
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE jobs DROP COLUMN extra_attempt"))  # ... from before that column
    create_schema(engine)
    with engine.connect() as conn:
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(jobs)"))}
    assert "follow_up_attempt" in columns and "extra_attempt" not in columns  # added, then renamed by 0002
    engine.dispose()


@pytest.mark.parametrize("command", ["status", "jobs", "history", "health"])
def test_an_unreachable_database_is_a_clear_error(tmp_path: Path, command: str) -> None:
    out = cli(tmp_path, command, url="postgresql+psycopg://ops:pw-123@127.0.0.1:1/x")
    assert out.returncode == (1 if command == "health" else 4)  # health reports; the others cannot work
    assert "cannot use the database" in out.stderr + out.stdout
    assert "pw-123" not in out.stderr + out.stdout


def test_resync_forgets_the_cursor_and_the_next_run_reads_everything(tmp_path: Path) -> None:
    assert "has no cursor yet" in cli(tmp_path, "resync").stdout
    first = json.loads(cli(tmp_path, "--json", "run", "--wait").stdout)
    assert "reads everything again" in cli(tmp_path, "resync").stdout
    again = json.loads(cli(tmp_path, "--json", "run", "--wait").stdout)
    assert again["result"]["rows"] >= first["result"]["rows"] == 3000
    assert again["result"]["inserted"] < again["result"]["rows"]  # the same rows, upserted, not duplicated


def test_trigger_queue_enable_disable_and_reset_from_the_cli(tmp_path: Path) -> None:
    changed = cli(tmp_path, "trigger", "history_retention", "daily 04:30 on weekends")
    assert changed.returncode == 0, changed.stderr
    assert "history_retention: daily 04:30 on weekends, next run" in changed.stdout
    bad = cli(tmp_path, "trigger", "history_retention", "cron 0 8")
    assert bad.returncode == 2 and "has 2 fields" in bad.stderr
    jobs = {j["job"]: j for j in json.loads(cli(tmp_path, "--json", "jobs").stdout)}
    assert jobs["history_retention"]["trigger"] == "daily 04:30 on weekends"  # the bad text changed nothing
    assert "paused" in cli(tmp_path, "disable", "history_retention").stdout
    assert json.loads(cli(tmp_path, "--json", "jobs").stdout)[-1]["paused"] is True
    assert "resumed" in cli(tmp_path, "enable", "history_retention").stdout
    queue = json.loads(cli(tmp_path, "--json", "queue").stdout)
    assert any(e["job"] == "incremental_sync" for e in queue)
    assert "has no run in progress" in cli(tmp_path, "reset", "incremental_sync").stdout


# -- a CLI that behaves like one: exit codes, flags anywhere, headers, stable JSON shapes -------------------

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
JOB_FIELDS = {
    "job", "description", "trigger", "interval_minutes", "priority", "paused", "job_paused", "scheduler_paused",
    "depends_on", "tags", "next_run_at", "last_success_at", "running", "current_run_id", "requested",
}  # fmt: skip
RUN_FIELDS = {
    "id", "job", "status", "trigger", "attempt", "scheduled_for", "started_at", "finished_at", "duration_seconds",
    "rows", "error", "requested_by", "owner", "result",
}  # fmt: skip


def invoke(tmp_path: Path, *args: str, **env: str) -> Any:
    """The CLI in this process (fast); the subprocess tests above cover `python -m app` itself."""
    from click.testing import CliRunner

    from app.cli import main

    base = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fd.db'}", "DEMO_SOURCE_PATH": str(tmp_path / "demo.db")}
    result = CliRunner().invoke(main, list(args), env={**base, **env})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.mark.parametrize(
    "args",
    [
        ("status", "--job", "nosuch"),
        ("history", "--job", "nosuch"),
        ("pause", "nosuch"),
        ("resume", "nosuch"),
        ("reset", "nosuch"),
        ("run", "nosuch"),
        ("resync", "--job", "nosuch"),
        ("health", "--job", "nosuch"),
        ("trigger", "nosuch", "every", "5m"),
    ],
)
def test_an_unknown_job_is_a_usage_error_naming_it(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = invoke(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert "'nosuch'" in result.stderr and "no runs" not in result.output


def test_an_unknown_status_is_a_usage_error_naming_the_allowed_ones(tmp_path: Path) -> None:
    result = invoke(tmp_path, "history", "--status", "bogus")
    assert result.exit_code == 2 and "'bogus' is not one of 'running', 'success', 'failed'" in result.stderr
    shown = json.loads(invoke(tmp_path, "history", "--status", "bogus", "--json").stdout)
    assert shown["error"]["kind"] == "usage" and "'bogus' is not one of" in shown["error"]["message"]
    unknown = json.loads(invoke(tmp_path, "--json", "pause", "nosuch").stdout)
    assert unknown["error"] == {"kind": "usage", "message": "no job named 'nosuch'", "exit_code": 2}


def test_an_invalid_database_url_stops_the_cli_with_exit_3_naming_key_and_value(tmp_path: Path) -> None:
    for command in ("status", "jobs", "history", "run"):
        result = invoke(tmp_path, command, DATABASE_URL="mysql://ops:Pw-77@db.example/x")
        assert result.exit_code == 3, result.output
        assert "DATABASE_URL=mysql://ops:***@db.example/x: must be a sqlite:// or postgresql:// URL" in result.stderr
        assert "Pw-77" not in result.output
    assert not (tmp_path / "fd.db").exists()  # and nothing was written anywhere else either
    shown = json.loads(invoke(tmp_path, "--json", "status", DATABASE_URL="mysql://ops:Pw-77@db/x").stdout)
    assert shown["error"]["kind"] == "config" and shown["error"]["exit_code"] == 3


def test_json_and_verbose_are_accepted_before_or_after_the_command(tmp_path: Path) -> None:
    before = json.loads(invoke(tmp_path, "--json", "status").stdout)
    after = json.loads(invoke(tmp_path, "status", "--json").stdout)
    assert before.keys() == after.keys() and after["job"] == "incremental_sync"
    assert json.loads(invoke(tmp_path, "jobs", "--json", "--verbose").stdout)[0]["job"]


def test_tables_have_headers_and_every_time_is_iso_8601_with_its_offset(tmp_path: Path) -> None:
    assert invoke(tmp_path, "run", "--wait").exit_code == 0
    jobs = invoke(tmp_path, "jobs").stdout.splitlines()
    assert jobs[0].split() == ["JOB", "TRIGGER", "PRIO", "STATE", "NEXT", "RUN", "AFTER"]
    assert all(ISO.search(line) for line in jobs[1:])
    history = invoke(tmp_path, "history").stdout.splitlines()
    # why a run ran is its REASON (schedule, manual ...), as on the Scheduler page and in --json: `jobs`' TRIGGER
    # column is "every 15m", and one word for two things read as a trigger named "schedule"
    assert history[0].split() == ["RUN", "JOB", "STATUS", "REASON", "STARTED", "SECONDS", "ROWS", "ERROR"]
    assert ISO.search(history[1])
    queue = invoke(tmp_path, "queue").stdout.splitlines()
    assert queue[1].split()[:2] == ["PLANNED", "FOR"] and ISO.search(queue[2])
    status = invoke(tmp_path, "status").stdout
    assert ISO.search(status.split("last run:")[1].splitlines()[0])
    purge = invoke(tmp_path, "purge").stdout
    assert ISO.search(purge) and "UTC" not in purge


def test_json_shapes_are_public_and_typed_the_same_in_every_command(tmp_path: Path) -> None:
    assert invoke(tmp_path, "run", "--wait").exit_code == 0
    jobs = json.loads(invoke(tmp_path, "--json", "jobs").stdout)
    assert all(set(j) == JOB_FIELDS for j in jobs)  # no fence, follow_up_reason, lease ...
    assert all(isinstance(j["depends_on"], list) and isinstance(j["tags"], list) for j in jobs)
    assert all(j["next_run_at"] is None or ISO.fullmatch(j["next_run_at"]) for j in jobs)
    status = json.loads(invoke(tmp_path, "--json", "status").stdout)
    assert isinstance(status["depends_on"], list) and ISO.fullmatch(status["last_run"])
    [run] = json.loads(invoke(tmp_path, "--json", "history").stdout)
    assert set(run) == RUN_FIELDS and run["job"] == "incremental_sync" and ISO.fullmatch(run["started_at"])
    assert run["trigger"] == "manual"  # the run's reason, under the key the CLI has always used
    changed = json.loads(invoke(tmp_path, "--json", "trigger", "history_retention", "every", "2h").stdout)
    assert set(changed) == JOB_FIELDS and changed["trigger"] == "every 2h"
    again = json.loads(invoke(tmp_path, "--json", "run", "--wait").stdout)
    assert set(again) == RUN_FIELDS
    config = json.loads(invoke(tmp_path, "--json", "config").stdout)
    assert set(config) == {"settings", "issues", "fatal", "locked_reason", "datasets", "reports"}
    assert all(set(row) == {"key", "value", "origin", "default"} for row in config["settings"])


def test_history_cuts_errors_to_one_line_and_verbose_shows_them_whole(tmp_path: Path) -> None:
    failing = {"SYNC_SOURCE": "sql", "SOURCE_URL": "postgresql://ops:Pw-55@127.0.0.1:1/src", "RUN_MAX_RETRIES": "0"}
    ran = invoke(tmp_path, "run", "--wait", **failing)
    assert ran.exit_code == 1 and "check the host and port in SOURCE_URL" in ran.stdout
    short = invoke(tmp_path, "history", **failing).stdout
    full = invoke(tmp_path, "history", "--verbose", **failing).stdout
    assert "…" in short and "check the host and port in SOURCE_URL" not in short
    assert "check the host and port in SOURCE_URL and that the source server is running" in full
    assert "Pw-55" not in short + full


def test_verbose_errors_show_their_causes_without_secrets(tmp_path: Path) -> None:
    url = "postgresql+psycopg://ops:Pw-66@127.0.0.1:1/x"
    plain = invoke(tmp_path, "status", DATABASE_URL=url)
    verbose = invoke(tmp_path, "status", "--verbose", DATABASE_URL=url)
    assert plain.exit_code == verbose.exit_code == 4
    assert "caused by" not in plain.stderr and "caused by" in verbose.stderr
    assert "Pw-66" not in plain.output + verbose.output


def test_run_wait_that_nobody_starts_says_so_and_fails(tmp_path: Path) -> None:
    """A web role's CLI records the request; with no worker, --wait must not end in a cheerful exit 0."""
    ran = invoke(tmp_path, "run", "--wait", "--timeout", "0.3", SCHEDULER_ROLE="web")
    assert ran.exit_code == 1, ran.output
    assert "no run of incremental_sync started within 0.3 s: no worker took it" in ran.output
    assert "python -m app worker" in ran.output and "the request stays recorded" in ran.output
    again = invoke(tmp_path, "--json", "run", "--wait", "--timeout", "0.3", SCHEDULER_ROLE="web")
    assert again.exit_code == 1 and json.loads(again.stdout)["started"] is False
    asked = invoke(tmp_path, "run", SCHEDULER_ROLE="web")  # without --wait: asking is the whole job
    assert asked.exit_code == 0 and "joined the run requested or in progress of incremental_sync" in asked.output


def test_status_reads_as_words_before_any_run_and_no_due_time_reads_as_a_promise(tmp_path: Path) -> None:
    """'last success: - (data - old)' and a next run that no scheduler process would start (2026-12 review)."""
    first = invoke(tmp_path, "status").stdout
    assert "last run:     never\n" in first and "last success: never (no data yet)\n" in first, first
    health = invoke(tmp_path, "health").stdout
    assert "incremental_sync has no data yet (it never synced)" in health and "stale" not in health, health
    next_line = first.split("next run:")[1].splitlines()[0]
    assert ISO.search(next_line) and next_line.endswith("(no scheduler is running to start it)"), first
    engine = create_engine(f"sqlite:///{tmp_path / 'fd.db'}")
    InstanceStore(engine).beat("worker-1", SystemClock().now(), "running", 0)
    engine.dispose()
    running = invoke(tmp_path, "status").stdout
    assert "no scheduler is running" not in running, running  # a worker beats: the due time holds


def test_the_workers_log_lines_carry_their_utc_offset(tmp_path: Path) -> None:
    """`status` shows SCHEDULER_TIMEZONE's times (-03:00); a log line without its offset read as three hours off."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fd.db'}",
        "DEMO_SOURCE_PATH": str(tmp_path / "demo.db"),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--grace", "5"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while "SIGTERM or SIGINT stops it" not in log.read_text(errors="replace"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, log.read_text(errors="replace")
    lines = log.read_text(errors="replace").splitlines()
    assert lines and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ", line) for line in lines), lines
