"""The incremental sync job: builds the configured source and runs the engine inside a claimed run."""

from __future__ import annotations

from typing import Any

from app.clock import Clock
from app.config import Settings
from app.core.database import get_engine
from app.core.runner import JobFunc, RunContext
from app.errors import SourceError
from app.sync.demo import DemoSource
from app.sync.engine import SyncEngine, SyncResult
from app.sync.http_source import HttpJsonSource
from app.sync.source import Source, SqlTableSource
from app.sync.summary import maintain

DESTINATION_TABLE = "orders"


def build_source(settings: Settings, clock: Clock) -> Source:
    """The source named by SYNC_SOURCE; the demo one grows its orders first, like a live system would."""
    if settings.sync_source == "demo":
        demo = DemoSource(settings.demo_source_path, clock, settings.demo_orders_per_minute)
        demo.grow()
        return SqlTableSource(demo.engine, "orders", "id", "updated_at")
    if settings.sync_source == "http":
        if not settings.source_endpoint:
            raise SourceError("SYNC_SOURCE=http needs SOURCE_ENDPOINT (the URL of a JSON endpoint)")
        return HttpJsonSource(
            settings.source_endpoint,
            settings.source_key,
            settings.source_cursor_field,
            token=settings.source_token,
            rate_limit_per_second=settings.source_rate_limit_per_second,
            timeout_seconds=settings.source_timeout_seconds,
            max_retries=settings.source_max_retries,
            clock=clock,
        )
    if not settings.source_url:
        raise SourceError("SYNC_SOURCE=sql needs SOURCE_URL (a SQLAlchemy URL of the source database)")
    return SqlTableSource(
        get_engine(settings.source_url, settings.source_timeout_seconds),
        settings.source_table,
        settings.source_key,
        settings.source_cursor_field,
    )


def sync_engine(settings: Settings, clock: Clock, cursor_name: str) -> SyncEngine:
    return SyncEngine(
        get_engine(settings.database_url),
        build_source(settings, clock),
        DESTINATION_TABLE,
        clock,
        cursor_name,
        around_batch=maintain,  # the dashboard's daily summary commits with each batch
    )


def make_sync_job(settings: Settings) -> JobFunc:
    def incremental_sync(ctx: RunContext) -> dict[str, Any]:
        engine = sync_engine(settings, ctx.clock, ctx.job_name)
        result: SyncResult = engine.run(settings.sync_batch_size, guard=ctx.guard, progress=ctx.progress)
        return result.as_dict()

    return incremental_sync


def run_incremental_sync(wait_seconds: float = 600.0) -> dict[str, Any] | None:
    """The seed's entry point: one sync through the scheduler's claim (never a second, parallel run).

    Joins a run in progress; when no timer runs in this process, executes the claimed run here.
    Returns the run record.
    """
    from app.core.scheduler import DEFAULT_JOB, get_scheduler

    scheduler = get_scheduler()
    handle = scheduler.run_now(DEFAULT_JOB, requested_by="run_incremental_sync")
    if not scheduler.timer_running:
        scheduler.tick()
    return handle.wait(wait_seconds)
