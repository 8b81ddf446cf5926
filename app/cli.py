"""`python -m app`: operations without a browser, a thin shell over the same core the UI uses.

Exit codes: 0 done; 1 the operation ran and failed (a failed run, unhealthy); 2 usage (unknown command, job
or status, bad value); 3 configuration that cannot be used (a placement key, see app.config); 4 the database
or a source cannot be used. `--json` and `--verbose` go before or after the command; JSON shapes: app/shapes.py.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

import app.jobs.builtin  # noqa: F401  # the composition root: built-in and dataset jobs join the catalogue
from app import shapes
from app.config import Settings, effective_rows, load_settings, secret_values
from app.core.models import RunStatus
from app.core.records import JobStatus, Scheduling
from app.core.scheduler import DEFAULT_JOB, SyncScheduler
from app.errors import AppError, ConfigError, SchedulerError
from app.redaction import scrub

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_UNAVAILABLE = 1, 2, 3, 4
GLOBAL_FLAGS = ("--json", "--verbose", "-v")


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m' -> timedelta; a clear error otherwise."""
    match = DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration; use a number and s, m, h, d or w (e.g. 30d)")
    try:
        return timedelta(**{UNITS[match.group(2)]: float(match.group(1))})
    except OverflowError:
        raise click.BadParameter(f"{text!r} is longer than any calendar allows (at most 999999999 days)") from None


class Context:
    def __init__(self, as_json: bool, verbose: bool = False) -> None:
        self.as_json = as_json
        self.verbose = verbose
        self.settings: Settings = load_settings()
        self._scheduler: SyncScheduler | None = None

    @property
    def scheduler(self) -> SyncScheduler:
        if self._scheduler is None:
            self._scheduler = SyncScheduler(settings=self.settings)
            self._scheduler.prepare()
        return self._scheduler

    def emit(self, data: Any, text: str) -> None:
        """Text for people, or the record's public JSON shape (app/shapes.py) for machines."""
        if not self.as_json:
            click.echo(text)
            return
        paused = self.scheduler.scheduler_paused() if self._scheduler is not None else False
        click.echo(shapes.to_json(shapes.public(data, paused), self.settings.tz))

    def job(self, name: str | None) -> str:
        """A job by name, or a dataset's name for its sync job; none: the first dataset's sync job."""
        datasets = self.settings.datasets
        if name is None:
            return datasets[0].job if datasets else DEFAULT_JOB
        found = next((d for d in datasets if d.name == name and d.job != name), None)
        return found.job if found is not None else name

    def job_exists(self, job: str) -> None:
        """Unknown job -> exit 2 (UnknownJobError) before a query that would only answer "nothing"."""
        self.scheduler.get_job(job)


def _fail(exc: AppError) -> NoReturn:
    code = (
        EXIT_USAGE
        if isinstance(exc, SchedulerError)
        else EXIT_CONFIG
        if isinstance(exc, ConfigError)
        else EXIT_UNAVAILABLE
    )
    _exit_with(str(exc), code, exc)


def _exit_with(message: str, code: int, exc: BaseException | None = None) -> NoReturn:
    obj = click.get_current_context().find_object(Context)
    click.echo(f"error: {message}", err=True)
    if obj is not None and obj.verbose and exc is not None:
        for line in _causes(exc, secret_values(obj.settings)):
            click.echo(f"  caused by {line}", err=True)
    if obj is not None and obj.as_json:
        kind = {EXIT_USAGE: "usage", EXIT_CONFIG: "config", EXIT_UNAVAILABLE: "unavailable"}.get(code, "failed")
        click.echo(shapes.to_json({"error": {"kind": kind, "message": message, "exit_code": code}}, obj.settings.tz))
    sys.exit(code)


def _causes(exc: BaseException, secrets: Sequence[str]) -> list[str]:
    """The whole chain of causes, every line of each message, secrets masked (for --verbose)."""
    lines, seen, current = [], {id(exc)}, exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(scrub(f"{type(current).__name__}: {current}", secrets))
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return lines


