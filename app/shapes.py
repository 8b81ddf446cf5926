"""The documented, stable JSON shapes of `python -m app --json ...` and the text tables beside them.

Public fields only (no lease, fence or retry bookkeeping), one type per field in every command (a list of job
names is always a list, a time always ISO 8601 with its offset in SCHEDULER_TIMEZONE). See README "CLI".
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from app.core.records import JobState, JobStatus, RunRecord

RUN_PUBLIC = (
    "id",
    "job",
    "status",
    "trigger",
    "attempt",
    "scheduled_for",
    "started_at",
    "finished_at",
    "duration_seconds",
    "rows",
    "error",
    "requested_by",
    "owner",
    "result",
)


def names(value: Any) -> list[str]:
    """Job names and tags are stored comma-separated; every shape shows them as a list."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [part for part in str(value or "").split(",") if part]


def job_shape(job: JobState, scheduler_paused: bool) -> dict[str, Any]:
    return {
        "job": job.name,
        "description": job.description or "",
        "trigger": job.trigger,
        "interval_minutes": float(job.period_seconds) / 60.0,
        "priority": int(job.priority),
        "paused": job.paused,  # no scheduled runs: either of the two below
        "job_paused": job.job_paused,
        "scheduler_paused": scheduler_paused,
        "depends_on": list(job.depends_on),
        "tags": list(job.tags),
        "next_run_at": job.next_run_at,
        "last_success_at": job.last_success_at,
        "running": job.current_run_id is not None,
        "current_run_id": job.current_run_id,
        "requested": job.requested_at is not None,
    }


def run_shape(run: RunRecord) -> dict[str, Any]:
    source = {**run.as_dict(), "job": run.job_name, "trigger": run.reason}  # stable key: "trigger"
    return {key: source.get(key) for key in RUN_PUBLIC}


def status_shape(status: JobStatus) -> dict[str, Any]:
    shaped = status.as_dict()
    if status.current_run is not None:
        shaped["current_run"] = run_shape(status.current_run)
    return shaped


def public(data: Any, scheduler_paused: bool = False) -> Any:
    """Any record a command emits, as its public shape: job states, runs and statuses have their own."""
    if isinstance(data, list):
        return [public(item, scheduler_paused) for item in data]
    if isinstance(data, JobState):
        return job_shape(data, scheduler_paused)
    if isinstance(data, RunRecord):
        return run_shape(data)
    if isinstance(data, JobStatus):
        return status_shape(data)
    if dataclasses.is_dataclass(data) and not isinstance(data, type):  # e.g. an entry of today's agenda
        return dataclasses.asdict(data)
    if isinstance(data, Mapping):
        return dict(data)
    return data


def iso(value: datetime | None, tz: ZoneInfo) -> str:
    """An instant as ISO 8601 with its offset, in the configured time zone; '-' for none (text only)."""
    return "-" if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def to_json(data: Any, tz: ZoneInfo) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return iso(value, tz)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return str(value)

    return json.dumps(data, default=default, indent=2)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table with a header line; every cell as text, columns as wide as their widest cell."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)
