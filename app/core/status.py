"""Read-only snapshots for the UI and CLI: job status, run records, history, success rates, purge.

Queries here run on every page view; each one is served by an index (see models.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, case, delete, func, select

from app.config import Settings
from app.core.database import write_transaction
from app.core.models import Instance, Job, Run, RunLog, RunStatus, SchedulerState, SyncCursor
from app.core.slots import is_stale
from app.core.tally import archive
from app.errors import UnknownJobError

jobs, runs = cast(Table, Job.__table__), cast(Table, Run.__table__)
run_logs, instances = cast(Table, RunLog.__table__), cast(Table, Instance.__table__)
cursors = cast(Table, SyncCursor.__table__)
switches = cast(Table, SchedulerState.__table__)
PURGE_BATCH = 5000
RUN_FIELDS = (
    runs.c.id,
    runs.c.job_name,
    runs.c.scheduled_for,
    runs.c.trigger,
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


class StatusReader:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    def iso(self, value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(self.settings.tz).isoformat(timespec="seconds")

    def run(self, run_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*RUN_FIELDS).where(runs.c.id == run_id)).mappings().first()
        return None if row is None else dict(row)

    def job_status(self, name: str, now: datetime, local_state: str) -> dict[str, Any]:
        """Everything a status panel needs, in four primary-key or index lookups."""
        with self.engine.connect() as conn:
            job = conn.execute(select(jobs).where(jobs.c.name == name)).mappings().first()
            if job is None:
                raise UnknownJobError(f"no job named {name!r}")
            last = current = None
            if job["last_run_id"] is not None:
                last = conn.execute(select(*RUN_FIELDS).where(runs.c.id == job["last_run_id"])).mappings().first()
            if job["current_run_id"] is not None:
                current = conn.execute(select(*RUN_FIELDS).where(runs.c.id == job["current_run_id"])).mappings().first()
            beat = conn.execute(
                select(instances.c.heartbeat_at, instances.c.state).order_by(instances.c.heartbeat_at.desc()).limit(1)
            ).first()
            version = conn.execute(select(cursors.c.version).where(cursors.c.name == name)).scalar()
            stopped = conn.execute(select(switches.c.paused).where(switches.c.name == "scheduler")).scalar()
        row = {**job, "scheduler_paused": bool(stopped)}
        return self._compose(row, last, current, beat, version, now, local_state)

    def _compose(
        self, job: Any, last: Any, current: Any, beat: Any, version: Any, now: datetime, local_state: str
    ) -> dict[str, Any]:
        interval = timedelta(seconds=job["interval_seconds"])
        heartbeat_at = beat[0] if beat else None
        silent = heartbeat_at is None or now - heartbeat_at > silent_after(self.settings)
        state = local_state
        if local_state == "web":
            # No timer here: the workers' heartbeats tell whether jobs run (a worker that stopped cleanly
            # beats "stopped" last). Silent since its last beat when none is running.
            state = "running" if not silent and beat[1] == "running" else "silent"
        if job["paused"]:
            state = "paused"
        elif local_state == "running" and silent:
            state = "silent"
        last_success = job["last_success_at"]
        age = None if last_success is None else (now - last_success).total_seconds()
        pending = [job["requested_at"]] + ([] if job["paused"] else [job["next_run_at"], job["extra_at"]])
        next_run = min((t for t in pending if t is not None), default=None)
        return {
            "job": job["name"],
            "running": state == "running",
            "state": state,
            "paused": bool(job["paused"]),  # either of the two below: no scheduled runs
            "scheduler_paused": job["scheduler_paused"],  # Stop (every job, every replica)
            "job_paused": bool(job["job_paused"]),  # this job, paused by an operator
            "interval_minutes": job["interval_seconds"] / 60.0,
            "trigger": job["trigger"],
            "priority": job["priority"],
            "depends_on": [d for d in job["depends_on"].split(",") if d],
            "timezone": self.settings.scheduler_timezone,
            "last_run": self.iso(last["started_at"]) if last else None,
            "last_result": last["status"] if last else None,
            "last_error": last["error"] if last else None,
            "last_duration_seconds": last["duration_seconds"] if last else None,
            "last_rows": last["rows"] if last else None,
            "last_finished_at": self.iso(last["finished_at"]) if last else None,
            "last_success_at": self.iso(last_success),
            "data_age_seconds": age,
            "stale": is_stale(last_success, now, interval),
            "data_version": int(version or 0),
            "next_run": self.iso(next_run),
            "requested": job["requested_at"] is not None,
            "current_run": dict(current) if current else None,
            "heartbeat_at": self.iso(heartbeat_at),
            "silent_since": self.iso(heartbeat_at) if state == "silent" else None,
        }

    def history(self, job: str | None = None, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        query = select(*RUN_FIELDS).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        if job:
            query = query.where(runs.c.job_name == job)
        if status:
            query = query.where(runs.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def success_rate(self, job: str, now: datetime, window: timedelta = timedelta(hours=24)) -> dict[str, Any]:
        ok = func.sum(case((runs.c.status == RunStatus.SUCCESS.value, 1), else_=0))
        query = select(func.count(), ok, func.avg(runs.c.duration_seconds)).where(
            runs.c.job_name == job,
            runs.c.started_at >= now - window,
            runs.c.status != RunStatus.RUNNING.value,
        )
        with self.engine.connect() as conn:
            total, succeeded, mean = conn.execute(query).one()
        total, succeeded = int(total or 0), int(succeeded or 0)
        return {
            "runs": total,
            "succeeded": succeeded,
            "rate": None if total == 0 else succeeded / total,
            "mean_duration_seconds": mean,
        }

    def logs(self, run_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(run_logs).order_by(run_logs.c.at.desc(), run_logs.c.id.desc()).limit(limit)
        if run_id is not None:
            query = query.where(run_logs.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

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
            with write_transaction(self.engine) as conn:
                ids = list(conn.execute(old).scalars())
                if not ids:
                    return deleted
                archive(conn, ids)  # the metrics' counters keep counting what is deleted
                conn.execute(delete(run_logs).where(run_logs.c.run_id.in_(ids)))
                deleted += int(conn.execute(delete(runs).where(runs.c.id.in_(ids))).rowcount)
