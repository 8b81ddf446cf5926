"""The operator actions of `python -m app`: run, reset, trigger, pause and resume (alias disable and enable),
resync and purge; each one call of the scheduler's façade, the same the UI's controls make."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta

import click

from app.cli.context import EXIT_FAILED, EXIT_USAGE, Context, exit_with, fail
from app.errors import AppError

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m' -> timedelta; a clear error otherwise."""
    match = DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration; use a number and s, m, h, d or w (e.g. 30d)")
    try:
        return timedelta(**{UNITS[match.group(2)]: float(match.group(1))})
    except OverflowError:
        raise click.BadParameter(f"{text!r} is longer than any calendar allows (at most 999999999 days)") from None


@click.command()
@click.argument("job", required=False)
@click.option("--wait/--no-wait", default=False, help="Run it here and wait for the outcome.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait with --wait.")
@click.pass_obj
def run(obj: Context, job: str | None, wait: bool, timeout: float) -> None:
    """Ask for a run now (joins one in progress); --wait executes it here if nobody else does, and replaces a
    run whose process died once its lease expires. JOB may be a dataset's name (its sync job)."""
    job = obj.job(job)
    try:
        handle = obj.scheduler.run_now(job, requested_by="cli")
        record = None
        if wait:
            obj.scheduler.tick()
            record = handle.wait(timeout)
    except AppError as exc:
        fail(exc)
    if record is None and wait:  # nothing started within --timeout: say so, and do not report success
        who = (
            "no worker took it (SCHEDULER_ROLE=web: `python -m app worker` runs it)"
            if obj.settings.scheduler_role == "web"
            else "no scheduler took it"
        )
        obj.emit(
            {"job": job, "joined": handle.joined, "run_id": None, "started": False},
            f"no run of {job} started within {timeout:g} s: {who}; the request stays recorded",
        )
        sys.exit(EXIT_FAILED)
    if record is None:
        verb = "joined the run requested or in progress" if handle.joined else "requested a run"
        obj.emit({"job": job, "joined": handle.joined, "run_id": handle.run_id}, f"{verb} of {job}")
        return
    obj.emit(
        record,
        f"run {record.id} of {job}: {record.status}, {record.rows} rows"
        + (f"\nerror: {record.error}" if record.error else ""),
    )
    if record.status != "success":
        sys.exit(1)


@click.command()
@click.argument("job", required=False)
@click.pass_obj
def reset(obj: Context, job: str | None) -> None:
    """Reset a stuck run: abandon it now (its late writes are fenced out) and free the job."""
    job = obj.job(job)
    try:
        done = obj.scheduler.reset_stuck(job)
    except AppError as exc:
        fail(exc)
    obj.emit({"job": job, "reset": done}, f"{job}: stuck run abandoned" if done else f"{job} has no run in progress")


@click.command()
@click.argument("job")
@click.argument("text", nargs=-1, required=True)
@click.pass_obj
def trigger(obj: Context, job: str, text: tuple[str, ...]) -> None:
    """Change a job's trigger: every 15m | delay 10m | cron 0 8 * * 1-5 | daily 07:00 on weekdays | once ..."""
    try:
        changed = obj.scheduler.set_trigger(job, " ".join(text))
        row = obj.scheduler.get_job(job)
    except AppError as exc:
        fail(exc)
    obj.emit(row, f"{job}: {changed.text}, next run {obj.local(row.next_run_at)}")


@click.command()
@click.argument("job")
@click.pass_obj
def pause(obj: Context, job: str) -> None:
    """Pause a job (persisted; every replica obeys; Stop/Start of the scheduler leave it paused)."""
    _set_paused(obj, job, True)


@click.command()
@click.argument("job")
@click.pass_obj
def resume(obj: Context, job: str) -> None:
    """Resume a paused job."""
    _set_paused(obj, job, False)


def _set_paused(obj: Context, job: str, paused: bool) -> None:
    try:
        if paused:
            obj.scheduler.pause_job(job)
        else:
            obj.scheduler.resume_job(job)
    except AppError as exc:
        fail(exc)
    obj.emit({"job": job, "paused": paused}, f"{job} {'paused' if paused else 'resumed'}")


@click.command()
@click.option("--job", default=None, help="A job or a dataset's name (default: the first dataset's sync job).")
@click.pass_obj
def resync(obj: Context, job: str | None) -> None:
    """Full resync: forget the sync cursor; the next run re-reads every source row (rows are upserted)."""
    job = obj.job(job)
    try:
        moved = obj.scheduler.reset_cursor(job)
    except AppError as exc:
        fail(exc)
    text = f"cursor of {job} reset: the next run reads everything again" if moved else f"{job} has no cursor yet"
    obj.emit({"job": job, "reset": moved}, text)


@click.command()
@click.option("--older-than", "older_than", default=None, help="e.g. 30d (default HISTORY_RETENTION_DAYS).")
@click.pass_obj
def purge(obj: Context, older_than: str | None) -> None:
    """Delete finished runs and their log lines older than a duration."""
    age = parse_duration(older_than) if older_than else timedelta(days=obj.settings.history_retention_days)
    try:
        cutoff: datetime = obj.scheduler.clock.now() - age
    except OverflowError:
        exit_with(f"--older-than {older_than} reaches before the year 1; use a shorter duration", EXIT_USAGE)
    try:
        deleted = obj.scheduler.purge(cutoff)
    except AppError as exc:
        fail(exc)
    obj.emit({"deleted": deleted, "cutoff": cutoff}, f"deleted {deleted} run(s) started before {obj.local(cutoff)}")
