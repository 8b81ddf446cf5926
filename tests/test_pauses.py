"""Two persisted pause states: the scheduler's (Stop/Start) and a job's own (an operator's Pause/Resume).

Stop then Start must not resume a job an operator paused one by one; both states are shown.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.clock import FrozenClock, SystemClock
from tests.support import ScriptedJob, job, scheduler
from tests.test_ui import configure, render, wait_for_first_sync  # noqa: F401 - `configure` is a fixture
from tests.test_ui import scheduler as scheduler_of_page


def _states(s: Any, name: str) -> tuple[bool, bool, bool]:
    status = s.get_status(name)
    return status.paused, status.scheduler_paused, status.job_paused


def test_stop_and_start_keep_a_job_paused_by_an_operator(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock(SystemClock().now())  # start() runs APScheduler's timer, which lives in real time
    a, b = ScriptedJob(), ScriptedJob()
    s = scheduler(make_settings(db_url), clock, job("a", a), job("b", b))
    # Ticks go through a second scheduler without a timer (start() runs one; shutdown() ends its ticking).
    ticker = scheduler(make_settings(db_url), clock, job("a", a), job("b", b), instance="ticker")
    s.prepare()
    s.pause_job("a")
    s.stop()
    assert _states(s, "a") == (True, True, True)
    assert _states(s, "b") == (True, True, False)
    clock.advance(timedelta(minutes=2))
    ticker.tick()
    assert a.calls == [] and b.calls == []  # Stop holds every job
    s.start(resume_jobs=True)
    s.shutdown()
    assert _states(s, "a") == (True, False, True)  # still paused by its operator
    assert _states(s, "b") == (False, False, False)
    clock.advance(timedelta(minutes=2))
    ticker.tick()
    assert a.calls == [] and b.calls != []  # b runs again (perhaps already on the timer before shutdown)

    # Both states are persisted: another process (a replica, or after a restart) sees the same.
    other = scheduler(make_settings(db_url), clock, job("a", a), job("b", b), instance="other")
    assert _states(other, "a") == (True, False, True)
    other.stop()
    assert _states(s, "b") == (True, True, False)
    other.resume_job("a")  # resuming a job while the scheduler is stopped keeps it held by the Stop
    assert _states(s, "a") == (True, True, False)
    other.start(resume_jobs=True)
    other.shutdown()
    assert _states(s, "a") == (False, False, False)


def test_a_job_paused_while_the_scheduler_is_stopped_stays_paused_after_start(
    sqlite_url: str, make_settings: Any
) -> None:
    s = scheduler(make_settings(sqlite_url), FrozenClock(SystemClock().now()), job("a", ScriptedJob()))
    s.stop()
    s.pause_job("a")
    s.start(resume_jobs=True)
    s.shutdown()
    assert _states(s, "a") == (True, False, True)
    jobs = {r.name: r for r in s.store.list_jobs()}
    assert jobs["a"].job_paused is True and s.store.scheduler_paused() is False


def test_the_scheduler_page_shows_both_states_and_start_keeps_the_job_paused(configure: Any) -> None:  # noqa: F811
    configure(SYNC_INTERVAL_MINUTES=60)
    at = render("scheduler")
    wait_for_first_sync()  # a sync that commits reruns the page and would swallow a click
    scheduler_of_page().pause_job("incremental_sync")
    at.run()
    captions = [str(c.value) for c in at.caption]
    assert any("This job is paused by an operator" in c for c in captions)
    assert not any("Scheduler paused (Stop)" in c for c in captions)
    assert not at.button(key="fd_stop").disabled  # pausing the scheduler still means something
    at.button(key="fd_stop").click().run()
    captions = [str(c.value) for c in at.caption]
    assert any("Scheduler paused (Stop)" in c for c in captions), captions
    assert any("paused by an operator" in c for c in captions), captions
    assert at.button(key="fd_stop").disabled and not at.button(key="fd_start").disabled
    at.button(key="fd_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    status = scheduler_of_page().get_status()
    assert (status.paused, status.scheduler_paused, status.job_paused) == (True, False, True)
    assert any("paused by an operator" in str(c.value) for c in at.caption)
