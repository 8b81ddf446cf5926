"""Typed, frozen records the core hands out: a job's state, a run, a job's status, today's agenda.

Built from database rows here and nowhere else, so mypy checks every field a caller reads. No queries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from operator import itemgetter
from typing import Any


def _names(value: Any) -> tuple[str, ...]:
    """Job names and tags are stored comma-separated; records hold them as a tuple."""
    return tuple(part for part in str(value or "").split(",") if part)


@dataclass(frozen=True)
class JobState:
    """One row of ``jobs``: a job's definition and live state (slots, pause, lease and fence)."""

    name: str
    description: str
    period_seconds: float  # the interval of a rate trigger, the typical gap of a calendar one
    trigger: str  # text form (app.core.triggers); "" means every `period_seconds`
    depends_on: tuple[str, ...]
    tags: tuple[str, ...]
    timeout_seconds: float
    max_retries: int
    retry_backoff_seconds: float
    priority: int
    paused: bool  # effective: this job paused by an operator, or the scheduler stopped
    job_paused: bool  # the operator's own pause of this job
    next_run_at: datetime | None
    follow_up_at: datetime | None  # a follow-up slot (retry or catch-up) beside the series
    follow_up_reason: str
    follow_up_attempt: int
    requested_at: datetime | None
    requested_by: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    fence: int
    current_run_id: int | None
    last_run_id: int | None
    last_success_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> JobState:
        state = cls(*_JOB_COLUMNS(row))
        return dataclasses.replace(
            state,
            depends_on=_names(row["depends_on"]),
            tags=_names(row["tags"]),
            paused=bool(row["paused"]),
            job_paused=bool(row["job_paused"]),
        )

    def lease_held(self, now: datetime) -> bool:
        """Whether a run holds a live lease on this job at `now`."""
        return self.lease_owner is not None and self.lease_expires_at is not None and self.lease_expires_at > now

    def due_at(self) -> datetime | None:
        """The earliest pending slot: a manual request always, the series and a retry unless paused."""
        times = [self.requested_at] + ([] if self.paused else [self.next_run_at, self.follow_up_at])
        return min((t for t in times if t is not None), default=None)


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs``: one execution of a job (public fields; the lease and fence stay in the store)."""

    id: int
    job_name: str
    scheduled_for: datetime
    reason: str  # why the run started (a RunReason): schedule, manual, catch-up, retry
    attempt: int
    status: str  # a RunStatus value
    owner: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    rows: int
    progress: str | None
    error: str | None
    result: dict[str, Any] | None
    heartbeat_at: datetime | None
    requested_by: str | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> RunRecord:
        return cls(*_RUN_COLUMNS(row))  # status pages build 50 of these per view: positional is the fast path

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_JOB_COLUMNS = itemgetter(*(f.name for f in fields(JobState)))
_RUN_COLUMNS = itemgetter(*(f.name for f in fields(RunRecord)))


@dataclass(frozen=True)
class JobStatus:
    """A job's status for the UI and CLI: what a status panel shows. Times are ISO 8601 in the configured zone."""

    job: str
    running: bool
    state: str  # running, paused, silent, stopped, hibernating
    paused: bool  # either of the two below: no scheduled runs
    scheduler_paused: bool  # Stop (every job, every replica)
    job_paused: bool  # this job, paused by an operator
    interval_minutes: float
    trigger: str
    priority: int
    depends_on: tuple[str, ...]
    timezone: str
    last_run: str | None
    last_result: str | None
    last_error: str | None
    last_duration_seconds: float | None
    last_rows: int | None
    last_finished_at: str | None
    last_success_at: str | None
    data_age_seconds: float | None
    stale: bool
    data_version: int
    next_run: str | None
    requested: bool
    current_run: RunRecord | None
    heartbeat_at: str | None
    silent_since: str | None

    def as_dict(self) -> dict[str, Any]:
        """The seed's status dict (`get_scheduler_status()`): the same keys, lists and plain dicts."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["depends_on"] = list(self.depends_on)
        values["current_run"] = None if self.current_run is None else self.current_run.as_dict()
        return values


@dataclass(frozen=True)
class SuccessRate:
    """Finished runs of a job in a window: how many, how many succeeded, their mean duration."""

    runs: int
    succeeded: int
    rate: float | None  # None without runs
    mean_duration_seconds: float | None


@dataclass(frozen=True)
class RunLogLine:
    """One line a run logged (``run_logs``)."""

    id: int
    run_id: int
    at: datetime
    level: str
    message: str

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> RunLogLine:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class AgendaEntry:
    """One entry of today's agenda: a planned slot and what happened to it."""

    job: str
    planned_for: datetime
    priority: int
    state: str  # planned, missed, or the status of the run that took the slot
    run_id: int | None


@dataclass(frozen=True)
class Scheduling:
    """Whether any scheduler process schedules now, from every process's heartbeat (see status.scheduling).

    `state`: running (one beat "running" recently), stopped (the newest beat is a clean stop), hibernating
    (the newest beat says so), silent (the newest beat is "running" but old, or nobody ever beat). The
    newest beat's process and time (None when nobody ever beat) name who went quiet and since when.
    """

    state: str
    last_beat_at: datetime | None
    last_instance: str | None

    @property
    def since(self) -> datetime | None:
        """Since when nobody schedules (None while one does)."""
        return None if self.state == "running" else self.last_beat_at


@dataclass(frozen=True)
class InstanceBeat:
    """A scheduler process's latest heartbeat (``scheduler_instances``)."""

    id: str
    started_at: datetime
    heartbeat_at: datetime
    state: str
    sessions: int

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> InstanceBeat:
        return cls(**{f.name: row[f.name] for f in fields(cls)})
