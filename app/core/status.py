"""Read-only snapshots for the UI and CLI: job status, run records, history, success rates, heartbeats.

Queries here run on every page view; each one is served by an index (see models.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Select, Table, bindparam, case, func, select

from app.config import Settings
from app.core.models import Instance, Job, Run, RunLog, RunStatus, SchedulerState, SyncCursor
from app.core.records import InstanceBeat, JobState, JobStatus, RunLogLine, RunRecord, Scheduling, SuccessRate
from app.core.slots import is_stale
from app.errors import UnknownJobError

jobs, runs = cast(Table, Job.__table__), cast(Table, Run.__table__)
run_logs, instances = cast(Table, RunLog.__table__), cast(Table, Instance.__table__)
cursors = cast(Table, SyncCursor.__table__)
switches = cast(Table, SchedulerState.__table__)
RUN_FIELDS = (
    runs.c.id,
    runs.c.job_name,
    runs.c.scheduled_for,
    runs.c.reason,
    runs.c.attempt,
    runs.c.status,
    runs.c.owner,
    runs.c.started_at,
    runs.c.finished_at,
    runs.c.duration_seconds,
    runs.c.rows,
    runs.c.progress,
    runs.c.error,
    runs.c.result,
    runs.c.heartbeat_at,
    runs.c.requested_by,
)


def silent_after(settings: Settings) -> timedelta:
    """How long without a heartbeat before a scheduler counts as silent (three missed ticks, >= 30 s)."""
    return timedelta(seconds=max(3 * settings.scheduler_poll_seconds, 30.0))


def scheduling(
    running_at: datetime | None,
    newest: tuple[str, datetime, str] | None,
    now: datetime,
    silent: timedelta,
) -> Scheduling:
    """Whether any process schedules now: one beat "running" within `silent` (`running_at`, the newest such
    beat), else what the newest beat of all (`newest`: id, time, state) says. A clean stop counts at once:
    a process that beat "stopped" schedules nothing, however recent that beat."""
    last_id, last_at = (None, None) if newest is None else newest[:2]
    if running_at is not None and now - running_at <= silent:
        return Scheduling("running", last_at, last_id)
    if newest is not None and newest[2] in ("stopped", "hibernating"):
        return Scheduling(newest[2], last_at, last_id)
    return Scheduling("silent", last_at, last_id)


# The heartbeats' two questions, asked on their own (`scheduling`) and inside a job's status (STATUS_QUERY).
RUNNING_AT = select(func.max(instances.c.heartbeat_at)).where(instances.c.state == "running")


def _newest_beat(*columns: Any) -> Select[Any]:
    """Columns of the newest beat; the id breaks a tie, so separate subqueries all read the same row."""
    return select(*columns).order_by(instances.c.heartbeat_at.desc(), instances.c.id.desc()).limit(1)


def _beat(beat_id: Any, at: datetime | None, state: Any) -> tuple[str, datetime, str] | None:
    return None if beat_id is None or at is None else (str(beat_id), at, str(state))


def _status_query() -> Select[Any]:
    """Everything `job_status` reads, as ONE statement (a page reads it on every run, and while a sync keeps
    the database busy each round trip costs more): the job's row, its last and current run (primary-key joins),
    the newest heartbeat and the newest "running" one, its data version and the scheduler switch (scalar
    subqueries, each served by a key or an index)."""
    last, current = runs.alias("last_run"), runs.alias("current_run")
    columns = [
        *jobs.c,
        *(last.c[c.name].label(f"last__{c.name}") for c in RUN_FIELDS),
        *(current.c[c.name].label(f"current__{c.name}") for c in RUN_FIELDS),
        _newest_beat(instances.c.id).scalar_subquery().label("beat__id"),
        _newest_beat(instances.c.heartbeat_at).scalar_subquery().label("beat__at"),
        _newest_beat(instances.c.state).scalar_subquery().label("beat__state"),
        RUNNING_AT.scalar_subquery().label("beat__running_at"),
        select(cursors.c.version).where(cursors.c.name == jobs.c.name).scalar_subquery().label("cursor__version"),
        select(switches.c.paused).where(switches.c.name == "scheduler").scalar_subquery().label("switch__paused"),
    ]
    joined = jobs.outerjoin(last, last.c.id == jobs.c.last_run_id).outerjoin(
        current, current.c.id == jobs.c.current_run_id
    )
    return select(*columns).select_from(joined).where(jobs.c.name == bindparam("name"))


STATUS_QUERY = _status_query()


def _run_of(row: Mapping[Any, Any], prefix: str) -> RunRecord | None:
    if row[f"{prefix}id"] is None:
        return None
    return RunRecord.from_row({c.name: row[f"{prefix}{c.name}"] for c in RUN_FIELDS})


class StatusReader:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    def iso(self, value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(self.settings.tz).isoformat(timespec="seconds")

    def run(self, run_id: int) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*RUN_FIELDS).where(runs.c.id == run_id)).mappings().first()
        return None if row is None else RunRecord.from_row(row)

    def job_status(self, name: str, now: datetime, local_state: str | None) -> JobStatus:
        """Everything a status panel needs, in one statement (STATUS_QUERY).

        `local_state`: this process's scheduler state; "web" or None (a caller without a timer, the CLI) read
        the scheduler processes' heartbeats instead."""
        with self.engine.connect() as conn:
            row = conn.execute(STATUS_QUERY, {"name": name}).mappings().first()
        if row is None:
            raise UnknownJobError(name)
        job = JobState.from_row(row)
        last, current = _run_of(row, "last__"), _run_of(row, "current__")
        newest = _beat(row["beat__id"], row["beat__at"], row["beat__state"])
        found = scheduling(row["beat__running_at"], newest, now, silent_after(self.settings))
        version, stopped = int(row["cursor__version"] or 0), bool(row["switch__paused"])
        return self._compose(job, stopped, last, current, found, version, now, local_state)

    def _compose(
        self,
        job: JobState,
        scheduler_paused: bool,
        last: RunRecord | None,
        current: RunRecord | None,
        found: Scheduling,
        version: int,
        now: datetime,
        local_state: str | None,
    ) -> JobStatus:
        interval = timedelta(seconds=job.period_seconds)
        heartbeat_at = found.last_beat_at
        silent = heartbeat_at is None or now - heartbeat_at > silent_after(self.settings)
        # No timer here (the web role, the CLI): the scheduler processes' heartbeats tell whether jobs run.
        # The web role says "silent since" its last beat for any other answer: the UI's "stopped" means
        # "off in this process". The CLI names it: running, stopped, hibernating or silent.
        state = found.state if local_state is None else local_state
        if local_state == "web":
            state = "running" if found.state == "running" else "silent"
        if job.paused:
            state = "paused"
        elif local_state == "running" and silent:
            state = "silent"
        # Since when nobody schedules: the newest beat (a clean stop's, for the CLI's "stopped").
        since = heartbeat_at if state == "silent" or (local_state is None and state == "stopped") else None
        last_success = job.last_success_at
        age = None if last_success is None else (now - last_success).total_seconds()
        return JobStatus(
            job=job.name,
            running=state == "running",
            state=state,
            paused=job.paused,
            scheduler_paused=scheduler_paused,
            job_paused=job.job_paused,
            interval_minutes=job.period_seconds / 60.0,
            trigger=job.trigger,
            priority=job.priority,
            depends_on=job.depends_on,
            timezone=self.settings.scheduler_timezone,
            last_run=self.iso(last.started_at) if last else None,
            last_result=last.status if last else None,
            last_error=last.error if last else None,
            last_duration_seconds=last.duration_seconds if last else None,
            last_rows=last.rows if last else None,
            last_finished_at=self.iso(last.finished_at) if last else None,
            last_success_at=self.iso(last_success),
            data_age_seconds=age,
            stale=is_stale(last_success, now, interval),
            data_version=version,
            next_run=self.iso(job.due_at()),
            requested=job.requested_at is not None,
            current_run=current,
            heartbeat_at=self.iso(heartbeat_at),
            silent_since=self.iso(since),
        )

    def history(self, job: str | None = None, limit: int = 50, status: str | None = None) -> list[RunRecord]:
        query = select(*RUN_FIELDS).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        if job:
            query = query.where(runs.c.job_name == job)
        if status:
            query = query.where(runs.c.status == status)
        with self.engine.connect() as conn:
            return [RunRecord.from_row(r) for r in conn.execute(query).mappings()]

    def success_rate(self, job: str, now: datetime, window: timedelta = timedelta(hours=24)) -> SuccessRate:
        ok = func.sum(case((runs.c.status == RunStatus.SUCCESS.value, 1), else_=0))
        query = select(func.count(), ok, func.avg(runs.c.duration_seconds)).where(
            runs.c.job_name == job,
            runs.c.started_at >= now - window,
            runs.c.status != RunStatus.RUNNING.value,
        )
        with self.engine.connect() as conn:
            total, succeeded, mean = conn.execute(query).one()
        total, succeeded = int(total or 0), int(succeeded or 0)
        return SuccessRate(
            runs=total,
            succeeded=succeeded,
            rate=None if total == 0 else succeeded / total,
            mean_duration_seconds=None if mean is None else float(mean),
        )

    def logs(self, run_id: int | None = None, limit: int = 100) -> list[RunLogLine]:
        query = select(run_logs).order_by(run_logs.c.at.desc(), run_logs.c.id.desc()).limit(limit)
        if run_id is not None:
            query = query.where(run_logs.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [RunLogLine.from_row(r) for r in conn.execute(query).mappings()]

    def scheduling(self, now: datetime) -> Scheduling:
        """What the scheduler processes' heartbeats say about scheduling now (two index lookups)."""
        with self.engine.connect() as conn:
            running_at = conn.execute(RUNNING_AT).scalar()
            newest = conn.execute(_newest_beat(instances.c.id, instances.c.heartbeat_at, instances.c.state)).first()
        beat = None if newest is None else _beat(*newest)
        return scheduling(running_at, beat, now, silent_after(self.settings))

    def instances(self, limit: int = 20) -> list[InstanceBeat]:
        """The scheduler processes that beat most recently, newest first."""
        query = select(instances).order_by(instances.c.heartbeat_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [InstanceBeat.from_row(r) for r in conn.execute(query).mappings()]
