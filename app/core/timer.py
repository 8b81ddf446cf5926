"""Timer: the in-process alarm clock (APScheduler's BackgroundScheduler) that fires jobs and housekeeping.

The only module that imports APScheduler. It decides nothing: the database says when a slot is due, the
timer is aimed at it and calls back; the claim, not the timer, guarantees one run per slot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from app.clock import Clock
from app.core.records import JobState

logger = logging.getLogger(__name__)
HOUSEKEEPING_ID = "__housekeeping__"
# The timer fires this much before a slot: the claim's database round trip happens early and the run
# starts on the slot (the runner waits for it), instead of a few milliseconds late.
TIMER_LEAD = timedelta(milliseconds=25)


class Timer:
    """One BackgroundScheduler per start; `lock` is the scheduler's, shared with hibernation."""

    def __init__(self, clock: Clock, tz: ZoneInfo, poll_seconds: float, lock: threading.RLock) -> None:
        self.clock = clock
        self.tz = tz
        self.poll_seconds = poll_seconds
        self.lock = lock
        self._aps: BackgroundScheduler | None = None

    @property
    def built(self) -> bool:
        """A timer exists (started, maybe paused by hibernation)."""
        return self._aps is not None

    @property
    def running(self) -> bool:
        with self.lock:
            return self._aps is not None and self._aps.running

    def start(self, housekeeping: Callable[[], None], fire: Callable[[str], None], jobs: Sequence[JobState]) -> None:
        """Build and start the timer: housekeeping every poll, each job aimed at its due slot (minus the lead)."""
        aps = BackgroundScheduler(
            timezone=self.tz,
            # misfire_grace_time=None: a late fire still runs (coalesced) instead of being dropped after 1 s.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            executors={"default": {"type": "threadpool", "max_workers": max(4, len(jobs) + 2)}},
        )
        aps.add_job(
            housekeeping,
            IntervalTrigger(seconds=self.poll_seconds, timezone=self.tz),
            id=HOUSEKEEPING_ID,
            name="heartbeat, leases, presence",
        )
        for job in jobs:
            now = self.clock.now()
            aps.add_job(
                fire,
                IntervalTrigger(seconds=job.period_seconds, timezone=self.tz),
                args=[job.name],
                id=job.name,
                name=job.name,
                next_run_time=max((job.due_at() or now) - TIMER_LEAD, now),
            )
        with self.lock:
            self._aps = aps
            aps.start()

    def detach(self) -> Callable[[bool], None] | None:
        """Forget the timer (under the caller's lock); returns its shutdown(wait), to call outside the lock."""
        with self.lock:
            aps, self._aps = self._aps, None
        return None if aps is None else partial(_shutdown, aps)

    def pause(self) -> None:
        if self._aps is not None:
            self._aps.pause()

    def resume(self) -> None:
        if self._aps is not None:
            self._aps.resume()

    def wake(self, name: str) -> None:
        """Fire the job's timer now (a request, a dependency that ended, a catch-up)."""
        with self.lock:
            if self._aps is not None and self._aps.get_job(name) is not None:
                self._aps.modify_job(name, next_run_time=self.clock.now())

    def aim(self, job: JobState, held_back: bool) -> None:
        """Point the job's timer at its next slot as the database has it (another replica may have moved it).

        `held_back`: the job waits for a dependency; look again at the next poll, not in a loop.
        """
        with self.lock:
            aps, name = self._aps, job.name
            due = job.due_at()
            timer_job = None if aps is None else aps.get_job(name)
            if aps is None or due is None or timer_job is None:
                return
            if timer_job.trigger.interval.total_seconds() != job.period_seconds:
                aps.reschedule_job(name, trigger=IntervalTrigger(seconds=job.period_seconds))
                timer_job = aps.get_job(name)
            now = self.clock.now()
            wanted = max(due - TIMER_LEAD, now)
            current: datetime | None = timer_job.next_run_time if timer_job is not None else None
            if held_back:
                if current is not None and current > now:
                    return  # already aimed at a later look; pushing it out on every poll would starve it
                wanted = max(wanted, now + timedelta(seconds=self.poll_seconds))
            if current is None or abs((current - wanted).total_seconds()) > 0.001:
                aps.modify_job(name, next_run_time=wanted)


def _shutdown(aps: BackgroundScheduler, wait: bool) -> None:
    try:
        aps.shutdown(wait=wait)
    except Exception:  # noqa: BLE001 - already shut down
        logger.debug("timer already shut down", exc_info=True)
