"""`python -m app`: operations without a browser, a thin shell over the same core the UI uses."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta
from typing import Any

import click

from app.config import Settings, load_settings
from app.core.scheduler import DEFAULT_JOB, SyncScheduler
from app.core.status import silent_after
from app.errors import AppError

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m' -> timedelta; a clear error otherwise."""
    match = DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration; use a number and s, m, h, d or w (e.g. 30d)")
    return timedelta(**{UNITS[match.group(2)]: float(match.group(1))})


class Context:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.settings: Settings = load_settings()
        self._scheduler: SyncScheduler | None = None

    @property
    def scheduler(self) -> SyncScheduler:
        if self._scheduler is None:
            self._scheduler = SyncScheduler(settings=self.settings)
            self._scheduler.prepare()
        return self._scheduler

    def emit(self, data: Any, text: str) -> None:
        click.echo(json.dumps(data, default=str, indent=2) if self.as_json else text)


def _fail(exc: AppError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@click.group()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def main(ctx: click.Context, as_json: bool) -> None:
    """Freshdash operations: status, jobs, runs, history, retention, health."""
    ctx.obj = Context(as_json)
    for issue in ctx.obj.settings.issues:
        click.echo(f"warning: {issue}", err=True)


@main.command()
@click.option("--job", default=DEFAULT_JOB, show_default=True)
@click.pass_obj
def status(obj: Context, job: str) -> None:
    """How fresh the data is, the last and next run."""
    try:
        data = obj.scheduler.status_reader.job_status(job, obj.scheduler.clock.now(), "cli")
    except AppError as exc:
        _fail(exc)
    age = data["data_age_seconds"]
    lines = [
        f"job:          {data['job']} ({'paused' if data['paused'] else 'active'})",
        f"trigger:      {data.get('trigger') or str(data['interval_minutes']) + ' min'}",
        f"last run:     {data['last_run'] or '-'} {data['last_result'] or ''}",
        f"last success: {data['last_success_at'] or '-'} (data {'-' if age is None else f'{age:.0f} s'} old)",
        f"next run:     {data['next_run'] or '-'}",
        f"heartbeat:    {data['heartbeat_at'] or 'never'}",
    ]
    if data["current_run"]:
        lines.append(f"running now:  run {data['current_run']['id']}, {data['current_run']['rows']} rows")
    if data["last_error"]:
        lines.append(f"last error:   {data['last_error']}")
    obj.emit(data, "\n".join(lines))


@main.command()
@click.pass_obj
def jobs(obj: Context) -> None:
    """Every job (highest priority first) with its trigger, state, next run and dependencies."""
    try:
        rows = obj.scheduler.store.list_jobs()
    except AppError as exc:
        _fail(exc)
    lines = [
        f"{r['name']:<20} {r['trigger']:<40} prio {r['priority']:<4} {'PAUSED' if r['paused'] else 'active':<7} "
        f"next {_local(r['next_run_at'], obj)}" + (f"  after {r['depends_on']}" if r["depends_on"] else "")
        for r in rows
    ]
    obj.emit(rows, "\n".join(lines) or "no jobs")


def _local(instant: datetime | None, obj: Context) -> str:
    return "-" if instant is None else f"{instant.astimezone(obj.settings.tz):%Y-%m-%d %H:%M:%S}"


@main.command()
@click.argument("job")
@click.argument("text", nargs=-1, required=True)
@click.pass_obj
def trigger(obj: Context, job: str, text: tuple[str, ...]) -> None:
    """Change a job's trigger: every 15m | delay 10m | cron 0 8 * * 1-5 | daily 07:00 on weekdays | once ..."""
    try:
        changed = obj.scheduler.set_trigger(job, " ".join(text))
        row = obj.scheduler.store.get_job(job)
    except AppError as exc:
        _fail(exc)
    obj.emit(row, f"{job}: {changed.text}, next run {_local(row['next_run_at'], obj)}")


@main.command()
@click.pass_obj
def queue(obj: Context) -> None:
    """Today's queue: every planned slot of every job and what happened to it."""
    from app.core.agenda import queue_counts

    try:
        entries = obj.scheduler.todays_queue()
    except AppError as exc:
        _fail(exc)
    counts = queue_counts(entries)
    lines = [", ".join(f"{n} {k}" for k, n in counts.items())]
    lines += [f"{_local(e['planned_for'], obj)}  {e['job']:<20} prio {e['priority']:<4} {e['state']}" for e in entries]
    obj.emit(entries, "\n".join(lines))


@main.command()
@click.argument("job", default=DEFAULT_JOB)
@click.pass_obj
def reset(obj: Context, job: str) -> None:
    """Reset a stuck run: abandon it now (its late writes are fenced out) and free the job."""
    try:
        done = obj.scheduler.reset_stuck(job)
    except AppError as exc:
        _fail(exc)
    obj.emit({"job": job, "reset": done}, f"{job}: stuck run abandoned" if done else f"{job} has no run in progress")


@main.command()
@click.argument("job", default=DEFAULT_JOB)
@click.option("--wait/--no-wait", default=False, help="Run it here and wait for the outcome.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait with --wait.")
@click.pass_obj
def run(obj: Context, job: str, wait: bool, timeout: float) -> None:
    """Ask for a run now (joins one in progress); --wait executes it here if nobody else does, and replaces a
    run whose process died once its lease expires."""
    try:
        handle = obj.scheduler.run_now(job, requested_by="cli")
        record = None
        if wait:
            obj.scheduler.tick()
            record = handle.wait(timeout)
    except AppError as exc:
        _fail(exc)
    if record is None:
        verb = "joined the run in progress" if handle.joined else "requested a run"
        obj.emit({"job": job, "joined": handle.joined, "run_id": handle.run_id}, f"{verb} of {job}")
        return
    obj.emit(
        record,
        f"run {record['id']} of {job}: {record['status']}, {record['rows']} rows"
        + (f"\nerror: {record['error']}" if record["error"] else ""),
    )
    if record["status"] != "success":
        sys.exit(1)


@main.command()
@click.option("--job", default=None)
@click.option("--limit", default=20, show_default=True)
@click.option("--status", "status_filter", default=None, help="Only runs with this status.")
@click.pass_obj
def history(obj: Context, job: str | None, limit: int, status_filter: str | None) -> None:
    """Recent runs, newest first."""
    try:
        rows = obj.scheduler.status_reader.history(job, limit, status_filter)
    except AppError as exc:
        _fail(exc)
    text = "\n".join(
        f"{r['id']:>7} {r['job_name']:<20} {r['status']:<9} {r['trigger']:<8} "
        f"{r['started_at']:%Y-%m-%d %H:%M:%S} {r['duration_seconds'] or 0:7.2f}s {r['rows']:>8} rows"
        + (f"  {r['error'][:80]}" if r["error"] else "")
        for r in rows
    )
    obj.emit(rows, text or "no runs")


@main.command()
@click.argument("job")
@click.pass_obj
def pause(obj: Context, job: str) -> None:
    """Pause a job (persisted; every replica obeys)."""
    _set_paused(obj, job, True)


@main.command()
@click.argument("job")
@click.pass_obj
def resume(obj: Context, job: str) -> None:
    """Resume a paused job."""
    _set_paused(obj, job, False)


main.add_command(pause, name="disable")
main.add_command(resume, name="enable")


def _set_paused(obj: Context, job: str, paused: bool) -> None:
    try:
        if paused:
            obj.scheduler.pause_job(job)
        else:
            obj.scheduler.resume_job(job)
    except AppError as exc:
        _fail(exc)
    obj.emit({"job": job, "paused": paused}, f"{job} {'paused' if paused else 'resumed'}")


@main.command()
@click.option("--older-than", "older_than", default=None, help="e.g. 30d (default HISTORY_RETENTION_DAYS).")
@click.pass_obj
def purge(obj: Context, older_than: str | None) -> None:
    """Delete finished runs and their log lines older than a duration."""
    age = parse_duration(older_than) if older_than else timedelta(days=obj.settings.history_retention_days)
    try:
        cutoff: datetime = obj.scheduler.clock.now() - age
        deleted = obj.scheduler.status_reader.purge(cutoff)
    except AppError as exc:
        _fail(exc)
    obj.emit(
        {"deleted": deleted, "cutoff": cutoff},
        f"deleted {deleted} run(s) started before {cutoff:%Y-%m-%d %H:%M} UTC",
    )


@main.command()
@click.option("--job", default=DEFAULT_JOB, show_default=True)
@click.pass_obj
def health(obj: Context, job: str) -> None:
    """Exit 0 when the database answers, a scheduler beat recently and the data is not stale; 1 otherwise."""
    problems: list[str] = []
    try:
        scheduler = obj.scheduler
        now = scheduler.clock.now()
        data = scheduler.status_reader.job_status(job, now, "cli")
        beats = scheduler.instances.recent(1)
        if not beats or now - beats[0]["heartbeat_at"] > silent_after(obj.settings):
            problems.append("no scheduler heartbeat recently" if beats else "no scheduler has ever run")
        if data["stale"] and not data["paused"]:
            problems.append(f"data is stale (last success {data['last_success_at'] or 'never'})")
    except AppError as exc:
        problems.append(str(exc))
    verdict = {"healthy": not problems, "problems": problems}
    obj.emit(verdict, "healthy" if not problems else "unhealthy: " + "; ".join(problems))
    sys.exit(0 if not problems else 1)


@main.command()
@click.option("--job", default=DEFAULT_JOB, show_default=True)
@click.pass_obj
def resync(obj: Context, job: str) -> None:
    """Full resync: forget the sync cursor; the next run re-reads every source row (rows are upserted)."""
    from app.sync.engine import reset_cursor

    try:
        moved = reset_cursor(obj.scheduler.engine, job, obj.scheduler.clock.now())
    except AppError as exc:
        _fail(exc)
    text = f"cursor of {job} reset: the next run reads everything again" if moved else f"{job} has no cursor yet"
    obj.emit({"job": job, "reset": moved}, text)
