"""The built-in jobs: every dataset's sync, the daily renewal of today's agenda, history retention, and the
e-mailed report when SMTP is configured. They join the catalogue as its provider of built-in jobs when this
package is imported (by the composition roots, or by the core loading APPLICATION_JOBS)."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from app.config import Settings
from app.core.agenda import Agenda
from app.core.catalogue import JobDefinition, catalogue
from app.core.runner import JobFunc, RunContext
from app.core.store import JobSpec
from app.jobs.datasets import dataset_jobs
from app.jobs.report import REPORT_JOB, dataset_report_jobs, make_report_job, report_is_configured

RENEWAL_JOB = "daily_renewal"
RETENTION_JOB = "history_retention"


def builtin_jobs(settings: Settings) -> tuple[list[JobDefinition], list[str]]:
    """Every dataset's jobs, the daily renewal, the retention and (when configured) the e-mailed report, and
    one message per dataset left out because it cannot be scheduled."""
    jobs, problems = dataset_jobs(settings)
    reports, left_out = dataset_report_jobs(settings)
    jobs += reports
    problems += left_out
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
    jobs += [
        JobDefinition(renewal, renew_todays_agenda),
        JobDefinition(retention, make_retention_job(settings)),
    ]
    demo = any(d.source == "demo" for d in settings.datasets)  # the orders report reads the demo's orders
    if report_is_configured(settings) and demo:  # without SMTP_HOST and REPORT_RECIPIENTS it would only fail
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
    return jobs, problems


def renew_todays_agenda(ctx: RunContext) -> dict[str, Any]:
    planned = Agenda(ctx.store.engine, ctx.store).renew(ctx.now())
    return {"rows": planned, "planned": planned}


def make_retention_job(settings: Settings) -> JobFunc:
    return functools.partial(history_retention, settings=settings)


def history_retention(ctx: RunContext, *, settings: Settings) -> dict[str, Any]:
    cutoff = ctx.now() - timedelta(days=settings.history_retention_days)
    runs = ctx.store.purge(cutoff)
    planned = Agenda(ctx.store.engine, ctx.store).purge(cutoff)
    ctx.log("INFO", f"purged {runs} runs and {planned} planned slots older than {cutoff:%Y-%m-%d}")
    return {"rows": runs, "runs_deleted": runs, "planned_deleted": planned, "cutoff": cutoff.isoformat()}


catalogue.provide(builtin_jobs)
