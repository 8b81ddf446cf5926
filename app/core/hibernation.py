"""Hibernation: a process's scheduler sleeps when no browser session was seen for SCHEDULER_IDLE_MINUTES.

Asleep, its timer is paused and it beats "hibernating"; the next session wakes it with a catch-up of the
slots it slept through. Presence (who was seen when) is `app.core.presence`; a worker never hibernates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from app.core.instances import InstanceStore
from app.core.presence import Presence, should_hibernate
from app.core.timer import Timer

logger = logging.getLogger(__name__)


class Hibernation:
    """`catch_up(now)` makes due the slots missed while asleep; `worker`: a headless process, never asleep."""

    def __init__(
        self,
        presence: Presence,
        timer: Timer,
        instances: InstanceStore,
        instance_id: str,
        idle: timedelta,
        *,
        catch_up: Callable[[datetime], None],
        worker: bool,
    ) -> None:
        self.presence = presence
        self.timer = timer
        self.instances = instances
        self.instance_id = instance_id
        self.idle = idle
        self.worker = worker
        self.asleep = False
        self._catch_up = catch_up
        self._lock = timer.lock  # one lock with the timer: asleep and the timer's pause change together

    def sessions(self, now: datetime) -> int:
        """Sessions seen within the idle window (what the heartbeat reports)."""
        return self.presence.active(now, self.idle)

    def touch(self, session_id: str, now: datetime) -> None:
        """Presence from a page run or live fragment; wakes a hibernating scheduler (with catch-up)."""
        self.presence.touch(session_id, now)
        if self.asleep:
            with self._lock:
                if self.asleep:
                    self.wake(now)

    def check_idle(self, now: datetime) -> bool:
        """Hibernate when no session was seen for the idle time; True when now asleep."""
        if self.worker:
            return False  # a worker has no browser sessions: it runs until it is told to stop
        with self._lock:
            if not self.asleep and should_hibernate(self.presence.last_seen_at(now), now, self.idle):
                self._hibernate(now)
        return self.asleep

    def _hibernate(self, now: datetime) -> None:
        self.asleep = True
        self.timer.pause()
        self.instances.beat(self.instance_id, now, "hibernating", 0)
        logger.info("no session for %s: scheduler hibernating", self.idle)

    def wake(self, now: datetime) -> None:
        """Resume the timer, beat "running" and catch up (the caller holds the lock)."""
        self.asleep = False
        self.timer.resume()
        self.instances.beat(self.instance_id, now, "running", self.sessions(now))
        logger.info("session seen: scheduler awake")
        self._catch_up(now)
