"""The built-in jobs: the incremental sync, the daily renewal of today's queue, history retention, and the
e-mailed report when SMTP is configured."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.config import Settings
from app.core.agenda import Agenda
from app.core.catalogue import JobDefinition
from app.core.runner import JobFunc, RunContext
from app.core.status import StatusReader
from app.core.store import JobSpec
from app.core.triggers import interval_trigger
from app.jobs.report import REPORT_JOB, make_report_job, report_is_configured

SYNC_JOB = "incremental_sync"
RENEWAL_JOB = "daily_renewal"
RETENTION_JOB = "history_retention"


def builtin_jobs(settings: Settings) -> list[JobDefinition]:
    from app.sync.job import make_sync_job

    sync = JobSpec(
        name=SYNC_JOB,
        description=f"Incremental sync from the {settings.sync_source} source",
        interval_seconds=settings.interval_seconds,
        timeout_seconds=settings.run_timeout_minutes * 60.0,
        max_retries=settings.run_max_retries,
        retry_backoff_seconds=settings.retry_backoff_seconds,
        priority=10,
        trigger=interval_trigger(settings.interval_seconds).text,
        tags=("sync",),
    )
    renewal = JobSpec(
        name=RENEWAL_JOB,
        description="Plans today's queue of runs just after midnight",
        interval_seconds=86400.0,
        timeout_seconds=300.0,
        max_retries=2,
        retry_backoff_seconds=60.0,
        priority=100,
        trigger="daily 00:01",
        tags=("maintenance",),
    )
    retention = JobSpec(
        name=RETENTION_JOB,
        description=f"Deletes runs, log lines and planned slots older than {settings.history_retention_days} days",
        interval_seconds=86400.0,
        timeout_seconds=1800.0,
        max_retries=1,
        retry_backoff_seconds=300.0,
        priority=0,
        trigger="daily 03:00",
        tags=("maintenance",),
    )
    jobs = [
        JobDefinition(sync, make_sync_job(settings)),
        JobDefinition(renewal, renew_todays_queue),
        JobDefinition(retention, make_retention_job(settings)),
    ]
    if report_is_configured(settings):  # without SMTP_HOST and REPORT_RECIPIENTS it would only fail daily
        report = JobSpec(
            name=REPORT_JOB,
            description=f"E-mails the previous {settings.report_period_days} day(s) of orders as CSV and Excel",
            interval_seconds=86400.0,
            timeout_seconds=600.0,
            max_retries=2,
            retry_backoff_seconds=300.0,
            priority=5,
            trigger=f"daily {settings.report_time}",
            tags=("report",),
        )
        jobs.append(JobDefinition(report, make_report_job(settings)))
    return jobs


def renew_todays_queue(ctx: RunContext) -> dict[str, Any]:
    planned = Agenda(ctx.store.engine, ctx.store).renew(ctx.now())
    return {"rows": planned, "planned": planned}


def make_retention_job(settings: Settings) -> JobFunc:
    def history_retention(ctx: RunContext) -> dict[str, Any]:
        cutoff = ctx.now() - timedelta(days=settings.history_retention_days)
        runs = StatusReader(ctx.store.engine, settings).purge(cutoff)
        planned = Agenda(ctx.store.engine, ctx.store).purge(cutoff)
        ctx.log("INFO", f"purged {runs} runs and {planned} planned slots older than {cutoff:%Y-%m-%d}")
        return {"rows": runs, "runs_deleted": runs, "planned_deleted": planned, "cutoff": cutoff.isoformat()}

    return history_retention
