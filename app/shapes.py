"""The documented, stable JSON shapes of `python -m app --json ...` and the text tables beside them.

Public fields only (no lease, fence or retry bookkeeping), one type per field in every command (a list of job
names is always a list, a time always ISO 8601 with its offset in SCHEDULER_TIMEZONE). See README "CLI".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

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


def job_shape(row: Mapping[str, Any], scheduler_paused: bool) -> dict[str, Any]:
    return {
        "job": row["name"],
        "description": row.get("description") or "",
        "trigger": row["trigger"],
        "interval_minutes": float(row["interval_seconds"]) / 60.0,
        "priority": int(row["priority"]),
        "paused": bool(row["paused"]),  # no scheduled runs: either of the two below
        "job_paused": bool(row.get("job_paused", False)),
        "scheduler_paused": scheduler_paused,
        "depends_on": names(row.get("depends_on")),
        "tags": names(row.get("tags")),
        "next_run_at": row.get("next_run_at"),
        "last_success_at": row.get("last_success_at"),
        "running": row.get("current_run_id") is not None,
        "current_run_id": row.get("current_run_id"),
        "requested": row.get("requested_at") is not None,
    }


def run_shape(row: Mapping[str, Any]) -> dict[str, Any]:
    source = {**row, "job": row.get("job_name", row.get("job"))}
    return {key: source.get(key) for key in RUN_PUBLIC}


def status_shape(status: Mapping[str, Any]) -> dict[str, Any]:
    shaped = dict(status)
    if shaped.get("current_run"):
        shaped["current_run"] = run_shape(shaped["current_run"])
    shaped["depends_on"] = names(shaped.get("depends_on"))
    return shaped


def public(data: Any, scheduler_paused: bool = False) -> Any:
    """Any record a command emits, as its public shape: job rows, run rows and statuses are recognised."""
    if isinstance(data, list):
        return [public(item, scheduler_paused) for item in data]
    if not isinstance(data, Mapping):
        return data
    if "fence" in data and "name" in data:  # a row of the jobs table
        return job_shape(data, scheduler_paused)
    if "job_name" in data and "status" in data:  # a row of the runs table
        return run_shape(data)
    if "destination" in data and "source" in data:  # a dataset (`datasets`): name, job, source, freshness
        return dict(data)
    if "data_age_seconds" in data:  # a job status
        return status_shape(data)
    return dict(data)


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
