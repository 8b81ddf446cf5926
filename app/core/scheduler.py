"""SyncScheduler, the façade: lifecycle and operator actions, delegating to its parts (timer, dispatch,
hibernation, housekeeping, the stores); the database claim, not the timer, guarantees one run per slot.

Its read-only side is `queries.py`; the process singleton and the seed's functions (`singleton.py`) are
re-exported here, where the README and the seed's callers import them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from app.clock import Clock, SystemClock
from app.config import Settings, load_settings, secret_values
from app.core import child, process_registry
from app.core.agenda import Agenda
from app.core.alerts import Alerter
from app.core.catalogue import JobDefinition, check_dependencies, default_jobs
from app.core.cursors import reset_cursor
from app.core.database import create_schema, get_engine
from app.core.dispatch import Dispatcher
from app.core.handle import RunHandle
from app.core.hibernation import Hibernation
from app.core.housekeeping import Housekeeping
from app.core.instances import InstanceStore
from app.core.listener import RequestListener
from app.core.metrics import start_metrics_server
from app.core.presence import Presence
from app.core.queries import SchedulerQueries
from app.core.records import JobState
from app.core.runner import Outcome, Runner
from app.core.singleton import get_scheduler, get_scheduler_status, initialize_scheduler, shutdown_scheduler
from app.core.status import StatusReader
from app.core.store import JobStore
from app.core.timer import HOUSEKEEPING_ID, TIMER_LEAD, Timer
from app.core.triggers import Trigger, parse_trigger
from app.dataset_config import DEFAULT_JOB  # the one name of the seed's sync job
from app.errors import AppError, ConfigError, SchedulerError, UnknownJobError

logger = logging.getLogger(__name__)
__all__ = [
    "DEFAULT_JOB",
    "HOUSEKEEPING_ID",
    "JobDefinition",
    "RunHandle",
    "SyncScheduler",
    "get_scheduler",
    "get_scheduler_status",
    "initialize_scheduler",
    "shutdown_scheduler",
]


class SyncScheduler(SchedulerQueries):
    """One per process. `start()`/`stop()`/`restart()`/`run_now()` as the seed named them."""

    def __init__(
        self,
        interval_minutes: float | None = None,
        *,
        settings: Settings | None = None,
        engine: Engine | None = None,
        clock: Clock | None = None,
        jobs: Iterable[JobDefinition] | None = None,
        instance_id: str | None = None,
        presence: Presence | None = None,
        worker: bool = False,
    ) -> None:
        """`worker`: a headless process (`python -m app worker`): never hibernates (it has no browser sessions)
        and listens for run requests made elsewhere, so a web process's Sync now starts within a second."""
        self.settings = settings or load_settings()
        if self.settings.fatal:  # e.g. an invalid DATABASE_URL: never run against the default database instead
            raise ConfigError("; ".join(str(issue) for issue in self.settings.fatal))
        if interval_minutes is not None:
            if interval_minutes <= 0:
                raise SchedulerError(f"interval_minutes must be positive, got {interval_minutes!r}")
            self.settings = _replace(self.settings, sync_interval_minutes=float(interval_minutes))
        self.database_url = self.settings.database_url
        self.engine = engine or get_engine(self.database_url)
        self.clock = clock or SystemClock()
        self.instance_id = instance_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.store = JobStore(self.engine, self.instance_id, self.settings.lease_seconds, self.settings.tz)
        self.agenda = Agenda(self.engine, self.store)
        self.instances = InstanceStore(self.engine)
        self.status_reader = StatusReader(self.engine, self.settings)
        self.alerter = Alerter(self.engine, self.settings, self.clock)
        self.definitions = {d.spec.name: d for d in (jobs if jobs is not None else default_jobs(self.settings))}
        self.runner = Runner(
            self.store,
            self.clock,
            secret_values(self.settings),
            isolation=self.settings.run_isolation,
            kill_grace_seconds=self.settings.run_kill_grace_seconds,
        )
        if self.settings.run_isolation == "process":
            child.preload(
                [*(child.module_of(d.func) for d in self.definitions.values()), *child.driver_modules(self.engine)]
            )
        check_dependencies(self.definitions.values())
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._schema_ready = False
        self._driver: threading.Thread | None = None
        self.worker = worker
        self._assemble(presence or Presence())
        self.listener = RequestListener(self.engine, self.store, self._wake_job) if worker else None

    def _assemble(self, presence: Presence) -> None:
        """The parts the façade delegates to; they share its lock and its stopping flag."""
        self.presence = presence
        self.timer = Timer(self.clock, self.settings.tz, self.settings.scheduler_poll_seconds, self._lock)
        self.hibernation = Hibernation(
            presence,
            self.timer,
            self.instances,
            self.instance_id,
            timedelta(minutes=self.settings.scheduler_idle_minutes),
            catch_up=self._catch_up,
            worker=self.worker,
        )
        self.dispatcher = Dispatcher(
            self.store,
            self.runner,
            self.clock,
            self.definitions,
            max_concurrent_runs=self.settings.max_concurrent_runs,
            stopping=self._stopping,
            wake=self._wake_job,
            executes_runs=lambda: self.executes_runs,
        )
        self.housekeeping = Housekeeping(self.engine, self.store, self.instances, self.alerter, self.instance_id)

    # -- lifecycle -----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the schema and the job rows (idempotent); raises StoreError when the DB is unusable."""
        if self._schema_ready:
            return
        create_schema(self.engine)
        now = self.clock.now()
        for definition in self.definitions.values():
            self.store.ensure_job(definition.spec, now)
        self.agenda.renew(now)
        self._schema_ready = True

    def start(self, resume_jobs: bool = True) -> None:
        """Start the timer; with `resume_jobs` (the Start button) also lift the scheduler pause of `stop()`.

        In the web role there is no timer here: Start only lifts the pause, which the workers obey.
        """
        self.prepare()
        now = self.clock.now()
        if resume_jobs:  # the scheduler's pause only: jobs an operator paused one by one stay paused
            self.store.set_scheduler_paused(False, now)
        if not self.executes_runs:
            self._stopping.clear()  # Restart (stop, then start) must leave it the process scheduler
            return
        if self.settings.run_isolation == "process":
            child.warm_up()
        with self._lock:
            self._stopping.clear()
            if not self.timer.built:
                self.timer.start(self._housekeeping, self._fire, [self.store.get_job(n) for n in self.definitions])
            elif self.hibernation.asleep:
                self.hibernation.wake(now)
        self.instances.beat(self.instance_id, now, "running", self.hibernation.sessions(now))
        self._catch_up(now)
        if self.listener is not None:
            self.listener.start()
        logger.info("scheduler %s started (%d jobs)", self.instance_id, len(self.definitions))

    def stop(self) -> None:
        """Pause the scheduler in the database (all replicas obey); "Sync now" still works. Per-job pauses stay."""
        self.prepare()
        self.store.set_scheduler_paused(True, self.clock.now())
        logger.info("scheduler stopped by request: scheduling paused")

    def restart(self) -> None:
        """A fresh timer (e.g. after a setting changed) and every job resumed; stays the process scheduler."""
        self._stop_timer(wait=False)
        self.start(resume_jobs=True)

    def shutdown(self, wait: bool = False) -> None:
        """Stop this process's timer for good (not persisted: other replicas go on). Never blocks when wait=False."""
        self._stop_timer(wait)
        process_registry.unregister(self)

    def _stop_timer(self, wait: bool) -> None:
        with self._lock:
            self._stopping.set()
            shutdown = self.timer.detach()
            self.hibernation.asleep = False
        if self.listener is not None:
            self.listener.stop(timeout=0 if not wait else 5.0)
        if shutdown is not None:
            shutdown(wait)
            try:
                self.instances.beat(self.instance_id, self.clock.now(), "stopped", 0)
            except AppError:
                logger.warning("could not record the scheduler stop", exc_info=True)
            except Exception:  # noqa: BLE001 - the database may be gone at interpreter exit
                logger.debug("could not record the scheduler stop", exc_info=True)

    @property
    def timer_running(self) -> bool:
        return self.timer.running

    @property
    def hibernating(self) -> bool:
        return self.hibernation.asleep

    @property
    def executes_runs(self) -> bool:
        """False in the web role (SCHEDULER_ROLE=web): requests go to the database and workers run them."""
        return self.worker or self.settings.scheduler_role != "web"

    # -- runs ----------------------------------------------------------------------------------------

    def run_now(self, job: str = DEFAULT_JOB, requested_by: str | None = None) -> RunHandle:
        """Ask for a run now; joins a run in progress or already requested (by anyone, any replica)."""
        self.prepare()
        if job not in self.definitions:
            self.store.get_job(job)
            raise UnknownJobError(job, "is not registered in this process")
        request = self.store.request_run(job, self.clock.now(), requested_by)
        self._wake_job(job)
        return RunHandle(self, request, requested_by)

    def serve(self, job: str, here: bool = False) -> None:
        """Get a due request of `job` executed: by this process's timer, else here (in this thread) or in a
        background thread; in the web role by a worker (it hears of the request through the database)."""
        if self.timer_running:
            self._wake_job(job)
        elif here:
            self.dispatcher.dispatch(job, only=True)
        else:
            self.drive_in_background(job)

    def request_if_stale(self, job: str = DEFAULT_JOB, requested_by: str | None = None) -> RunHandle | None:
        """A run when the data is older than the interval (auto-refresh fallback); None when fresh.

        Every tab may call this: the request coalesces in the database, so N tabs give one run.
        """
        self.prepare()
        status = self.get_status(job)
        if not status.stale or status.paused:
            return None
        handle = self.run_now(job, requested_by=requested_by)
        self.drive_in_background(job)
        return handle

    def drive_in_background(self, job: str = DEFAULT_JOB) -> None:
        """Without a timer in this process (SCHEDULER_ENABLED=false), run a due request in a daemon thread.

        Never in the web role: a worker serves the request."""
        if self.timer_running or not self.executes_runs:
            return
        with self._lock:
            if self._driver is not None and self._driver.is_alive():
                return
            dispatch = self.dispatcher.dispatch
            self._driver = threading.Thread(target=dispatch, args=(job,), name="freshdash-driver", daemon=True)
            self._driver.start()

    def tick(self) -> list[Outcome]:
        """One iteration without the timer: reap, heartbeat (only with a running timer), then claim and run
        every due job here, highest priority first, each after its dependencies."""
        self.prepare()
        now = self.clock.now()
        if self.executes_runs:  # a web process is no scheduler: no housekeeping of its own
            self._housekeeping_once(now)
        return self.dispatcher.dispatch()

    def wait_for_runs(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until no run executes in this process; True when none does."""
        return self.dispatcher.wait_for_runs(timeout)

    # -- presence and hibernation --------------------------------------------------------------------

    def touch(self, session_id: str) -> None:
        """Presence from a page run or live fragment; wakes a hibernating scheduler (with catch-up)."""
        self.hibernation.touch(session_id, self.clock.now())

    def check_idle(self) -> bool:
        """Hibernate when no session was seen for SCHEDULER_IDLE_MINUTES; True when now asleep."""
        return self.hibernation.check_idle(self.clock.now())

    def _catch_up(self, now: datetime) -> None:
        for name in self.definitions:
            if self.store.make_due_if_stale(name, now):
                self._wake_job(name)

    # -- timer ---------------------------------------------------------------------------------------

    def _fire(self, name: str) -> None:
        try:
            self.dispatcher.dispatch(name, TIMER_LEAD)
        finally:
            self._reschedule(name)

    def _reschedule(self, name: str, job: JobState | None = None) -> None:
        """Point the timer at the job's next slot as the database has it (another replica may have moved it)."""
        with self._lock:
            if not self.timer.built or self._stopping.is_set():
                return
            self.timer.aim(job or self.store.get_job(name), held_back=name in self.dispatcher.waiting)

    def _wake_job(self, name: str) -> None:
        with self._lock:
            if not self.hibernation.asleep:
                self.timer.wake(name)

    def _housekeeping(self) -> None:
        try:
            now = self.clock.now()
            if self.check_idle():
                return
            self._housekeeping_once(now)
            # One read of every job row: due ones are woken, the others re-aimed at their next slot.
            for job in self.store.list_jobs():
                if job.name in self.definitions:
                    self._reschedule(job.name, job)
        except Exception:  # noqa: BLE001 - the timer must survive a database blip
            logger.exception("scheduler housekeeping failed; retrying at the next tick")

    def _housekeeping_once(self, now: datetime) -> None:
        # A beat tells whether this process schedules: one without a running timer (the CLI's `run --wait`)
        # stays out of the heartbeats rather than beat "stopped" over a worker that went silent.
        state = self.state_name if self.timer_running else None
        self.housekeeping.once(now, state, self.hibernation.sessions(now))

    @property
    def state_name(self) -> str:
        if not self.executes_runs:
            return "web"  # the status judges the workers' heartbeats instead
        if self.hibernation.asleep:
            return "hibernating"
        return "running" if self.timer_running else "stopped"

    # -- metrics (the reads are SchedulerQueries') ----------------------------------------------------

    def start_metrics(self) -> None:
        """The Prometheus endpoint on METRICS_PORT (once per process); a busy port is logged, not fatal."""
        try:
            start_metrics_server(self.settings.metrics_port, self.engine, self.clock)
        except AppError as exc:
            logger.error("metrics endpoint not started: %s", exc)

    # -- runtime control of jobs (persisted: every replica follows) ------------------------------------

    def pause_job(self, name: str) -> None:
        self.prepare()
        self.store.set_job_paused(name, True, self.clock.now())

    def resume_job(self, name: str) -> None:
        self.prepare()
        self.store.set_job_paused(name, False, self.clock.now())
        self._catch_up(self.clock.now())
        self._reschedule(name)

    def set_trigger(self, name: str, text: str) -> Trigger:
        """Change a job's trigger ("every 5m", "cron 0 8 * * 1-5" ...); raises TriggerError on bad text."""
        self.prepare()
        now = self.clock.now()
        parse_trigger(text, self.settings.tz).check_fires(now, self.settings.tz)
        trigger = self.store.set_trigger(name, text, now)
        self._slots_moved(name, now)
        return trigger

    def set_interval(self, name: str, minutes: float) -> None:
        """A new interval, keeping the job's days and hours window."""
        self.prepare()
        now = self.clock.now()
        self.store.set_interval(name, minutes * 60.0, now)
        self._slots_moved(name, now)

    def _slots_moved(self, name: str, now: datetime) -> None:
        """After a job's slots changed: re-plan today's queue and re-aim the timer."""
        self.agenda.renew(now)
        self._reschedule(name)

    def reset_stuck(self, name: str) -> bool:
        self.prepare()
        return self.store.reset_stuck(name, self.clock.now())

    # -- maintenance ---------------------------------------------------------------------------------

    def purge(self, older_than: datetime) -> int:
        """Delete finished runs and their log lines that started before `older_than`; how many runs."""
        self.prepare()
        return self.store.purge(older_than)

    def reset_cursor(self, job: str) -> bool:
        """Full resync of a job's data: forget its cursor (False when it has none yet)."""
        self.prepare()
        self.store.get_job(job)  # an unknown job is an error, not "no cursor"
        return reset_cursor(self.engine, job, self.clock.now())


def _replace(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
