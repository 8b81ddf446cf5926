"""The read-only commands of `python -m app`: config, datasets, status, jobs, queue, history and health. They
show what the settings, the scheduler's records and its heartbeats say; they change no job, run or cursor."""

from __future__ import annotations

import sys
from typing import Any

import click

from app import shapes
from app.cli.context import EXIT_CONFIG, EXIT_FAILED, Context, fail
from app.config import effective_rows
from app.core.models import RunStatus
from app.core.records import JobStatus, Scheduling
from app.core.scheduler import DEFAULT_JOB
from app.errors import AppError, SchedulerError


@click.command()
@click.pass_obj
def config(obj: Context) -> None:
    """Every effective setting, where it came from (environment, secrets, default), secrets masked."""
    settings = obj.settings
    rows = effective_rows(settings)
    data = {
        "settings": rows,
        "issues": [{"key": i.key, "value": i.value, "message": i.message} for i in settings.issues],
        "fatal": [{"key": i.key, "value": i.value, "message": i.message} for i in settings.fatal],
        "locked_reason": settings.locked_reason,
        "datasets": [{"name": d.name, "job": d.job, **d.shown()} for d in settings.datasets],
        "reports": [{"name": r.name, "job": r.job, "dataset": r.dataset, "query": r.query} for r in settings.reports],
    }
    text = shapes.table(("KEY", "VALUE", "ORIGIN", "DEFAULT"), [list(r.values()) for r in rows])
    headers = ("DATASET", "JOB", "SOURCE", "WHERE", "TABLE", "KEY", "CURSOR", "TRIGGER", "DESTINATION")
    keys = ("source", "where", "table", "key", "cursor", "trigger", "destination")
    shown = [[d.name, d.job, *(d.shown()[k] or "-" for k in keys)] for d in settings.datasets]
    text += "\n\n" + shapes.table(headers, shown)
    for issue in settings.fatal:
        text += f"\nerror: {issue}"
    if settings.locked_reason:
        text += f"\ncontrols locked: {settings.locked_reason}"
    obj.emit(data, text)
    if settings.fatal:
        sys.exit(EXIT_CONFIG)


@click.command()
@click.pass_obj
def datasets(obj: Context) -> None:
    """Every dataset: its job, where it comes from and lands, how fresh it is, its last result."""
    scheduler = obj.scheduler
    found: list[dict[str, Any]] = []
    try:
        for ds in obj.settings.datasets:
            try:
                data: JobStatus | None = scheduler.get_status(ds.job, seen_by="cli")
            except SchedulerError:  # left out of the catalogue (its trigger): the config command says why
                data = None
            found.append(
                {
                    "name": ds.name,
                    "job": ds.job,
                    "source": ds.where(),
                    "destination": ds.target,
                    "last_success_at": data and data.last_success_at,
                    "data_age_seconds": data and data.data_age_seconds,
                    "stale": data and data.stale,
                    "last_result": data and data.last_result,
                    "next_run": data and data.next_run,
                    "data_version": data and data.data_version,
                    "scheduled": data is not None,
                }
            )
    except AppError as exc:
        fail(exc)
    headers = ("DATASET", "JOB", "SOURCE", "DESTINATION", "LAST SUCCESS", "AGE", "LAST RESULT", "NEXT RUN")
    rows = [
        [
            d["name"],
            d["job"] if d["scheduled"] else f"{d['job']} (not scheduled)",
            d["source"],
            d["destination"],
            d["last_success_at"],
            None
            if d["data_age_seconds"] is None
            else f"{d['data_age_seconds']:.0f} s" + (" stale" if d["stale"] else ""),
            d["last_result"],
            d["next_run"],
        ]
        for d in found
    ]
    obj.emit(found, shapes.table(headers, rows))


@click.command()
@click.option("--job", default=None, help="A job or a dataset's name (default: the first dataset's sync job).")
@click.pass_obj
def status(obj: Context, job: str | None) -> None:
    """How fresh the data is, the last and next run; the state is what the scheduler processes' heartbeats say."""
    job = obj.job(job)
    try:
        data = obj.scheduler.get_status(job, seen_by="cli")
    except AppError as exc:
        fail(exc)
    age = data.data_age_seconds
    paused = [
        p for p, on in (("scheduler paused by Stop", data.scheduler_paused), ("job paused", data.job_paused)) if on
    ]
    state = data.state
    if data.silent_since:
        state += f" since {data.silent_since}"
    elif state == "silent":
        state += " (no scheduler has ever run)"
    last_run = " ".join(part for part in (data.last_run, data.last_result) if part) if data.last_run else "never"
    lines = [
        f"job:          {data.job} ({', '.join(paused) if paused else 'active'})",
        f"state:        {state}",
        f"trigger:      {data.trigger or str(data.interval_minutes) + ' min'}",
        f"last run:     {last_run}",
        f"last success: {'never (no data yet)' if age is None else f'{data.last_success_at} (data {age:.0f} s old)'}",
        f"next run:     {data.next_run or '-'}{_nobody_runs_it(data.state, data.next_run)}",
        f"heartbeat:    {data.heartbeat_at or 'never'}",
    ]
    if data.current_run:
        lines.append(f"running now:  run {data.current_run.id}, {data.current_run.rows} rows")
    if data.last_error:
        lines.append(f"last error:   {data.last_error}")
    obj.emit(data, "\n".join(lines))


