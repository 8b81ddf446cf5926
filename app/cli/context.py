"""What every command of `python -m app` shares: the Context (settings, the scheduler built on first use, text
or JSON output, job names) and the exits with their codes (see app/cli/__init__.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import click

from app import shapes
from app.config import Settings, load_settings, secret_values
from app.core.scheduler import DEFAULT_JOB, SyncScheduler
from app.errors import AppError, ConfigError, SchedulerError
from app.redaction import scrub

EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_UNAVAILABLE = 1, 2, 3, 4


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

    def local(self, instant: datetime | None) -> str:
        """An instant as the output shows it: ISO 8601 in SCHEDULER_TIMEZONE."""
        return shapes.iso(instant, self.settings.tz)


def fail(exc: AppError) -> NoReturn:
    code = (
        EXIT_USAGE
        if isinstance(exc, SchedulerError)
        else EXIT_CONFIG
        if isinstance(exc, ConfigError)
        else EXIT_UNAVAILABLE
    )
    exit_with(str(exc), code, exc)


def exit_with(message: str, code: int, exc: BaseException | None = None) -> NoReturn:
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