class _Group(click.Group):
    """Global flags are accepted after the command too: `status --json` is `--json status`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:end] if a in GLOBAL_FLAGS]
        rest = [a for a in args[:end] if a not in GLOBAL_FLAGS] + args[end:]
        return super().parse_args(ctx, flags + rest)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if ctx.params.get("as_json"):  # machines get the documented error object too
                error = {"error": {"kind": "usage", "message": exc.format_message(), "exit_code": EXIT_USAGE}}
                click.echo(shapes.to_json(error, ZoneInfo("UTC")))
            raise


@click.group(cls=_Group)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (documented shapes).")
@click.option("--verbose", "-v", is_flag=True, help="Full error text: whole messages and their causes.")
@click.pass_context
def main(ctx: click.Context, as_json: bool, verbose: bool) -> None:
    """Freshdash operations: status, jobs, runs, history, retention, health, config."""
    ctx.obj = Context(as_json, verbose)
    settings = ctx.obj.settings
    for issue in settings.issues:
        click.echo(f"warning: {issue}", err=True)
    if settings.fatal and ctx.invoked_subcommand != "config":
        # A key that decides where data lives is invalid: never fall back to another database.
        _exit_with("; ".join(str(issue) for issue in settings.fatal), EXIT_CONFIG)


@main.command()
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


@main.command()
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
        _fail(exc)
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


@main.command()
@click.option("--job", default=None, help="A job or a dataset's name (default: the first dataset's sync job).")
@click.pass_obj
def status(obj: Context, job: str | None) -> None:
    """How fresh the data is, the last and next run; the state is what the scheduler processes' heartbeats say."""
    job = obj.job(job)
    try:
        data = obj.scheduler.get_status(job, seen_by="cli")
    except AppError as exc:
        _fail(exc)
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


