"""Dataset jobs: one sync job per configured dataset (and a key reconciliation job when its deletes are
reconciled), built from ``Settings.datasets``; the seed's ``run_incremental_sync()``.

Knows datasets by their configuration only: which columns a table has is the sync engine's business, and the
demo's orders (daily summary) are the one dataset with an extra step in its batch transaction.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.clock import Clock
from app.config import Settings
from app.core.catalogue import JobDefinition
from app.core.database import get_engine
from app.core.records import RunRecord
from app.core.runner import JobFunc, RunContext
from app.core.store import JobSpec
from app.core.triggers import interval_trigger, parse_trigger
from app.dataset_config import DEFAULT_JOB, DatasetConfig
from app.demo.orders import DESTINATION_TABLE as DEMO_TABLE  # the demo dashboard reads it and its summary
from app.demo.source import DemoSource
from app.demo.summary import maintain
from app.errors import ConfigError, SourceError, TriggerError
from app.sync.engine import AroundBatch, Syncer, SyncResult
from app.sync.http_source import HttpJsonSource
from app.sync.source import SEED_SETTINGS, Source, SqlTableSource


def dataset_jobs(settings: Settings) -> tuple[list[JobDefinition], list[str]]:
    """The jobs of every dataset, and one message per dataset left out (a trigger that cannot be read)."""
    definitions: list[JobDefinition] = []
    problems: list[str] = []
    for dataset in settings.datasets:
        try:
            definitions.extend(_definitions(settings, dataset))
        except TriggerError as exc:
            problems.append(f"dataset {dataset.name!r} left out: {exc}")
    return definitions, problems


def _definitions(settings: Settings, dataset: DatasetConfig) -> list[JobDefinition]:
    try:
        trigger = parse_trigger(dataset.trigger, settings.tz) if dataset.trigger else None
    except TriggerError as exc:
        raise TriggerError(f"datasets.{dataset.name}.trigger={dataset.trigger!r}: {exc}") from None
    text = trigger.text if trigger is not None else interval_trigger(settings.interval_seconds).text
    sync = JobSpec(
        name=dataset.job,
        description=dataset.description or f"Keeps dataset {dataset.name} fresh ({_origin(dataset)})",
        interval_seconds=settings.interval_seconds,
        timeout_seconds=settings.run_timeout_minutes * 60.0,
        max_retries=settings.run_max_retries,
        retry_backoff_seconds=settings.retry_backoff_seconds,
        priority=10,
        trigger=text,
        tags=("sync", f"dataset:{dataset.name}"),
    )
    found = [JobDefinition(sync, make_sync_job(settings, dataset))]
    if dataset.deletes == "reconcile":
        try:
            reconcile_text = parse_trigger(dataset.reconcile_trigger, settings.tz).text
        except TriggerError as exc:
            raise TriggerError(
                f"datasets.{dataset.name}.reconcile_trigger={dataset.reconcile_trigger!r}: {exc}"
            ) from None
        reconcile = JobSpec(
            name=dataset.reconcile_job,
            description=f"Removes from {dataset.target} the rows deleted in the source of dataset {dataset.name}",
            interval_seconds=86400.0,
            timeout_seconds=settings.run_timeout_minutes * 60.0,
            max_retries=settings.run_max_retries,
            retry_backoff_seconds=settings.retry_backoff_seconds,
            priority=5,
            trigger=reconcile_text,
            tags=("sync", f"dataset:{dataset.name}", "deletes"),
        )
        found.append(JobDefinition(reconcile, make_reconcile_job(settings, dataset)))
    return found


def _origin(dataset: DatasetConfig) -> str:
    if dataset.source == "sql":
        return f"table {dataset.source_table} of {dataset.where()}"
    if dataset.source == "http":
        return f"the JSON API {dataset.where()}"
    return "the built-in demo source"


def dataset_of(settings: Settings, job_name: str) -> DatasetConfig | None:
    """The dataset a job keeps fresh (its sync or reconciliation job), or None."""
    return next((d for d in settings.datasets if job_name in (d.job, d.reconcile_job)), None)


def build_source(settings: Settings, dataset: DatasetConfig, clock: Clock) -> Source:
    """The dataset's source; the demo one grows its orders first, like a live system would."""
    if dataset.source == "demo":
        demo = DemoSource(settings.demo_source_path, clock, settings.demo_orders_per_minute)
        demo.grow()
        return SqlTableSource(demo.engine, "orders", "id", "updated_at", soft_delete=dataset.soft_delete or None)
    if dataset.source == "http":
        if not dataset.endpoint:
            raise SourceError(f"dataset {dataset.name!r}: an http source needs its endpoint (SOURCE_ENDPOINT)")
        if len(dataset.key) != 1 or dataset.cursor is None:
            raise SourceError(f"dataset {dataset.name!r}: an http source takes one key column and a cursor")
        return HttpJsonSource(
            dataset.endpoint,
            dataset.key[0],
            dataset.cursor,
            token=dataset.token,
            rate_limit_per_second=settings.source_rate_limit_per_second,
            timeout_seconds=settings.source_timeout_seconds,
            max_retries=settings.source_max_retries,
            clock=clock,
        )
    if not dataset.url:
        raise SourceError(f"dataset {dataset.name!r}: a sql source needs its url (SOURCE_URL)")
    engine = get_engine(dataset.url, settings.source_timeout_seconds)  # connect, statement and lock limits
    named = None if dataset.legacy else {k: f"datasets.{dataset.name}.{k}" for k in SEED_SETTINGS}
    return SqlTableSource(
        engine,
        dataset.source_table,
        dataset.key,
        dataset.cursor,
        soft_delete=dataset.soft_delete or None,
        settings=named,
    )


