"""Dispatch (app/core/dispatch.py): a dependency that ended wakes its dependents' timers at once, and a
dependent that must wait is remembered as waiting (the timer then looks again at the next poll)."""

from __future__ import annotations

from typing import Any

from app.clock import FrozenClock
from app.core.catalogue import JobDefinition
from app.core.store import JobSpec
from tests.support import ScriptedJob, scheduler


def spec(name: str, **fields: Any) -> JobSpec:
    return JobSpec(name=name, interval_seconds=3600.0, timeout_seconds=30.0, trigger="every 1h", **fields)


def test_a_dependency_that_ended_wakes_its_dependents(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    first, then = ScriptedJob(), ScriptedJob()
    s = scheduler(
        make_settings(sqlite_url),
        clock,
        JobDefinition(spec("download"), first),
        JobDefinition(spec("load", depends_on=("download",)), then),
    )
    woken: list[str] = []
    s.dispatcher._wake_job = woken.append
    assert [o.status.value for o in s.tick()] == ["success", "success"]
    assert woken == ["load"]
    assert s.dispatcher.waiting == set()


def test_a_dependent_whose_dependency_is_due_waits(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(
        make_settings(sqlite_url),
        clock,
        JobDefinition(spec("download"), ScriptedJob()),
        JobDefinition(spec("load", depends_on=("download",)), ScriptedJob()),
    )
    s.prepare()
    assert s.dispatcher.dispatch("load", only=True) == []  # download is due and has not run yet
    assert s.dispatcher.waiting == {"load"}
