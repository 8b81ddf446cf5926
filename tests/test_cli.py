"""`python -m app`: the operations work without a browser, print for people, and --json for machines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app.clock import FrozenClock
from app.core.database import create_schema
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
    assert json.loads(cli(tmp_path, "--json", "health").stdout)["healthy"] is True


def test_pause_resume_are_persisted_and_unknown_jobs_are_named(tmp_path: Path) -> None:
    assert "paused" in cli(tmp_path, "pause", "incremental_sync").stdout
    jobs = {j["name"]: j for j in json.loads(cli(tmp_path, "--json", "jobs").stdout)}
    assert jobs["incremental_sync"]["paused"] is True and jobs["history_retention"]["paused"] is False
    assert "resumed" in cli(tmp_path, "resume", "incremental_sync").stdout
    missing = cli(tmp_path, "pause", "nope")
    assert missing.returncode == 2 and "no job named 'nope'" in missing.stderr


def test_purge_rejects_a_bad_duration(tmp_path: Path) -> None:
    bad = cli(tmp_path, "purge", "--older-than", "soon")
    assert bad.returncode == 2 and "is not a duration" in bad.stderr


def test_retention_deletes_only_old_finished_runs(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(sqlite_url), clock, job("j", ScriptedJob(), interval=86400))
    for _ in range(5):
        s.tick()
        clock.advance(timedelta(days=10))
    assert len(s.status_reader.history(limit=100)) == 5
    deleted = s.status_reader.purge(clock.now() - timedelta(days=30))
    kept = s.status_reader.history(limit=100)
    assert deleted == 2 and len(kept) == 3
    assert all(clock.now() - r["started_at"] <= timedelta(days=30) for r in kept)


def test_an_old_database_gets_new_columns_in_place(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE jobs DROP COLUMN extra_attempt"))
    create_schema(engine)
    with engine.connect() as conn:
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(jobs)"))}
    assert "extra_attempt" in columns
    engine.dispose()


@pytest.mark.parametrize("command", ["status", "jobs", "history", "health"])
def test_an_unreachable_database_is_a_clear_error(tmp_path: Path, command: str) -> None:
    out = cli(tmp_path, command, url="postgresql+psycopg://ops:pw-123@127.0.0.1:1/x")
    assert out.returncode in {1, 2}
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
    jobs = {j["name"]: j for j in json.loads(cli(tmp_path, "--json", "jobs").stdout)}
    assert jobs["history_retention"]["trigger"] == "daily 04:30 on weekends"  # the bad text changed nothing
    assert "paused" in cli(tmp_path, "disable", "history_retention").stdout
    assert json.loads(cli(tmp_path, "--json", "jobs").stdout)[-1]["paused"] is True
    assert "resumed" in cli(tmp_path, "enable", "history_retention").stdout
    queue = json.loads(cli(tmp_path, "--json", "queue").stdout)
    assert any(e["job"] == "incremental_sync" for e in queue)
    assert "has no run in progress" in cli(tmp_path, "reset", "incremental_sync").stdout
