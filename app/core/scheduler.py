"""SyncScheduler: APScheduler as the in-process timer, the database claim as the guarantee of one run per slot.

Also the process singleton (`get_scheduler`) and the seed's module-level functions that delegate to it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from app.clock import Clock, SystemClock
from app.config import Settings, load_settings, secret_values
from app.core import child, process_registry
from app.core.agenda import Agenda
from app.core.alerts import Alerter, open_alerts
from app.core.catalogue import JobDefinition, check_dependencies
from app.core.cursors import reset_cursor
from app.core.database import create_schema, get_engine
from app.core.dependencies import Verdict, decide, window_start
from app.core.instances import InstanceStore
from app.core.listener import RequestListener
from app.core.metrics import metrics_snapshot, start_metrics_server
from app.core.models import RunReason, RunStatus
from app.core.presence import Presence, should_hibernate
from app.core.records import AgendaEntry, InstanceBeat, JobState, JobStatus, RunLogLine, RunRecord, SuccessRate
from app.core.runner import Outcome, Runner
from app.core.status import StatusReader, silent_after
from app.core.store import JobStore, RunRequest
from app.core.tally import settle
from app.core.triggers import Trigger, parse_trigger
from app.dataset_config import DEFAULT_JOB  # the one name of the seed's sync job
from app.errors import AppError, ConfigError, SchedulerError, UnknownJobError

logger = logging.getLogger(__name__)
HOUSEKEEPING_ID = "__housekeeping__"
# The timer fires this much before a slot: the claim's database round trip happens early and the run
# starts on the slot (the runner waits for it), instead of a few milliseconds late.
TIMER_LEAD = timedelta(milliseconds=25)
# Alerts and metric tallies are judged at most this often (not on every heartbeat: 100 jobs cost queries).
WATCH_EVERY = timedelta(seconds=30)
__all__ = ["DEFAULT_JOB", "JobDefinition", "RunHandle", "SyncScheduler", "get_scheduler", "initialize_scheduler"]


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


class SyncScheduler:
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
        self.presence = presence or Presence()
        self.alerter = Alerter(self.engine, self.settings, self.clock)
        self._watched_at: datetime | None = None
        self.definitions = {d.spec.name: d for d in (jobs if jobs is not None else default_jobs(self.settings))}
        self.runner = Runner(
            self.store,
            self.clock,
            secret_values(self.settings),
            isolation=self.settings.run_isolation,
            kill_grace_seconds=self.settings.run_kill_grace_seconds,
        )
        if self.settings.run_isolation == "process":
            child.preload([*(_module_of(d.func) for d in self.definitions.values()), *_driver_modules(self.engine)])
        check_dependencies(self.definitions.values())
        self._dependents = {
            name: [d.spec.name for d in self.definitions.values() if name in d.spec.depends_on]
            for name in self.definitions
        }
        # Bounded concurrency: with several jobs due, the free places go to the highest priority first.
        self._places = threading.BoundedSemaphore(self.settings.max_concurrent_runs)
        self._waiting: set[str] = set()  # due jobs held back until their dependencies end
        self._aps: BackgroundScheduler | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._hibernating = False
        self._schema_ready = False
        self._driver: threading.Thread | None = None
        self.worker = worker
        self._in_flight = 0  # dispatches executing now (a worker's shutdown lets them end)
        self._runs_done = threading.Condition()
        self.listener = RequestListener(self.engine, self.store, self._wake_job) if worker else None

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
            if self._aps is None:
                self._aps = self._build_timer()
                self._aps.start()
            elif self._hibernating:
                self._wake(now)
        self.instances.beat(self.instance_id, now, "running", self.presence.active(now, self._idle))
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
            aps, self._aps = self._aps, None
            self._hibernating = False
        if self.listener is not None:
            self.listener.stop(timeout=0 if not wait else 5.0)
        if aps is not None:
            try:
                aps.shutdown(wait=wait)
            except Exception:  # noqa: BLE001 - already shut down
                logger.debug("timer already shut down", exc_info=True)
            try:
                self.instances.beat(self.instance_id, self.clock.now(), "stopped", 0)
            except AppError:
                logger.warning("could not record the scheduler stop", exc_info=True)
            except Exception:  # noqa: BLE001 - the database may be gone at interpreter exit
                logger.debug("could not record the scheduler stop", exc_info=True)

    @property
    def timer_running(self) -> bool:
        with self._lock:
            return self._aps is not None and self._aps.running

    @property
    def hibernating(self) -> bool:
        return self._hibernating

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
            self._dispatch(job, only=True)
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
            self._driver = threading.Thread(target=self._dispatch, args=(job,), name="freshdash-driver", daemon=True)
            self._driver.start()

    def tick(self) -> list[Outcome]:
        """One iteration without the timer: heartbeat, reap, then claim and run every due job here,
        highest priority first, each after its dependencies."""
        self.prepare()
        now = self.clock.now()
        if self.executes_runs:  # a web process is no scheduler: no heartbeat of its own
            self._housekeeping_once(now)
        return self._dispatch()

    def _dispatch(self, first: str | None = None, lead: timedelta = timedelta(0), only: bool = False) -> list[Outcome]:
        """Claim and execute due slots in priority order until none is claimable here.

        `first` (the job whose timer fired) is considered even if the database has not made it due yet
        (the timer lead); with `only`, no other job is. Dependents whose dependencies are still running or
        due wait; those whose dependencies failed get a skipped run with the reason.
        """
        outcomes: list[Outcome] = []
        if not self.executes_runs:  # the last guard of the web role: whatever calls this, runs happen in workers
            return outcomes
        with self._runs_done:
            self._in_flight += 1
        try:
            with self._places:
                for _ in range(100):  # bounded: each claim moves a slot past now
                    if self._stopping.is_set():
                        break
                    outcome = self._run_next(first, lead, only)
                    if outcome is None:
                        break
                    outcomes.append(outcome)
        finally:
            with self._runs_done:
                self._in_flight -= 1
                self._runs_done.notify_all()
        return outcomes

    def wait_for_runs(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until no run executes in this process; True when none does."""
        with self._runs_done:
            return self._runs_done.wait_for(lambda: self._in_flight == 0, timeout)

    def _run_next(self, first: str | None, lead: timedelta, only: bool = False) -> Outcome | None:
        now = self.clock.now()
        names = [] if only else [n for n in self.store.due_job_names(now + lead) if n in self.definitions]
        if first is not None and first not in names and first in self.definitions:
            names.append(first)
        for name in names:
            verdict, reason = self._dependency_verdict(name, now + lead)
            if verdict == Verdict.WAIT:
                self._waiting.add(name)
                continue
            self._waiting.discard(name)
            claim = self.store.claim(name, now, lead)
            if claim is None:
                continue
            if verdict == Verdict.SKIP and claim.reason != RunReason.MANUAL.value:
                outcome = self.runner.skip(claim, reason)
            else:
                outcome = self.runner.execute(claim, self.definitions[name].func, self._stopping)
            for dependent in self._dependents.get(name, []):
                self._wake_job(dependent)
            return outcome
        return None

    def _dependency_verdict(self, name: str, now: datetime) -> tuple[Verdict, str]:
        """`now` includes the timer lead: a dependency due in the same instant counts as due."""
        deps = self.definitions[name].spec.depends_on
        if not deps:
            return Verdict.READY, ""
        job = self.store.get_job(name)
        if job.requested_at is not None:
            return Verdict.READY, ""  # "Run now" by an operator does not wait for dependencies
        slot = self.store.due_slot_of(job, now)
        since = window_start(slot or now, timedelta(seconds=job.period_seconds))
        return decide(self.store.dependency_states(deps, now), since)

    # -- presence and hibernation --------------------------------------------------------------------

    @property
    def _idle(self) -> timedelta:
        return timedelta(minutes=self.settings.scheduler_idle_minutes)

    def touch(self, session_id: str) -> None:
        """Presence from a page run or live fragment; wakes a hibernating scheduler (with catch-up)."""
        now = self.clock.now()
        self.presence.touch(session_id, now)
        if self._hibernating:
            with self._lock:
                if self._hibernating:
                    self._wake(now)

    def check_idle(self) -> bool:
        """Hibernate when no session was seen for SCHEDULER_IDLE_MINUTES; True when now asleep."""
        now = self.clock.now()
        if self.worker:
            return False  # a worker has no browser sessions: it runs until it is told to stop
        with self._lock:
            if not self._hibernating and should_hibernate(self.presence.last_seen_at(now), now, self._idle):
                self._hibernate(now)
        return self._hibernating

    def _hibernate(self, now: datetime) -> None:
        self._hibernating = True
        if self._aps is not None:
            self._aps.pause()
        self.instances.beat(self.instance_id, now, "hibernating", 0)
        logger.info("no session for %s: scheduler hibernating", self._idle)

    def _wake(self, now: datetime) -> None:
        self._hibernating = False
        if self._aps is not None:
            self._aps.resume()
        self.instances.beat(self.instance_id, now, "running", self.presence.active(now, self._idle))
        logger.info("session seen: scheduler awake")
        self._catch_up(now)

    def _catch_up(self, now: datetime) -> None:
        for name in self.definitions:
            if self.store.make_due_if_stale(name, now):
                self._wake_job(name)

    # -- timer ---------------------------------------------------------------------------------------

    def _build_timer(self) -> BackgroundScheduler:
        aps = BackgroundScheduler(
            timezone=self.settings.tz,
            # misfire_grace_time=None: a late fire still runs (coalesced) instead of being dropped after 1 s.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            executors={"default": {"type": "threadpool", "max_workers": max(4, len(self.definitions) + 2)}},
        )
        aps.add_job(
            self._housekeeping,
            IntervalTrigger(seconds=self.settings.scheduler_poll_seconds, timezone=self.settings.tz),
            id=HOUSEKEEPING_ID,
            name="heartbeat, leases, presence",
        )
        for name in self.definitions:
            job = self.store.get_job(name)
            aps.add_job(
                self._fire,
                IntervalTrigger(seconds=job.period_seconds, timezone=self.settings.tz),
                args=[name],
                id=name,
                name=name,
                next_run_time=max((self._due_time(job) or self.clock.now()) - TIMER_LEAD, self.clock.now()),
            )
        return aps

    def _fire(self, name: str) -> None:
        try:
            self._dispatch(name, TIMER_LEAD)
        finally:
            self._reschedule(name)

    def _reschedule(self, name: str, job: JobState | None = None) -> None:
        """Point the timer at the job's next slot as the database has it (another replica may have moved it)."""
        with self._lock:
            aps = self._aps
            if aps is None or self._stopping.is_set():
                return
            job = job or self.store.get_job(name)
            due = self._due_time(job)
            timer_job = aps.get_job(name)
            if due is None or timer_job is None:
                return
            if timer_job.trigger.interval.total_seconds() != job.period_seconds:
                aps.reschedule_job(name, trigger=IntervalTrigger(seconds=job.period_seconds))
                timer_job = aps.get_job(name)
            now = self.clock.now()
            wanted = max(due - TIMER_LEAD, now)
            current = timer_job.next_run_time if timer_job is not None else None
            if name in self._waiting:  # held back by a dependency: look again at the next poll, not in a loop
                if current is not None and current > now:
                    return  # already aimed at a later look; pushing it out on every poll would starve it
                wanted = max(wanted, now + timedelta(seconds=self.settings.scheduler_poll_seconds))
            if current is None or abs((current - wanted).total_seconds()) > 0.001:
                aps.modify_job(name, next_run_time=wanted)

    def _wake_job(self, name: str) -> None:
        with self._lock:
            if self._aps is not None and not self._hibernating and self._aps.get_job(name) is not None:
                self._aps.modify_job(name, next_run_time=self.clock.now())

    @staticmethod
    def _due_time(job: JobState) -> datetime | None:
        return job.due_at()

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
        self.instances.beat(self.instance_id, now, self.state_name, self.presence.active(now, self._idle))
        reaped = self.store.reap_expired(now)
        if reaped:
            logger.warning("%d run(s) abandoned after their lease expired", reaped)
        if self._watched_at is None or now - self._watched_at >= WATCH_EVERY:
            self._watched_at = now
            self._watch(now)

    def _watch(self, now: datetime) -> None:
        """Fold old runs into the metric tallies and raise or close alerts; never stops the heartbeat."""
        try:
            settle(self.engine, now)
            self.alerter.check(now)
        except AppError:
            logger.warning("alert check failed; trying again in %s", WATCH_EVERY, exc_info=True)

    @property
    def state_name(self) -> str:
        if not self.executes_runs:
            return "web"  # the status judges the workers' heartbeats instead
        if self._hibernating:
            return "hibernating"
        return "running" if self.timer_running else "stopped"

    # -- status --------------------------------------------------------------------------------------

    def start_metrics(self) -> None:
        """The Prometheus endpoint on METRICS_PORT (once per process); a busy port is logged, not fatal."""
        try:
            start_metrics_server(self.settings.metrics_port, self.engine, self.clock)
        except AppError as exc:
            logger.error("metrics endpoint not started: %s", exc)

    def running_workers(self) -> int:
        """Processes whose timer beat "running" recently (what a web process relies on for its runs)."""
        now = self.clock.now()
        return self.instances.running_since(now - silent_after(self.settings))

    def get_status(self, job: str = DEFAULT_JOB, seen_by: str | None = None) -> JobStatus:
        """The job's status; `seen_by` names a caller without a timer (the CLI's "cli") as its state."""
        self.prepare()
        return self.status_reader.job_status(job, self.clock.now(), seen_by or self.state_name)

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
        """After a job's slots changed: re-plan today's agenda and re-aim the timer."""
        self.agenda.renew(now)
        self._reschedule(name)

    def reset_stuck(self, name: str) -> bool:
        self.prepare()
        return self.store.reset_stuck(name, self.clock.now())

    def history(self, job: str | None = None, limit: int = 50, status: str | None = None) -> list[RunRecord]:
        """Recent runs, newest first (of one job, with one status)."""
        self.prepare()
        return self.status_reader.history(job, limit, status)

    def todays_agenda(self) -> list[AgendaEntry]:
        self.prepare()
        return self.agenda.entries(self.clock.now())

    # -- reads for the UI and CLI (they call these, never the stores behind them) ----------------------

    def get_job(self, name: str) -> JobState:
        """One job's row; raises UnknownJobError."""
        self.prepare()
        return self.store.get_job(name)

    def list_jobs(self) -> list[JobState]:
        """Every job, highest priority first."""
        self.prepare()
        return self.store.list_jobs()

    def scheduler_paused(self) -> bool:
        """Whether Stop paused scheduling (every job, every replica)."""
        self.prepare()
        return self.store.scheduler_paused()

    def get_run(self, run_id: int) -> RunRecord | None:
        self.prepare()
        return self.status_reader.run(run_id)

    def run_logs(self, run_id: int | None = None, limit: int = 100) -> list[RunLogLine]:
        """The newest log lines (of one run)."""
        self.prepare()
        return self.status_reader.logs(run_id, limit)

    def success_rate(self, job: str = DEFAULT_JOB, window: timedelta = timedelta(hours=24)) -> SuccessRate:
        self.prepare()
        return self.status_reader.success_rate(job, self.clock.now(), window)

    def heartbeats(self, limit: int = 20) -> list[InstanceBeat]:
        """The scheduler processes (every replica) that beat most recently, newest first."""
        self.prepare()
        return self.status_reader.instances(limit)

    def metrics_summary(self) -> dict[str, Any]:
        """Every number the metrics endpoint exports (app.core.metrics.metrics_snapshot)."""
        self.prepare()
        return metrics_snapshot(self.engine, self.clock.now())

    def open_alerts(self) -> list[dict[str, Any]]:
        """The alert episodes open now, oldest first."""
        self.prepare()
        return open_alerts(self.engine)

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