@main.command()
@click.pass_obj
def jobs(obj: Context) -> None:
    """Every job (highest priority first) with its trigger, state, next run and dependencies."""
    try:
        rows = obj.scheduler.list_jobs()
        stopped = obj.scheduler.scheduler_paused()
    except AppError as exc:
        _fail(exc)
    shaped = [shapes.job_shape(r, stopped) for r in rows]
    text = shapes.table(
        ("JOB", "TRIGGER", "PRIO", "STATE", "NEXT RUN", "AFTER"),
        [
            (
                j["job"],
                j["trigger"],
                j["priority"],
                _job_state(j),
                _local(j["next_run_at"], obj),
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


def _local(instant: datetime | None, obj: Context) -> str:
    return shapes.iso(instant, obj.settings.tz)


@main.command()
@click.argument("job")
@click.argument("text", nargs=-1, required=True)
@click.pass_obj
def trigger(obj: Context, job: str, text: tuple[str, ...]) -> None:
    """Change a job's trigger: every 15m | delay 10m | cron 0 8 * * 1-5 | daily 07:00 on weekdays | once ..."""
    try:
        changed = obj.scheduler.set_trigger(job, " ".join(text))
        row = obj.scheduler.get_job(job)
    except AppError as exc:
        _fail(exc)
    obj.emit(row, f"{job}: {changed.text}, next run {_local(row.next_run_at, obj)}")


@main.command()
@click.pass_obj
def queue(obj: Context) -> None:
    """Today's agenda: every planned slot of every job and what happened to it."""
    from app.core.agenda import agenda_counts

    try:
        entries = obj.scheduler.todays_agenda()
    except AppError as exc:
        _fail(exc)
    counts = agenda_counts(entries)
    lines = [", ".join(f"{n} {k}" for k, n in counts.items())]
    rows = [(_local(e.planned_for, obj), e.job, e.priority, e.state, e.run_id) for e in entries]
    lines.append(shapes.table(("PLANNED FOR", "JOB", "PRIO", "STATE", "RUN"), rows))
    obj.emit(entries, "\n".join(lines))


@main.command()
@click.argument("job", required=False)
@click.pass_obj
def reset(obj: Context, job: str | None) -> None:
    """Reset a stuck run: abandon it now (its late writes are fenced out) and free the job."""
    job = obj.job(job)
    try:
        done = obj.scheduler.reset_stuck(job)
    except AppError as exc:
        _fail(exc)
    obj.emit({"job": job, "reset": done}, f"{job}: stuck run abandoned" if done else f"{job} has no run in progress")


@main.command()
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
        _fail(exc)
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


@main.command()
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
        _fail(exc)
    table = shapes.table(
        ("RUN", "JOB", "STATUS", "REASON", "STARTED", "SECONDS", "ROWS", "ERROR"),  # TRIGGER is `jobs`' "every 15m"
        [
            (
                r.id, r.job_name, r.status, r.reason, _local(r.started_at, obj),
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


@main.command()
@click.argument("job")
@click.pass_obj
def pause(obj: Context, job: str) -> None:
    """Pause a job (persisted; every replica obeys; Stop/Start of the scheduler leave it paused)."""
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
    except OverflowError:
        _exit_with(f"--older-than {older_than} reaches before the year 1; use a shorter duration", EXIT_USAGE)
    try:
        deleted = obj.scheduler.purge(cutoff)
    except AppError as exc:
        _fail(exc)
    obj.emit({"deleted": deleted, "cutoff": cutoff}, f"deleted {deleted} run(s) started before {_local(cutoff, obj)}")


@main.command()
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
        _fail(exc)  # an unknown job is a usage error, not an unhealthy system
    except AppError as exc:
        problems.append(str(exc))
    verdict = {"healthy": not problems, "problems": problems}
    obj.emit(verdict, "healthy" if not problems else "unhealthy: " + "; ".join(problems))
    sys.exit(0 if not problems else EXIT_FAILED)


def _scheduling_problem(found: Scheduling, obj: Context) -> str | None:
    """Why no scheduler schedules now (health's first cause), or None when one runs."""
    at, who = _local(found.last_beat_at, obj), found.last_instance
    if found.state == "running":
        return None
    if found.state == "stopped":
        return f"no scheduler is running: the last one ({who}) stopped at {at}"
    if found.state == "hibernating":
        return f"no scheduler is running: the last one ({who}) hibernates since {at} until a page view wakes it"
    if found.last_beat_at is None:
        return "no scheduler has ever run"
    return f"scheduler silent: no heartbeat since {at} (the last one was {who})"


@main.command()
@click.option("--job", default=None, help="A job or a dataset's name (default: the first dataset's sync job).")
@click.pass_obj
def resync(obj: Context, job: str | None) -> None:
    """Full resync: forget the sync cursor; the next run re-reads every source row (rows are upserted)."""
    job = obj.job(job)
    try:
        moved = obj.scheduler.reset_cursor(job)
    except AppError as exc:
        _fail(exc)
    text = f"cursor of {job} reset: the next run reads everything again" if moved else f"{job} has no cursor yet"
    obj.emit({"job": job, "reset": moved}, text)


@main.command()
@click.option(
    "--grace",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, 24 * 3600),
    help="Seconds a run in progress gets to end after SIGTERM or SIGINT.",
)
@click.pass_obj
def worker(obj: Context, grace: float) -> None:
    """Run the scheduler headless (no browser, no Streamlit): timer, runs, heartbeats, until SIGTERM or SIGINT.

    Web processes with SCHEDULER_ROLE=web record Sync now in the database; a worker hears of it at once
    (LISTEN/NOTIFY on PostgreSQL, a 1-second poll elsewhere). Several workers may share one database: the
    claim gives each slot to one of them. Logs go to stderr. Exit 0 after a clean stop."""
    logging.basicConfig(  # the offset: `status` shows SCHEDULER_TIMEZONE's times, this clock may differ
        stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z"
    )
    logging.getLogger("app").setLevel(logging.INFO)  # a worker says what it does (its runs, its stop)
    if not obj.settings.scheduler_enabled:
        _exit_with("SCHEDULER_ENABLED=false: a worker is a scheduler; unset it for worker processes", EXIT_CONFIG)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        scheduler = SyncScheduler(settings=obj.settings, worker=True)
        scheduler.start(resume_jobs=False)
    except AppError as exc:
        _fail(exc)
    log = logging.getLogger(__name__)
    scheduler.start_metrics()
    log.info("worker %s: %d job(s); SIGTERM or SIGINT stops it", scheduler.instance_id, len(scheduler.definitions))
    while not stop.wait(1.0):  # a bounded wait: signal handlers run between waits
        pass
    log.info("stopping: no new runs; a run in progress gets %g s to end", grace)
    scheduler.shutdown(wait=False)
    if scheduler.wait_for_runs(grace):
        log.info("worker %s stopped", scheduler.instance_id)
        return
    # Its lease expires and another worker takes the job over; a late write of this run is fenced out.
    log.warning("a run was still in progress after %g s; leaving it to its lease", grace)
    logging.shutdown()
    os._exit(0)  # the run's thread would otherwise hold the interpreter open
