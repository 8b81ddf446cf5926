"""Job state in the database: definitions, claims (compare-and-set), leases with fencing, run records.

Every method is one short transaction; nothing here waits on a job or knows about threads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, and_, delete, func, insert, or_, select, update
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from app.core.database import dialect_insert, lost_connection, write_transaction
from app.core.dependencies import DependencyState, state_from_rows
from app.core.models import Job, Run, RunLog, RunReason, RunStatus, SchedulerState
from app.core.records import JobState, RunRecord
from app.core.slots import needs_catch_up, retry_delay
from app.core.tally import archive
from app.core.triggers import Trigger, interval_trigger, parse_trigger
from app.errors import LeaseTakenOverError, UnknownJobError

logger = logging.getLogger(__name__)
jobs = cast(Table, Job.__table__)
runs = cast(Table, Run.__table__)
run_logs = cast(Table, RunLog.__table__)
switches = cast(Table, SchedulerState.__table__)
SCHEDULER = "scheduler"
# PostgreSQL channel of run requests: `request_run` notifies it (payload: the job's name) and workers listen.
REQUEST_CHANNEL = "freshdash_run_requested"
PURGE_BATCH = 5000


@dataclass(frozen=True)
class JobSpec:
    """How a job is defined in code; the database keeps its live state."""

    name: str
    interval_seconds: float
    timeout_seconds: float
    description: str = ""
    max_retries: int = 0
    retry_backoff_seconds: float = 30.0
    priority: int = 0  # when several jobs are due, the higher priority is claimed and started first
    trigger: str = ""  # text form (app.core.triggers); "" means every `interval_seconds`
    depends_on: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    paused: bool = False  # the state of a new job (`@job(paused=True)`: registered, waiting for an operator)


@dataclass(frozen=True)
class Claim:
    """A run this process won: the fence proves it still holds the lease."""

    run_id: int
    job_name: str
    scheduled_for: datetime
    reason: str
    attempt: int
    fence: int
    owner: str
    timeout_seconds: float
    max_retries: int
    retry_backoff_seconds: float


@dataclass(frozen=True)
class RunRequest:
    """What `request_run` answered: the run it joined, or the pending manual slot."""

    job_name: str
    run_id: int | None
    requested_at: datetime | None
    joined: bool


class JobStore:
    def __init__(self, engine: Engine, owner: str, lease_seconds: float = 60.0, tz: ZoneInfo | None = None) -> None:
        self.engine = engine
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.tz = tz or ZoneInfo("UTC")

    def trigger_of(self, job: JobState) -> Trigger:
        """The job row's trigger."""
        return self._trigger(job.trigger, job.period_seconds)

    def _trigger(self, text: str, interval_seconds: float) -> Trigger:
        """A trigger text, or the job's interval when the text is empty."""
        return parse_trigger(text, self.tz) if text else interval_trigger(interval_seconds)

    def write(self) -> AbstractContextManager[Connection]:
        return write_transaction(self.engine)

    # -- definitions ---------------------------------------------------------------------------------

    def ensure_job(self, spec: JobSpec, now: datetime) -> None:
        """Insert a new job due now (first run at once); an existing one keeps its live state. Replicas that start
        together on a fresh database each see no row: the first insert wins, the others change nothing."""
        with self.write() as conn:
            row = conn.execute(select(jobs.c.name).where(jobs.c.name == spec.name)).first()
            fields = {
                "description": spec.description,
                "timeout_seconds": spec.timeout_seconds,
                "max_retries": spec.max_retries,
                "retry_backoff_seconds": spec.retry_backoff_seconds,
                "priority": spec.priority,
                "depends_on": ",".join(spec.depends_on),
                "tags": ",".join(spec.tags),
            }
            if row is None:
                trigger = self._trigger(spec.trigger, spec.interval_seconds)
                conn.execute(
                    dialect_insert(conn, jobs)
                    .values(
                        name=spec.name,
                        period_seconds=trigger.period(now, self.tz).total_seconds(),
                        trigger=trigger.text,
                        next_run_at=trigger.first_fire(now, self.tz),
                        paused=spec.paused or self._scheduler_paused(conn),
                        job_paused=spec.paused,
                        fence=0,
                        updated_at=now,
                        **fields,
                    )
                    .on_conflict_do_nothing(index_elements=["name"])
                )
            else:
                conn.execute(update(jobs).where(jobs.c.name == spec.name).values(**fields))

    def get_job(self, name: str) -> JobState:
        with self.engine.connect() as conn:
            return _read_job(conn, name)

    def list_jobs(self) -> list[JobState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs).order_by(jobs.c.priority.desc(), jobs.c.name)).mappings()
            return [JobState.from_row(r) for r in rows]

    def due_job_names(self, now: datetime) -> list[str]:
        """Jobs with a due slot or a manual request and no live lease, highest priority first."""
        lease_free = or_(jobs.c.lease_owner.is_(None), jobs.c.lease_expires_at <= now)
        due = or_(
            jobs.c.requested_at.is_not(None),
            and_(~jobs.c.paused, or_(jobs.c.next_run_at <= now, jobs.c.follow_up_at <= now)),
        )
        query = (
            select(jobs.c.name).where(due, lease_free).order_by(jobs.c.priority.desc(), jobs.c.next_run_at, jobs.c.name)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # -- claims --------------------------------------------------------------------------------------

    def claim(self, name: str, now: datetime, lead: timedelta = timedelta(0)) -> Claim | None:
        """Win the job's due slot with a compare-and-set on (fence, slot); None when nothing is ours.

        `lead` lets the timer claim a slot a few milliseconds early, so the database round trip happens
        before the slot and the run can start on time (the runner waits for `scheduled_for`).
        """
        with self.write() as conn:
            job = _read_job(conn, name)
            if job.lease_held(now):
                return None
            if job.lease_owner is not None:
                self._abandon(conn, job, now)
                job = _read_job(conn, name)
            slot = self._due_slot(job, now + lead)
            if slot is None:
                return None
            scheduled_for, reason, attempt, slot_column = slot
            fence = job.fence + 1
            values: dict[str, Any] = {
                "lease_owner": self.owner,
                "lease_expires_at": now + self.lease,
                "fence": fence,
                "updated_at": now,
                slot_column.name: None,
            }
            if slot_column is jobs.c.requested_at:
                values["requested_by"] = None
            regular = job.next_run_at
            if regular is not None and regular <= now + lead:
                # This run covers the due slot of the series too (coalesced): move the series past it.
                values["next_run_at"] = self.trigger_of(job).next_fire(regular, max(now, regular), self.tz)
            won = conn.execute(
                update(jobs)
                .where(jobs.c.name == name, jobs.c.fence == job.fence, slot_column == scheduled_for)
                .values(**values)
            ).rowcount
            if won != 1:
                return None
            run_id = self._insert_run(conn, job, scheduled_for, reason, attempt, fence, now)
            if run_id is None:
                # Someone already ran this slot (the unique key held): skip it, keep the job moving.
                logger.warning("slot %s of job %s already has a run; skipping it", scheduled_for, name)
                conn.execute(
                    update(jobs)
                    .where(jobs.c.name == name, jobs.c.fence == fence)
                    .values(lease_owner=None, lease_expires_at=None)
                )
                return None
            conn.execute(update(jobs).where(jobs.c.name == name).values(current_run_id=run_id))
        return Claim(
            run_id=int(run_id),
            job_name=name,
            scheduled_for=scheduled_for,
            reason=reason.value,
            attempt=attempt,
            fence=fence,
            owner=self.owner,
            timeout_seconds=job.timeout_seconds,
            max_retries=job.max_retries,
            retry_backoff_seconds=job.retry_backoff_seconds,
        )

    def _insert_run(
        self,
        conn: Connection,
        job: JobState,
        scheduled_for: datetime,
        reason: RunReason,
        attempt: int,
        fence: int,
        now: datetime,
    ) -> int | None:
        """Insert the run record; None when the slot already has one (ON CONFLICT DO NOTHING, no savepoint)."""
        values = {
            "job_name": job.name,
            "scheduled_for": scheduled_for,
            "reason": reason.value,
            "attempt": attempt,
            "status": RunStatus.RUNNING.value,
            "owner": self.owner,
            "fence": fence,
            "requested_by": job.requested_by if reason == RunReason.MANUAL else None,
            "started_at": max(now, scheduled_for),
            "heartbeat_at": now,
            "lease_expires_at": now + self.lease,
            "rows": 0,
        }
        statement = (
            dialect_insert(conn, runs)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["job_name", "scheduled_for"])
            .returning(runs.c.id)
        )
        run_id = conn.execute(statement).scalar()
        return None if run_id is None else int(run_id)

    def due_slot_of(self, job: JobState, now: datetime) -> datetime | None:
        """The instant of the slot a claim at `now` would take (None when nothing is due)."""
        slot = self._due_slot(job, now)
        return None if slot is None else slot[0]

    def dependency_states(self, names: Iterable[str], now: datetime) -> list[DependencyState]:
        """A snapshot of each dependency: its job row and its latest run."""
        names = list(names)
        with self.engine.connect() as conn:
            found = conn.execute(select(jobs).where(jobs.c.name.in_(names))).mappings()
            rows = {job.name: job for job in map(JobState.from_row, found)}
            last_ids = [r.last_run_id for r in rows.values() if r.last_run_id is not None]
            ran = conn.execute(select(runs).where(runs.c.id.in_(last_ids))).mappings()
            last = {run.id: run for run in map(RunRecord.from_row, ran)}
        states = []
        for name in names:
            if name not in rows:
                states.append(DependencyState(name, None, False, False, "missing", now, None))
                continue
            job = rows[name]
            states.append(state_from_rows(job, None if job.last_run_id is None else last.get(job.last_run_id), now))
        return states

    @staticmethod
    def _due_slot(job: JobState, now: datetime) -> tuple[datetime, RunReason, int, Any] | None:
        """The slot a claim would take: a manual request, else a due retry/catch-up, else the series."""
        if job.requested_at is not None:
            return job.requested_at, RunReason.MANUAL, 1, jobs.c.requested_at
        if job.paused:
            return None
        follow_up = job.follow_up_at
        if follow_up is not None and follow_up <= now:
            return follow_up, RunReason(job.follow_up_reason), job.follow_up_attempt, jobs.c.follow_up_at
        due = job.next_run_at
        if due is None or due > now:
            return None
        late = now - due >= timedelta(seconds=max(job.period_seconds, 1.0))
        return due, RunReason.CATCH_UP if late else RunReason.SCHEDULE, 1, jobs.c.next_run_at

    # -- leases --------------------------------------------------------------------------------------

    def renew(self, claim: Claim, now: datetime, rows: int | None = None, progress: str | None = None) -> bool:
        """Extend the lease; False when it was taken over (the run must stop and not commit). A connection
        lost mid-renewal is retried once on a fresh one (the runner retries again at its next beat)."""
        return _once_more_if_connection_lost(self._renew, claim, now, rows, progress)

    def _renew(self, claim: Claim, now: datetime, rows: int | None, progress: str | None) -> bool:
        with self.write() as conn:
            held = conn.execute(
                update(jobs)
                .where(jobs.c.name == claim.job_name, jobs.c.fence == claim.fence)
                .values(lease_expires_at=now + self.lease)
            ).rowcount
            if not held:
                return False
            values: dict[str, Any] = {"heartbeat_at": now, "lease_expires_at": now + self.lease}
            if rows is not None:
                values["rows"] = rows
            if progress is not None:
                values["progress"] = progress
            conn.execute(update(runs).where(runs.c.id == claim.run_id).values(**values))
        return True

    def guard(self, conn: Connection, claim: Claim) -> None:
        """Inside a job's own transaction: raise LeaseTakenOverError unless the claim still holds the lease.

        The UPDATE also locks the job row until that transaction ends, so no takeover can slip in between
        this check and the commit (on SQLite the write lock does the same).
        """
        held = conn.execute(
            update(jobs)
            .where(jobs.c.name == claim.job_name, jobs.c.fence == claim.fence)
            .values(lease_owner=jobs.c.lease_owner)
        ).rowcount
        if not held:
            raise LeaseTakenOverError(f"run {claim.run_id} of job {claim.job_name} lost its lease")

    def finish(
        self,
        claim: Claim,
        now: datetime,
        status: RunStatus,
        rows: int = 0,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Record the outcome and free the lease, unless the lease was taken over (then nothing changes).

        A failure with attempts left schedules a retry slot; a timeout also moves the fence on, so the
        still-running thread of that run can no longer commit. A connection lost mid-write is retried once
        on a fresh one: writing the same outcome twice leaves the same rows (a timeout's second try finds
        the fence moved and reports the outcome as not recorded).
        """
        return _once_more_if_connection_lost(self._finish, claim, now, status, rows, result, error)

    def _finish(
        self,
        claim: Claim,
        now: datetime,
        status: RunStatus,
        rows: int,
        result: dict[str, Any] | None,
        error: str | None,
    ) -> bool:
        failed = status not in (RunStatus.SUCCESS, RunStatus.SKIPPED)
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_expires_at": None,
            "current_run_id": None,
            "last_run_id": claim.run_id,
            "updated_at": now,
        }
        if status == RunStatus.TIMEOUT:
            values["fence"] = jobs.c.fence + 1
        if status == RunStatus.SUCCESS:
            values["last_success_at"] = now
        with self.write() as conn:
            row = conn.execute(select(jobs).where(jobs.c.name == claim.job_name)).mappings().first()
            job = None if row is None else JobState.from_row(row)
            if job is None or job.fence != claim.fence:
                logger.warning("run %s of job %s lost its lease; outcome discarded", claim.run_id, claim.job_name)
                return False
            if failed and claim.attempt <= claim.max_retries:
                retry_at = now + retry_delay(claim.retry_backoff_seconds, claim.attempt)
                if job.follow_up_at is None or retry_at < job.follow_up_at:
                    values.update(follow_up_at=retry_at, follow_up_reason=RunReason.RETRY.value)
                    values["follow_up_attempt"] = claim.attempt + 1
            if job.next_run_at is None:  # a fixed-delay series continues from the end of this run
                values["next_run_at"] = self.trigger_of(job).after_run(now, self.tz)
            conn.execute(update(jobs).where(jobs.c.name == claim.job_name).values(**values))
            started = conn.execute(select(runs.c.started_at).where(runs.c.id == claim.run_id)).scalar_one()
            conn.execute(
                update(runs)
                .where(runs.c.id == claim.run_id)
                .values(
                    status=status.value,
                    finished_at=now,
                    heartbeat_at=now,
                    duration_seconds=(now - started).total_seconds(),
                    rows=rows,
                    result=result,
                    error=error,
                )
            )
        return True

    def reap_expired(self, now: datetime) -> int:
        """Mark runs whose lease expired as abandoned and make their jobs runnable again."""
        reaped = 0
        with self.write() as conn:
            expired = conn.execute(
                select(jobs).where(jobs.c.lease_owner.is_not(None), jobs.c.lease_expires_at <= now)
            ).mappings()
            for job in [JobState.from_row(r) for r in expired]:
                reaped += self._abandon(conn, job, now)
            orphans = conn.execute(
                update(runs)
                .where(runs.c.status == RunStatus.RUNNING.value, runs.c.lease_expires_at <= now)
                .values(status=RunStatus.ABANDONED.value, finished_at=now, error="lease expired")
            ).rowcount
        return reaped + orphans

    def _abandon(self, conn: Connection, job: JobState, now: datetime) -> int:
        """Take over an expired lease: fence on, run abandoned, a retry (or catch-up) due now."""
        run = None
        if job.current_run_id is not None:
            row = conn.execute(select(runs).where(runs.c.id == job.current_run_id)).mappings().first()
            run = None if row is None else RunRecord.from_row(row)
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_expires_at": None,
            "current_run_id": None,
            "fence": job.fence + 1,
            "updated_at": now,
        }
        if job.next_run_at is None:  # a fixed-delay series goes on from the takeover
            values["next_run_at"] = self.trigger_of(job).after_run(now, self.tz)
        attempt = run.attempt if run is not None else 1
        if attempt <= job.max_retries or run is not None and run.reason == RunReason.MANUAL:
            values.update(follow_up_at=now, follow_up_reason=RunReason.RETRY.value, follow_up_attempt=attempt + 1)
        changed = conn.execute(
            update(jobs).where(jobs.c.name == job.name, jobs.c.fence == job.fence).values(**values)
        ).rowcount
        if not changed or run is None or run.status != RunStatus.RUNNING.value:
            return 0
        message = (
            f"abandoned: lease held by {job.lease_owner} expired at "
            f"{job.lease_expires_at:%Y-%m-%d %H:%M:%S} UTC (process died or hung)"
        )
        conn.execute(
            update(runs)
            .where(runs.c.id == run.id, runs.c.status == RunStatus.RUNNING.value)
            .values(
                status=RunStatus.ABANDONED.value,
                finished_at=now,
                duration_seconds=(now - run.started_at).total_seconds(),
                error=message,
            )
        )
        logger.warning("run %s of job %s %s", run.id, job.name, message)
        return 1

    # -- operator actions ----------------------------------------------------------------------------

    def request_run(self, name: str, now: datetime, requested_by: str | None = None) -> RunRequest:
        """Ask for a run now, joining the run in progress or a request already pending."""
        with self.write() as conn:
            job = _read_job(conn, name)
            if job.lease_held(now):
                return RunRequest(name, job.current_run_id, None, joined=True)
            if job.requested_at is not None:
                return RunRequest(name, None, job.requested_at, joined=True)
            conn.execute(update(jobs).where(jobs.c.name == name).values(requested_at=now, requested_by=requested_by))
            if conn.dialect.name == "postgresql":
                # In the request's own transaction: PostgreSQL delivers it at commit, never for a rolled-back one.
                conn.execute(select(func.pg_notify(REQUEST_CHANNEL, name)))
        return RunRequest(name, None, now, joined=False)

    def requested(self) -> list[tuple[str, datetime]]:
        """(job, requested_at) of every pending manual request: what a worker without LISTEN polls for.

        The jobs table holds one row per job (tens), so this is one small read.
        """
        query = select(jobs.c.name, jobs.c.requested_at).where(jobs.c.requested_at.is_not(None))
        with self.engine.connect() as conn:
            return [(str(name), at) for name, at in conn.execute(query)]

    def resolve_request(self, request: RunRequest) -> int | None:
        """The run id that serves a request (None while it waits to be claimed)."""
        if request.run_id is not None:
            return request.run_id
        with self.engine.connect() as conn:
            found = conn.execute(
                select(runs.c.id).where(
                    runs.c.job_name == request.job_name, runs.c.scheduled_for == request.requested_at
                )
            ).scalar()
        return None if found is None else int(found)

    def set_paused(self, name: str | None, paused: bool, now: datetime) -> int:
        """Pause or resume one job (the operator's pause), or the scheduler when `name` is None."""
        if name is None:
            return self.set_scheduler_paused(paused, now)
        return self.set_job_paused(name, paused, now)

    def set_job_paused(self, name: str, paused: bool, now: datetime) -> int:
        """The operator's pause of one job; persisted, so every replica obeys. Survives Stop/Start."""
        self.get_job(name)
        with self.write() as conn:
            effective = paused or self._scheduler_paused(conn)
            query = update(jobs).where(jobs.c.name == name).values(job_paused=paused, paused=effective, updated_at=now)
            return conn.execute(query).rowcount

    def set_scheduler_paused(self, paused: bool, now: datetime) -> int:
        """Stop (True) or Start (False) scheduling for every job and replica; jobs paused one by one stay paused."""
        with self.write() as conn:
            changed = conn.execute(
                update(switches).where(switches.c.name == SCHEDULER).values(paused=paused, updated_at=now)
            ).rowcount
            if not changed:
                conn.execute(insert(switches).values(name=SCHEDULER, paused=paused, updated_at=now))
            effective = True if paused else jobs.c.job_paused
            return conn.execute(update(jobs).values(paused=effective, updated_at=now)).rowcount

    def scheduler_paused(self) -> bool:
        with self.engine.connect() as conn:
            return self._scheduler_paused(conn)

    @staticmethod
    def _scheduler_paused(conn: Connection) -> bool:
        return bool(conn.execute(select(switches.c.paused).where(switches.c.name == SCHEDULER)).scalar())

    def set_interval(self, name: str, interval_seconds: float, now: datetime) -> None:
        """A new interval, keeping the days and hours window of an interval trigger."""
        if interval_seconds <= 0:
            raise ValueError(f"interval must be positive, got {interval_seconds}")
        current = self.trigger_of(self.get_job(name))
        self.set_trigger(name, current.with_interval(interval_seconds, self.tz).text, now)

    def set_trigger(self, name: str, text: str, now: datetime) -> Trigger:
        """Change a job's trigger (persisted; every replica follows). Raises TriggerError on bad text."""
        trigger = parse_trigger(text, self.tz)
        job = self.get_job(name)
        next_run_at: datetime | None
        if trigger.is_rate:
            base = job.last_success_at or now
            next_run_at = trigger.first_fire(max(now, base + timedelta(seconds=trigger.seconds)), self.tz)
        else:
            next_run_at = trigger.first_fire(now, self.tz)
        with self.write() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.name == name)
                .values(
                    trigger=trigger.text,
                    period_seconds=trigger.period(now, self.tz).total_seconds(),
                    next_run_at=next_run_at,
                    updated_at=now,
                )
            )
        return trigger

    def make_due_if_stale(self, name: str, now: datetime) -> bool:
        """Catch up by data age: an unpaused job whose data will be too old at its next slot is due now.

        True when this call made it due (the caller then wakes the timer).
        """
        job = self.get_job(name)
        interval = timedelta(seconds=job.period_seconds)
        if not self.trigger_of(job).is_rate:
            return False  # a calendar job's missed slot is already due; it does not run by data age
        if job.paused or job.lease_held(now):
            return False  # a run in progress is about to freshen the data
        if any(t is not None and t <= now for t in (job.next_run_at, job.follow_up_at)):
            return False  # already due: the timer is aimed at it
        if not needs_catch_up(job.last_success_at, job.next_run_at, now, interval):
            return False
        with self.write() as conn:
            changed = conn.execute(
                update(jobs)
                .where(jobs.c.name == name, jobs.c.fence == job.fence)
                .values(follow_up_at=now, follow_up_reason=RunReason.CATCH_UP.value, follow_up_attempt=1)
            ).rowcount
        return bool(changed)

    def reset_stuck(self, name: str, now: datetime) -> bool:
        """Operator override: abandon the current run now even if its lease has not expired."""
        with self.write() as conn:
            job = _read_job(conn, name)
            if job.lease_owner is None:
                return False
            self._abandon(conn, job, now)
            return True

    def purge(self, older_than: datetime) -> int:
        """Delete finished runs (and their log lines) that started before `older_than`."""
        keep = select(jobs.c.last_run_id).where(jobs.c.last_run_id.is_not(None))
        old = (
            select(runs.c.id)
            .where(runs.c.started_at < older_than, runs.c.status != RunStatus.RUNNING.value, runs.c.id.not_in(keep))
            .limit(PURGE_BATCH)
        )
        deleted = 0
        while True:  # small batches: claims and heartbeats never wait long for the write lock
            with self.write() as conn:
                ids = list(conn.execute(old).scalars())
                if not ids:
                    return deleted
                archive(conn, ids)  # the metrics' counters keep counting what is deleted
                conn.execute(delete(run_logs).where(run_logs.c.run_id.in_(ids)))
                deleted += int(conn.execute(delete(runs).where(runs.c.id.in_(ids))).rowcount)

    def log(self, run_id: int, level: str, message: str, now: datetime) -> None:
        with self.write() as conn:
            conn.execute(insert(run_logs).values(run_id=run_id, at=now, level=level, message=message[:4000]))


def _read_job(conn: Connection, name: str) -> JobState:
    row = conn.execute(select(jobs).where(jobs.c.name == name)).mappings().first()
    if row is None:
        raise UnknownJobError(name)
    return JobState.from_row(row)


def _once_more_if_connection_lost(write: Any, *args: Any) -> bool:
    """Run a lease write; when its connection was lost (see `lost_connection`), once more on a fresh one."""

    def warn(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        logger.warning("%s: database connection lost (%s); trying once more", write.__name__.lstrip("_"), error)

    retrying = Retrying(
        stop=stop_after_attempt(2), retry=retry_if_exception(lost_connection), before_sleep=warn, reraise=True
    )
    return bool(retrying(write, *args))