def _driver_modules(engine: Engine) -> list[str]:
    """The database driver and its SQLAlchemy dialect (a run's process connects at once: import them once)."""
    dbapi = getattr(engine.dialect, "dbapi", None)
    return [type(engine.dialect).__module__, *([dbapi.__name__] if dbapi is not None else [])]


def _module_of(func: Any) -> str:
    """The module a job function (or the function a `functools.partial` wraps) is defined in."""
    return str(getattr(getattr(func, "func", func), "__module__", "") or "")


def default_jobs(settings: Settings) -> list[JobDefinition]:
    """The job catalogue of a process (see Catalogue.build)."""
    from app.core.catalogue import catalogue

    return catalogue.build(settings)


# -- the process singleton and the seed's module-level API ----------------------------------------------

_singleton_lock = threading.Lock()


def get_scheduler(settings: Settings | None = None) -> SyncScheduler:
    """The one scheduler of this process, created on first use (not started)."""
    with _singleton_lock:
        current = process_registry.current()
        if current is not None and not current._stopping.is_set():
            if settings is None or current.settings == settings:
                return current  # type: ignore[no-any-return]
        scheduler = SyncScheduler(settings=settings)
        process_registry.register(scheduler)
        return scheduler


def initialize_scheduler(settings: Settings | None = None) -> SyncScheduler | None:
    """Create and start the process scheduler; None (with the reason logged) when it cannot run."""
    try:
        scheduler = get_scheduler(settings)
        if not scheduler.settings.scheduler_enabled:
            logger.info("scheduler disabled by SCHEDULER_ENABLED=false")
            scheduler.prepare()
            return None
        if not scheduler.executes_runs:
            logger.info("SCHEDULER_ROLE=web: no timer here; workers (python -m app worker) run the jobs")
            scheduler.prepare()
            return None
        if not scheduler.timer_running:
            scheduler.start(resume_jobs=False)
        scheduler.start_metrics()
        return scheduler
    except AppError as exc:
        logger.error("scheduler not started: %s", exc)
        return None


def get_scheduler_status(job: str = DEFAULT_JOB) -> dict[str, Any]:
    """The seed's status dict: running, interval_minutes, last_run, last_result, next_run (+ more)."""
    return get_scheduler().get_status(job).as_dict()


def shutdown_scheduler(_: Any = None) -> None:
    """Stop the process scheduler's timer without waiting (Streamlit's cache on_release hook)."""
    for scheduler in process_registry.live():
        scheduler.shutdown(wait=False)
