"""Housekeeping (app/core/housekeeping.py): each poll beats and reaps; tallies and alerts at most every
WATCH_EVERY."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.clock import FrozenClock
from app.core.housekeeping import WATCH_EVERY
from app.core.models import Run
from app.core.store import JobStore
from tests.support import ScriptedJob, job, scheduler


class CountingAlerter:
    def __init__(self) -> None:
        self.checked: list[datetime] = []

    def check(self, now: datetime) -> None:
        self.checked.append(now)


def test_each_poll_beats_and_reaps_a_run_whose_lease_expired(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url, lease_seconds=20), clock, job("j", ScriptedJob(), interval=600))
    s.prepare()
    assert JobStore(s.engine, "dead-process", lease_seconds=20).claim("j", clock.now()) is not None
    clock.advance(21)
    s.housekeeping.once(clock.now(), "running", 2)
    with s.engine.connect() as conn:
        assert conn.execute(select(Run.__table__.c.status)).scalar_one() == "abandoned"
    [beat] = s.heartbeats()
    assert (beat.id, beat.state, beat.sessions) == (s.instance_id, "running", 2)


def test_alerts_are_judged_at_most_every_watch_every(sqlite_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(sqlite_url), clock, job("j", ScriptedJob()))
    s.prepare()
    alerter = CountingAlerter()
    s.housekeeping.alerter = alerter  # type: ignore[assignment]
    start = clock.now()
    for seconds in (0, 5, 29, 30, 31, 61):
        clock.set(start + timedelta(seconds=seconds))
        s.housekeeping.once(clock.now(), "running", 0)
    assert WATCH_EVERY == timedelta(seconds=30)
    assert alerter.checked == [start, start + timedelta(seconds=30), start + timedelta(seconds=61)]
