"""The job catalogue: jobs registered in code with ``@job(...)``, the built-in ones, and user modules.

A user's module (named in JOB_MODULES by its dotted path) registers its jobs on import::

    from app.core.catalogue import job

    @job("nightly_export", trigger="daily 02:00 on weekdays", priority=5, retries=1, tags=("export",))
    def nightly_export(ctx):        # ctx: app.core.runner.RunContext
        ctx.progress(0, "starting")
        return {"rows": 0}

The database keeps each job's live state (trigger, paused, next slot); the code owns the rest.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.config import APPLICATION_JOBS, Settings
from app.core.runner import JobFunc, RunContext
from app.core.store import JobSpec
from app.core.triggers import parse_trigger
from app.errors import ConfigError, SchedulerError

logger = logging.getLogger(__name__)
# Built-in jobs of the application, computed from the settings (e.g. one sync job per dataset): the
# application registers its provider on import, so the core never imports it.
Provider = Callable[[Settings], tuple[list["JobDefinition"], list[str]]]


@dataclass(frozen=True)
class JobDefinition:
    spec: JobSpec
    func: JobFunc


class Catalogue:
    """Job definitions by name; registering a name twice replaces the older one (a module reloaded)."""

    def __init__(self) -> None:
        self._definitions: dict[str, JobDefinition] = {}
        self._providers: list[Provider] = []
        self._lock = threading.Lock()
        # What the last catalogue load had to leave out (a module that failed, a bad dependency), for the UI.
        self.problems: list[str] = []

    def register(self, definition: JobDefinition) -> None:
        parse_trigger(definition.spec.trigger or "every 1m")  # fail at registration, not at the first slot
        with self._lock:
            self._definitions[definition.spec.name] = definition

    def job(
        self,
        name: str | None = None,
        *,
        trigger: str = "every 15m",
        description: str = "",
        priority: int = 0,
        timeout_minutes: float = 10.0,
        retries: int = 0,
        retry_backoff_seconds: float = 30.0,
        tags: Iterable[str] = (),
        depends_on: Iterable[str] = (),
        paused: bool = False,
    ) -> Callable[[Callable[[RunContext], Any]], Callable[[RunContext], Any]]:
        """Decorator: register `func(ctx)` as a job (name defaults to the function's name)."""

        def decorate(func: Callable[[RunContext], Any]) -> Callable[[RunContext], Any]:
            spec = JobSpec(
                name=name or func.__name__,
                interval_seconds=60.0,
                timeout_seconds=timeout_minutes * 60.0,
                description=description or (func.__doc__ or "").strip().split("\n")[0],
                max_retries=retries,
                retry_backoff_seconds=retry_backoff_seconds,
                priority=priority,
                trigger=trigger,
                depends_on=tuple(depends_on),
                tags=tuple(tags),
                paused=paused,
            )
            self.register(JobDefinition(spec, func))
            return func

        return decorate

    def definitions(self) -> list[JobDefinition]:
        with self._lock:
            return list(self._definitions.values())

    def provide(self, provider: Provider) -> None:
        """Add a provider of built-in jobs (once per function, whatever the number of imports)."""
        with self._lock:
            # A module reloaded (hot reload) registers a new function object under the same name: replace it.
            named = (provider.__module__, provider.__qualname__)
            self._providers = [p for p in self._providers if (p.__module__, p.__qualname__) != named] + [provider]

    def build(self, settings: Settings) -> list[JobDefinition]:
        """The job catalogue of a process: the providers' jobs (the application named by APPLICATION_JOBS
        and the user's JOB_MODULES are imported first), then the ones registered with ``@job``; a later
        definition of the same name replaces an earlier one. What had to be left out is in `problems`."""
        problems = load_job_modules((APPLICATION_JOBS, *settings.job_modules))
        merged: dict[str, JobDefinition] = {}
        with self._lock:
            providers = list(self._providers)
        for provider in providers:
            found, left_out = provider(settings)
            for message in left_out:
                logger.error("%s", message)
            problems.extend(left_out)
            merged.update((d.spec.name, d) for d in found)
        merged.update((d.spec.name, d) for d in self.definitions())
        kept, left_out = prune_dependencies(merged.values())
        for message in left_out:
            logger.error("%s", message)
        self.problems = problems + left_out
        return kept


catalogue = Catalogue()
job = catalogue.job


def default_jobs(settings: Settings) -> list[JobDefinition]:
    """The job catalogue of a process (see Catalogue.build)."""
    return catalogue.build(settings)


def load_job_modules(paths: Iterable[str]) -> list[str]:
    """Import each user module (its ``@job`` calls register jobs); returns one message per module that failed.

    A broken module never stops the app: its jobs are missing and the message says why.
    """
    problems: list[str] = []
    for path in paths:
        try:
            importlib.import_module(path)
        except Exception as exc:  # noqa: BLE001 - any error in a user's module is reported, not raised
            message = f"JOB_MODULES: cannot import {path!r} ({type(exc).__name__}: {exc})"
            logger.error("%s", message)
            problems.append(message)
    return problems


def check_dependencies(definitions: Iterable[JobDefinition]) -> None:
    """Every dependency names a known job and there is no cycle; raises ConfigError / SchedulerError naming them."""
    by_name = {d.spec.name: d.spec.depends_on for d in definitions}
    for name, deps in by_name.items():
        for dep in deps:
            if dep not in by_name:
                raise ConfigError(f"job {name!r} depends on {dep!r}, which is not a registered job")
    cycle = find_cycle(by_name)
    if cycle:
        raise SchedulerError(f"job dependencies form a cycle: {' -> '.join(cycle)}")


def find_cycle(by_name: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """A dependency cycle as a path (a -> b -> a), or None."""
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> tuple[str, ...] | None:
        if name in path:
            return (*path[path.index(name) :], name)
        if name in done or name not in by_name:
            return None
        for dep in by_name[name]:
            found = visit(dep, (*path, name))
            if found:
                return found
        done.add(name)
        return None

    for name in by_name:
        found = visit(name, ())
        if found:
            return found
    return None


def prune_dependencies(definitions: Iterable[JobDefinition]) -> tuple[list[JobDefinition], list[str]]:
    """Leave out jobs whose dependencies are unknown or circular (one message each); the rest still run."""
    kept = {d.spec.name: d for d in definitions}
    problems: list[str] = []
    while True:
        bad = next(((n, dep) for n, d in kept.items() for dep in d.spec.depends_on if dep not in kept), None)
        if bad is not None:
            problems.append(f"job {bad[0]!r} left out: it depends on {bad[1]!r}, which is not a registered job")
            del kept[bad[0]]
            continue
        cycle = find_cycle({n: d.spec.depends_on for n, d in kept.items()})
        if cycle is None:
            return list(kept.values()), problems
        problems.append(
            f"jobs {', '.join(sorted(set(cycle)))} left out: their dependencies form a cycle ({' -> '.join(cycle)})"
        )
        for name in set(cycle):
            del kept[name]