def _nobody_runs_it(state: str, next_run: str | None) -> str:
    """A due time with no scheduler process to act on it would read as a promise."""
    if next_run and state in {"stopped", "silent"}:
        return " (no scheduler is running to start it)"
    return ""


@click.command()
@click.pass_obj
def jobs(obj: Context) -> None:
    """Every job (highest priority first) with its trigger, state, next run and dependencies."""
    try:
        rows = obj.scheduler.list_jobs()
        stopped = obj.scheduler.scheduler_paused()
    except AppError as exc:
        fail(exc)
    shaped = [shapes.job_shape(r, stopped) for r in rows]
    text = shapes.table(
        ("JOB", "TRIGGER", "PRIO", "STATE", "NEXT RUN", "AFTER"),
        [
            (
                j["job"],
                j["trigger"],
                j["priority"],
                _job_state(j),
                obj.local(j["next_run_at"]),
                ", ".join(j["depends_on"]),
            )
            for j in shaped
        ],
    )
    if stopped:
        text += "\nscheduler paused by Stop: no job runs on its schedule until Start"
    obj.emit(shaped, text if shaped else "no jobs")


def _job_state(shaped: dict[str, Any]) -> str:
    """A job's state word from its public shape (`jobs --json` prints the same fields)."""
    if shaped["running"]:
        return "running"
    if shaped["job_paused"]:
        return "paused"
    return "held" if shaped["scheduler_paused"] else "active"


@click.command()
@click.pass_obj
def queue(obj: Context) -> None:
    """Today's agenda: every planned slot of every job and what happened to it."""
    from app.core.agenda import agenda_counts

    try:
        entries = obj.scheduler.todays_agenda()
    except AppError as exc:
        fail(exc)
    counts = agenda_counts(entries)
    lines = [", ".join(f"{n} {k}" for k, n in counts.items())]
    rows = [(obj.local(e.planned_for), e.job, e.priority, e.state, e.run_id) for e in entries]
    lines.append(shapes.table(("PLANNED FOR", "JOB", "PRIO", "STATE", "RUN"), rows))
    obj.emit(entries, "\n".join(lines))


@click.command()
@click.option("--job", default=None, help="Only runs of this job.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--status",
    "status_filter",
    default=None,
    type=click.Choice([s.value for s in RunStatus]),
    help="Only runs with this status.",
)
@click.pass_obj
def history(obj: Context, job: str | None, limit: int, status_filter: str | None) -> None:
    """Recent runs, newest first (errors cut to one line; --verbose shows them whole)."""
    try:
        if job is not None:
            obj.job_exists(job)
        rows = obj.scheduler.history(job, limit, status_filter)
    except AppError as exc:
        fail(exc)
    table = shapes.table(
        ("RUN", "JOB", "STATUS", "REASON", "STARTED", "SECONDS", "ROWS", "ERROR"),  # TRIGGER is `jobs`' "every 15m"
        [
            (
                r.id, r.job_name, r.status, r.reason, obj.local(r.started_at),
                f"{r.duration_seconds or 0:.2f}", r.rows, _error_cell(r.error, obj.verbose),
            )
            for r in rows
        ],
    )  # fmt: skip
    obj.emit(rows, table if rows else "no runs")


def _error_cell(error: str | None, verbose: bool) -> str:
    if not error:
        return ""
    if verbose:
        return error.replace("\n", "\n    ")
    first = error.splitlines()[0]
    return first if len(first) <= 100 else first[:99] + "…"


@click.command()
@click.option("--job", default=None, help="A job or a dataset's name (default: the first dataset's sync job).")
@click.pass_obj
def health(obj: Context, job: str | None) -> None:
    """Exit 0 when the database answers, a scheduler process runs (it beat "running" recently) and no dataset's
    data is stale (or that of --job); 1 otherwise, naming each cause."""
    problems: list[str] = []
    jobs = [obj.job(job)] if job is not None else [d.job for d in obj.settings.datasets] or [DEFAULT_JOB]
    try:
        scheduler = obj.scheduler
        problem = _scheduling_problem(scheduler.scheduling(), obj)
        if problem:
            problems.append(problem)
        for name in jobs:
            data = scheduler.get_status(name, seen_by="cli")
            if data.stale and not data.paused and data.last_success_at is None:
                problems.append(f"{name} has no data yet (it never synced)")
            elif data.stale and not data.paused:
                problems.append(f"data of {name} is stale (last success {data.last_success_at})")
    except SchedulerError as exc:
        fail(exc)  # an unknown job is a usage error, not an unhealthy system
    except AppError as exc:
        problems.append(str(exc))
    verdict = {"healthy": not problems, "problems": problems}
    obj.emit(verdict, "healthy" if not problems else "unhealthy: " + "; ".join(problems))
    sys.exit(0 if not problems else EXIT_FAILED)


def _scheduling_problem(found: Scheduling, obj: Context) -> str | None:
    """Why no scheduler schedules now (health's first cause), or None when one runs."""
    at, who = obj.local(found.last_beat_at), found.last_instance
    if found.state == "running":
        return None
    if found.state == "stopped":
        return f"no scheduler is running: the last one ({who}) stopped at {at}"
    if found.state == "hibernating":
        return f"no scheduler is running: the last one ({who}) hibernates since {at} until a page view wakes it"
    if found.last_beat_at is None:
        return "no scheduler has ever run"
    return f"scheduler silent: no heartbeat since {at} (the last one was {who})"
