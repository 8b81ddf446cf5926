"""Housekeeping: what a scheduler process does on every poll besides firing jobs.

The heartbeat of this process, the reaping of runs whose lease expired, and (at most every WATCH_EVERY)
the metric tallies and alerts. It never claims or runs a job.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine

from app.core.alerts import Alerter
from app.core.instances import InstanceStore
from app.core.store import JobStore
from app.core.tally import settle
from app.errors import AppError

logger = logging.getLogger(__name__)
# Alerts and metric tallies are judged at most this often (not on every heartbeat: 100 jobs cost queries).
WATCH_EVERY = timedelta(seconds=30)


class Housekeeping:
    """One per scheduler; `once(now, ...)` is one poll's worth (the timer's housekeeping job and `tick()`)."""

    def __init__(
        self, engine: Engine, store: JobStore, instances: InstanceStore, alerter: Alerter, instance_id: str
    ) -> None:
        self.engine = engine
        self.store = store
        self.instances = instances
        self.alerter = alerter
        self.instance_id = instance_id
        self._watched_at: datetime | None = None

    def once(self, now: datetime, state: str | None, sessions: int) -> None:
        """Beat (`state`, the sessions seen; None: no timer here, no beat), reap expired leases, and watch when
        WATCH_EVERY has passed."""
        if state is not None:
            self.instances.beat(self.instance_id, now, state, sessions)
        reaped = self.store.reap_expired(now)
        if reaped:
            logger.warning("%d run(s) abandoned after their lease expired", reaped)
        if self._watched_at is None or now - self._watched_at >= WATCH_EVERY:
            self._watched_at = now
            self.watch(now)

    def watch(self, now: datetime) -> None:
        """Fold old runs into the metric tallies and raise or close alerts; never stops the heartbeat."""
        try:
            settle(self.engine, now)
            self.alerter.check(now)
        except AppError:
            logger.warning("alert check failed; trying again in %s", WATCH_EVERY, exc_info=True)
