"""Test jobs and a scheduler factory on an injected clock."""

from __future__ import annotations

import threading
from typing import Any

from app.clock import Clock
from app.config import Settings
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