def make_syncer(settings: Settings, dataset: DatasetConfig, clock: Clock) -> Syncer:
    _refuse_writing_into_the_source(settings, dataset)
    around: AroundBatch | None = None
    if dataset.source == "demo" and dataset.target == DEMO_TABLE:
        around = maintain  # the demo dashboard's daily summary commits with each batch
    return Syncer(
        get_engine(settings.database_url),
        build_source(settings, dataset, clock),
        dataset.target,
        clock,
        dataset.job,  # the cursor is named after the job: a dataset's data version is its sync job's
        around_batch=around,
    )


def _refuse_writing_into_the_source(settings: Settings, dataset: DatasetConfig) -> None:
    """A SQL source in the app's own database whose table is the destination would be overwritten by itself."""
    if dataset.source != "sql" or not dataset.url:
        return
    try:
        same = make_url(dataset.url).set(password=None) == make_url(settings.database_url).set(password=None)
    except (ArgumentError, ValueError):
        return
    table = dataset.source_table.rpartition(".")[2]
    if same and table == dataset.target:
        fix = (
            f"declare it as [datasets.{dataset.name}] with another destination"
            if dataset.legacy
            else f"set another datasets.{dataset.name}.destination"
        )
        raise ConfigError(
            f"dataset {dataset.name!r} would write into its own source: table {dataset.target!r} of the app's "
            f"database (DATABASE_URL) is both; {fix}"
        )


def make_sync_job(settings: Settings, dataset: DatasetConfig) -> JobFunc:
    return functools.partial(sync_dataset, settings=settings, dataset=dataset)


def sync_dataset(ctx: RunContext, *, settings: Settings, dataset: DatasetConfig) -> dict[str, Any]:
    syncer = make_syncer(settings, dataset, ctx.clock)
    result: SyncResult = syncer.run(settings.sync_batch_size, guard=ctx.guard, progress=ctx.progress)
    return {**result.as_dict(), "dataset": dataset.name}


def make_reconcile_job(settings: Settings, dataset: DatasetConfig) -> JobFunc:
    """Hard deletes: the store's keys that the source no longer has are deleted in batches, each batch under
    the run's guard and the dataset's cursor compare-and-set (a concurrent sync or a zombie rolls it back)."""
    return functools.partial(reconcile_dataset, settings=settings, dataset=dataset)


def reconcile_dataset(ctx: RunContext, *, settings: Settings, dataset: DatasetConfig) -> dict[str, Any]:
    syncer = make_syncer(settings, dataset, ctx.clock)
    ctx.progress(0, f"comparing the keys of {dataset.target} with the source")
    result = syncer.reconcile(settings.sync_batch_size, guard=ctx.guard)
    ctx.log("INFO", f"{result.deleted} row(s) deleted in the source removed from {dataset.target}")
    return {**result.as_dict(), "rows": result.deleted, "dataset": dataset.name}


def run_incremental_sync(wait_seconds: float = 600.0) -> RunRecord | None:
    """The seed's entry point: one sync through the scheduler's claim (never a second, parallel run).

    Joins a run in progress; when no timer runs in this process, executes the claimed run here.
    Returns the run record.
    """
    from app.core.scheduler import get_scheduler

    scheduler = get_scheduler()
    handle = scheduler.run_now(DEFAULT_JOB, requested_by="run_incremental_sync")
    if not scheduler.timer_running:
        scheduler.tick()
    return handle.wait(wait_seconds)
