"""RunHandle: what `run_now()` returns, following the run that serves a request until it ends.

It reads through the scheduler's façade parts and never starts a timer of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from app.core.models import RunStatus
from app.core.records import RunRecord
from app.core.store import RunRequest

if TYPE_CHECKING:
    from app.core.scheduler import SyncScheduler

logger = logging.getLogger(__name__)


class RunHandle:
    """What `run_now()` returns: poll it (or wait on it) for the run that serves the request.

    A caller that waits keeps the reaper going: when the run it waits on outlives its lease (its process died
    or hung), the handle abandons it and follows the run that serves the request now (the abandoned run's
    retry, or a new request), so a crash never leaves a waiting CLI or page watching a dead run.
    """

    def __init__(self, scheduler: SyncScheduler, request: RunRequest, requested_by: str | None = None) -> None:
        self._scheduler = scheduler
        self.request = request
        self.job_name = request.job_name
        self.joined = request.joined
        self.requested_by = requested_by
        self._lease_seen_until: datetime | None = None  # the waited run's lease, as last read

    @property
    def run_id(self) -> int | None:
        return self._scheduler.store.resolve_request(self.request)

    def poll(self) -> RunRecord | None:
        """The serving run's record (status, rows, progress), or None while it waits to be claimed."""
        return self._poll(here=False)

    def done(self) -> bool:
        return _ended(self.poll())

    def wait(self, timeout: float, poll_every: float = 0.1) -> RunRecord | None:
        """Block up to `timeout` seconds (real time) for the run to end; returns its record.

        Without a timer in this process, a run that replaces a dead one executes here, in this thread (a CLI
        that exits right after must not leave a run behind in a daemon thread).
        """
        stop = threading.Event()
        deadline = time.monotonic() + timeout
        here = self._scheduler.executes_runs and not self._scheduler.timer_running
        run = self._poll(here)
        while not _ended(run):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            stop.wait(min(poll_every, left))
            run = self._poll(here)
        return run

    def _record(self) -> RunRecord | None:
        run_id = self.run_id
        return None if run_id is None else self._scheduler.status_reader.run(run_id)

    def _poll(self, here: bool) -> RunRecord | None:
        run = self._record()
        if run is not None and run.status == RunStatus.RUNNING.value and self._lease_expired(run.id):
            self._scheduler.store.reap_expired(self._scheduler.clock.now())
            run = self._record()
        if run is not None and run.status == RunStatus.ABANDONED.value:
            self._follow(here)
            run = self._record()
        return run

    def _lease_expired(self, run_id: int) -> bool:
        """Whether the run's lease ran out; reads the job row only once the lease last seen has passed."""
        now = self._scheduler.clock.now()
        if self._lease_seen_until is not None and now < self._lease_seen_until:
            return False
        job = self._scheduler.store.get_job(self.job_name)
        until = job.lease_expires_at
        if job.current_run_id == run_id and until is not None and until > now:
            self._lease_seen_until = until
            return False
        return True  # expired, or the job no longer holds this run (reap_expired then ends an orphan)

    def _follow(self, here: bool) -> None:
        """The run serving the request was abandoned: follow its retry when one is due, else ask again.

        A job with dependencies asks again: a retry would wait for them, a request (like "Run now") does not.
        """
        scheduler, now = self._scheduler, self._scheduler.clock.now()
        job = scheduler.store.get_job(self.job_name)
        lease_free = not job.lease_held(now)
        retry = job.follow_up_at if not job.paused and not job.depends_on else None
        if lease_free and job.requested_at is None and retry is not None and retry <= now:
            self.request = RunRequest(self.job_name, None, retry, joined=True)
        else:
            self.request = scheduler.store.request_run(self.job_name, now, self.requested_by)
        self._lease_seen_until = None
        logger.warning("the run serving a request for %s was abandoned; following its replacement", self.job_name)
        scheduler.serve(self.job_name, here)


def _ended(run: RunRecord | None) -> bool:
    return run is not None and run.status != RunStatus.RUNNING.value
