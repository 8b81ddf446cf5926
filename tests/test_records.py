"""The typed records (app/core/records.py): built from rows, frozen, and the seed's dict at its one edge."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.clock import FrozenClock
from app.core.records import JobState, JobStatus, RunRecord
from tests.support import ScriptedJob, job, scheduler, status_of

AT = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def job_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in dataclasses.fields(JobState)}
    row.update(name="load", description="", interval_seconds=60.0, trigger="", depends_on="", tags="")
    row.update(timeout_seconds=600.0, max_retries=0, retry_backoff_seconds=30.0, priority=0, paused=0)
    row.update(job_paused=0, follow_up_reason="retry", follow_up_attempt=1, fence=0, updated_at=AT, unknown="ignored")
    return {**row, **changes}


def test_a_job_row_becomes_a_job_state_with_its_lists_split() -> None:
    state = JobState.from_row(job_row(depends_on="download,clean", tags="sync,", paused=1))
    assert state.depends_on == ("download", "clean") and state.tags == ("sync",)
    assert state.paused is True and state.job_paused is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.paused = False  # type: ignore[misc]


def test_a_lease_is_held_only_by_an_owner_until_it_expires() -> None:
    held = JobState.from_row(job_row(lease_owner="host:1", lease_expires_at=AT + timedelta(seconds=5)))
    assert held.lease_held(AT) and not held.lease_held(AT + timedelta(seconds=5))
    assert not JobState.from_row(job_row(lease_expires_at=AT + timedelta(seconds=5))).lease_held(AT)


def test_due_at_is_the_earliest_pending_slot_and_a_pause_leaves_only_a_request() -> None:
    later, soon = AT + timedelta(minutes=5), AT + timedelta(minutes=1)
    assert JobState.from_row(job_row(next_run_at=later, follow_up_at=soon)).due_at() == soon
    paused = JobState.from_row(job_row(paused=1, next_run_at=soon, requested_at=later))
    assert paused.due_at() == later
    assert JobState.from_row(job_row(paused=1, next_run_at=soon)).due_at() is None


def test_the_seed_status_dict_has_plain_lists_and_dicts() -> None:
    shown = status_of(depends_on=("download",), current_run={"rows": 3}).as_dict()
    assert shown["depends_on"] == ["download"] and isinstance(shown["depends_on"], list)
    assert isinstance(shown["current_run"], dict) and shown["current_run"]["rows"] == 3
    assert list(shown) == [f.name for f in dataclasses.fields(JobStatus)]  # every field, in the record's order
    json.dumps({k: v for k, v in shown.items() if k != "current_run"})  # no record objects left inside


def test_get_scheduler_status_style_dict_from_a_real_scheduler(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(sqlite_url), clock, job("j", ScriptedJob()))
    [outcome] = s.tick()
    status = s.get_status("j")
    assert isinstance(status, JobStatus) and status.last_result == outcome.status.value == "success"
    [run] = s.history("j")
    assert isinstance(run, RunRecord) and s.get_run(run.id) == run
    shown = status.as_dict()
    assert shown["last_result"] == "success" and shown["current_run"] is None and shown["depends_on"] == []


def test_a_status_is_one_statement_on_each_store(db_url: str, make_settings: Any) -> None:
    """A page reads the status on every run, and while a sync keeps the store busy each round trip costs more:
    the job, its last and current run, the beats, the data version and the switch come back in ONE SELECT."""
    from sqlalchemy import event

    clock = FrozenClock()
    s = scheduler(make_settings(db_url), clock, job("j", ScriptedJob(failures=1)))
    s.tick()  # a failed run ...
    clock.advance(timedelta(minutes=5))
    s.run_now("j")
    s.tick()  # ... then a successful one
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(s.engine, "before_cursor_execute", seen)
    try:
        status = s.get_status("j")
    finally:
        event.remove(s.engine, "before_cursor_execute", seen)
    selects = [x for x in statements if x.split()[0].upper() == "SELECT" and x.split()[1:2] != ["1"]]
    assert len(selects) == 1, selects  # (a pool's ping, SELECT 1, and SQLite's BEGIN aside)
    last = s.history("j")[0]
    assert (status.last_result, status.last_run is not None, status.current_run) == ("success", True, None)
    assert status.last_rows == last.rows and status.last_error is None
    assert status.state in {"running", "silent", "stopped"} and status.data_version >= 0
