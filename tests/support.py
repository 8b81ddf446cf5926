"""Test jobs and a scheduler factory on an injected clock."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from app.clock import Clock
from app.config import Settings
from app.core.records import JobStatus, RunRecord
from app.core.runner import RunContext
from app.core.scheduler import JobDefinition, SyncScheduler
from app.core.store import JobSpec


class ScriptedJob:
    """Fails the first `failures` calls, can hang until released; records every call."""

    def __init__(self, failures: int = 0, hang: bool = False) -> None:
        self.failures = failures
        self.hang = hang
        self.calls: list[int] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, ctx: RunContext) -> dict[str, Any]:
        self.calls.append(ctx.run_id)
        self.started.set()
        if self.hang:
            self.release.wait(30)
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"source exploded on call {len(self.calls)}")
        return {"rows": 10 * len(self.calls)}


def job(
    name: str,
    func: Any,
    interval: float = 60.0,
    timeout: float = 30.0,
    retries: int = 0,
    backoff: float = 10.0,
    priority: int = 0,
) -> JobDefinition:
    return JobDefinition(JobSpec(name, interval, timeout, "test job", retries, backoff, priority), func)


def scheduler(settings: Settings, clock: Clock, *defs: JobDefinition, instance: str | None = None) -> SyncScheduler:
    return SyncScheduler(settings=settings, clock=clock, jobs=list(defs), instance_id=instance)


def status_of(**fields: Any) -> JobStatus:
    """A JobStatus for the pure UI functions: a running job with fresh data unless `fields` say otherwise; a
    `current_run` given as a dict (e.g. {"rows": 1234}) becomes a run in progress with those fields."""
    current = fields.pop("current_run", None)
    if isinstance(current, dict):
        at = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
        base_run: dict[str, Any] = dict.fromkeys(f.name for f in dataclasses.fields(RunRecord))
        base_run.update(id=1, job_name="incremental_sync", scheduled_for=at, reason="manual", attempt=1)
        base_run.update(status="running", owner="test", started_at=at, rows=0)
        current = RunRecord(**{**base_run, **current})
    base: dict[str, Any] = dict.fromkeys(f.name for f in dataclasses.fields(JobStatus))
    base.update(job="incremental_sync", running=True, state="running", paused=False, scheduler_paused=False)
    base.update(job_paused=False, interval_minutes=15.0, trigger="", priority=0, depends_on=(), stale=False)
    base.update(timezone="UTC", data_version=0, requested=False, current_run=current)
    return JobStatus(**{**base, **fields})


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for a reaper."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(
    predicate: Callable[[], Any], what: str, timeout: float = 30.0, logs: Callable[[], str] = str, every: float = 0.05
) -> Any:
    """Poll `predicate` (real processes or servers, no clock to advance) until it is truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n{logs()}")
