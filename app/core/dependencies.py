"""Dependencies between jobs (a simple workflow): a job runs after the latest run of each dependency succeeded
within its window.

The window of a slot is the job's usual period before it (a daily job's window is the day before its slot).
A pure decision over a snapshot of each dependency; the scheduler waits, runs or records the run as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from app.core.records import JobState, RunRecord


class Verdict(str, Enum):
    READY = "ready"
    WAIT = "wait"
    SKIP = "skip"


@dataclass(frozen=True)
class DependencyState:
    """What the scheduler knows of one dependency at `now`."""

    name: str
    last_success_at: datetime | None  # for display; the latest run's outcome decides
    running: bool
    pending: bool  # a slot, retry or manual request of it is due now
    last_status: str | None
    last_finished_at: datetime | None
    last_error: str | None


def window_start(scheduled_for: datetime, period: timedelta) -> datetime:
    return scheduled_for - period


def decide(states: list[DependencyState], since: datetime) -> tuple[Verdict, str]:
    """READY when the latest run of every dependency succeeded since `since` and none is running or due now;
    WAIT while one is running, due or has a retry pending; otherwise SKIP, with the reason."""
    waiting: list[str] = []
    for dep in states:
        if dep.last_status == "missing":
            return Verdict.SKIP, f"dependency {dep.name!r} is not a registered job"
        if dep.running or dep.pending:
            waiting.append(dep.name)  # its current run decides (not an older success in the window)
            continue
        recent = dep.last_finished_at is not None and dep.last_finished_at >= since
        if recent and dep.last_status == "success":
            continue
        if recent:
            reason = f"dependency {dep.name!r} ended {dep.last_status}"
            return Verdict.SKIP, reason + (f" ({dep.last_error[:200]})" if dep.last_error else "")
        return Verdict.SKIP, f"dependency {dep.name!r} did not succeed since {since:%Y-%m-%d %H:%M} UTC"
    if waiting:
        return Verdict.WAIT, "waiting for " + ", ".join(waiting)
    return Verdict.READY, ""


def state_from_rows(job: JobState, last_run: RunRecord | None, now: datetime) -> DependencyState:
    """Build a dependency's snapshot from its job row and its latest finished run (None if it never ran)."""
    running = job.lease_held(now)
    due = [t for t in (job.requested_at, job.follow_up_at) if t is not None]
    if not job.paused and job.next_run_at is not None and job.next_run_at <= now:
        due.append(job.next_run_at)
    return DependencyState(
        name=job.name,
        last_success_at=job.last_success_at,
        running=running,
        pending=bool(due),
        last_status=None if last_run is None else last_run.status,
        last_finished_at=None if last_run is None else last_run.finished_at,
        last_error=None if last_run is None else last_run.error,
    )
