"""E-mailed reports: the demo dashboard's orders of one period as CSV and Excel (job email_report, sent to
REPORT_RECIPIENTS), and ``[reports.NAME]``: any dataset, or a SQL query over datasets, on its own trigger.

Reads the synced `orders` table only (never the source); renders in memory; the run record keeps the delivery.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from app.config import Settings
from app.core.catalogue import JobDefinition
from app.core.database import get_engine
from app.core.runner import JobFunc, RunContext
from app.core.store import JobSpec
from app.core.triggers import parse_trigger
from app.dataset_config import ReportConfig
from app.demo.orders import has_orders, orders_between, period_breakdown, period_kpis
from app.errors import ConfigError, TriggerError
from app.mail import Attachment, send_mail, smtp_is_configured
from app.sync import reader

REPORT_JOB = "email_report"  # the job's name in the catalogue and in run history
COLUMNS = ("id", "created_at", "updated_at", "customer", "region", "channel", "product", "quantity", "amount", "status")
TIMESTAMPS = frozenset({"created_at", "updated_at"})
CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Send = Callable[..., str]


def report_is_configured(settings: Settings) -> bool:
    """True when a report can be sent: an SMTP server and at least one recipient."""
    return smtp_is_configured(settings) and bool(settings.report_recipients)


def report_period(at: datetime, tz: ZoneInfo, days: int) -> tuple[datetime, datetime]:
    """The `days` full local days before the day of `at`, as aware UTC [start, end).

    Computed on local dates, so a day with a daylight-saving change still spans midnight to midnight.
    """
    today = at.astimezone(tz).date()
    return _local_midnight(today - timedelta(days=days), tz), _local_midnight(today, tz)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(ZoneInfo("UTC"))


def period_label(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    first, last = start.astimezone(tz).date(), (end.astimezone(tz) - timedelta(seconds=1)).date()
    return first.isoformat() if first == last else f"{first.isoformat()}_{last.isoformat()}"


def make_report_job(settings: Settings, send: Send = send_mail) -> JobFunc:
    return functools.partial(email_report, settings=settings, send=send)


def email_report(ctx: RunContext, *, settings: Settings, send: Send = send_mail) -> dict[str, Any]:
    if not report_is_configured(settings):
        raise ConfigError(
            "the e-mailed report needs SMTP_HOST (the mail server) and REPORT_RECIPIENTS (who gets it); "
            "set them in .streamlit/secrets.toml or the environment"
        )
    tz = settings.tz
    # The slot, not the wall clock: a retry after midnight still reports the day its slot was for.
    start, end = report_period(ctx.claim.scheduled_for, tz, settings.report_period_days)
    label = period_label(start, end, tz)
    ctx.progress(0, f"reading the orders of {label}")
    engine = get_engine(settings.database_url)
    summary, rows = _read(engine, start, end)
    ctx.progress(len(rows), f"rendering {len(rows)} orders as CSV and Excel")
    attachments: list[Attachment] = [
        (f"orders_{label}.csv", render_csv(rows, tz), CSV_MIME),
        (f"orders_{label}.xlsx", render_xlsx(summary, rows, tz, label), XLSX_MIME),
    ]
    recipients = list(settings.report_recipients)
    ctx.progress(len(rows), f"sending to {len(recipients)} recipient(s)")
    subject = f"Freshdash report {label}: {summary['orders']} orders, {summary['revenue']:,.2f} revenue"
    message_id = send(settings, subject, render_body(summary, label, tz, attachments), recipients, attachments)
    ctx.log("INFO", f"report {label} sent to {', '.join(recipients)} ({message_id})")
    return {
        "rows": len(rows),
        "period_start": start.astimezone(tz).isoformat(),
        "period_end": end.astimezone(tz).isoformat(),
        "recipients": recipients,
        "attachments": [{"name": name, "bytes": len(content), "mime": mime} for name, content, mime in attachments],
        "message_id": message_id,
        "orders": summary["orders"],
        "revenue": summary["revenue"],
    }


def _read(engine: Any, start: datetime, end: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not has_orders(engine):  # nothing synced yet: an empty report says so rather than failing
        empty = {"orders": 0, "revenue": 0.0, "average": 0.0, "units": 0, "by_region": [], "by_status": []}
        return empty, []
    summary = period_kpis(engine, start, end)
    summary["by_region"] = period_breakdown(engine, start, end, "region")
    summary["by_status"] = period_breakdown(engine, start, end, "status")
    return summary, orders_between(engine, start, end)


def _local(name: str, value: Any, tz: ZoneInfo) -> Any:
    """Timestamps of the orders table are naive UTC; people read them in SCHEDULER_TIMEZONE."""
    if name in TIMESTAMPS and isinstance(value, str):  # SQLite hands untyped timestamp columns back as text
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
        return aware.astimezone(tz)
    return value


def render_csv(rows: Sequence[dict[str, Any]], tz: ZoneInfo) -> bytes:
    """UTF-8 with a byte-order mark (Excel then reads accents right), ISO 8601 local times with offset."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        values = [_local(name, row.get(name), tz) for name in COLUMNS]
        writer.writerow([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return out.getvalue().encode("utf-8-sig")


def render_xlsx(summary: dict[str, Any], rows: Sequence[dict[str, Any]], tz: ZoneInfo, label: str) -> bytes:
    """A Summary sheet (KPIs, by region, by status) and an Orders sheet; local times without zone (Excel)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Summary")
    sheet.append(["Freshdash report", label])
    sheet.append(["Time zone", str(tz)])
    sheet.append([])
    for key, title in (("orders", "Orders"), ("revenue", "Revenue"), ("average", "Average order"), ("units", "Units")):
        sheet.append([title, summary[key]])
    for part, name in (("by_region", "region"), ("by_status", "status")):
        sheet.append([])
        sheet.append([name.capitalize(), "Orders", "Revenue"])
        for item in summary[part]:
            sheet.append([item[name], item["orders"], item["revenue"]])
    orders = book.create_sheet("Orders")
    orders.append(list(COLUMNS))
    for row in rows:
        values = [_local(name, row.get(name), tz) for name in COLUMNS]
        orders.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in values])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render_body(summary: dict[str, Any], label: str, tz: ZoneInfo, attachments: Sequence[Attachment]) -> str:
    lines = [
        f"Freshdash report for {label} ({tz}).",
        "",
        f"Orders:        {summary['orders']}",
        f"Revenue:       {summary['revenue']:,.2f}",
        f"Average order: {summary['average']:,.2f}",
        f"Units:         {summary['units']}",
    ]
    if summary["by_region"]:
        lines += ["", "By region:"]
        lines += [f"  {r['region']}: {r['orders']} orders, {r['revenue']:,.2f}" for r in summary["by_region"]]
    lines += ["", "Attached: " + ", ".join(name for name, _, _ in attachments)]
    return "\n".join(lines) + "\n"


# -- reports of any dataset, or of a SQL query over datasets ([reports.NAME]) ----------------------------


def dataset_report_jobs(settings: Settings) -> tuple[list[JobDefinition], list[str]]:
    """One job per ``[reports.NAME]`` (named report_NAME); a report whose trigger cannot be read is left out."""
    found: list[JobDefinition] = []
    problems: list[str] = []
    for report in settings.reports:
        text = report.trigger or f"daily {settings.report_time}"
        try:
            trigger = parse_trigger(text, settings.tz).text
        except TriggerError as exc:
            problems.append(f"report {report.name!r} left out: reports.{report.name}.trigger={text!r}: {exc}")
            continue
        what = (
            f"dataset {report.dataset}"
            if report.dataset
            else "a query over " + (", ".join(report.datasets) or "datasets")
        )
        spec = JobSpec(
            name=report.job,
            description=f"E-mails {what} as CSV and Excel",
            interval_seconds=86400.0,
            timeout_seconds=600.0,
            max_retries=2,
            retry_backoff_seconds=300.0,
            priority=5,
            trigger=trigger,
            tags=("report", *(f"dataset:{d}" for d in (report.dataset, *report.datasets) if d)),
        )
        found.append(JobDefinition(spec, make_dataset_report_job(settings, report)))
    return found, problems


def make_dataset_report_job(settings: Settings, report: ReportConfig, send: Send = send_mail) -> JobFunc:
    return functools.partial(dataset_report, settings=settings, report=report, send=send)


def dataset_report(
    ctx: RunContext, *, settings: Settings, report: ReportConfig, send: Send = send_mail
) -> dict[str, Any]:
    recipients = list(report.recipients or settings.report_recipients)
    if not smtp_is_configured(settings) or not recipients:
        raise ConfigError(
            f"report {report.name!r} needs SMTP_HOST (the mail server) and recipients "
            f"(reports.{report.name}.recipients or REPORT_RECIPIENTS)"
        )
    tz = settings.tz
    start, end = report_period(ctx.claim.scheduled_for, tz, report.period_days or settings.report_period_days)
    label = period_label(start, end, tz)
    ctx.progress(0, f"reading {report.dataset or 'the query'} for {label}")
    names, rows = _report_rows(settings, report, start, end)
    total = len(rows)
    rows = rows[: report.max_rows]
    ctx.progress(len(rows), f"rendering {len(rows)} rows as CSV and Excel")
    stem = f"{report.name}_{label}"
    attachments: list[Attachment] = [
        (f"{stem}.csv", table_csv(names, rows, tz), CSV_MIME),
        (f"{stem}.xlsx", table_xlsx(names, rows, tz, report.name, label), XLSX_MIME),
    ]
    cut = (
        f" (the first {len(rows):,} of {total:,} rows: raise reports.{report.name}.max_rows)"
        if total > len(rows)
        else ""
    )
    subject = report.subject or f"Freshdash report {report.name} {label}: {total:,} rows"
    body = (
        f"Freshdash report {report.name} for {label} ({tz}): {total:,} rows{cut}.\n\n"
        + ("Query:\n" + report.query + "\n\n" if report.query else f"Dataset: {report.dataset}\n\n")
        + "Attached: "
        + ", ".join(name for name, _, _ in attachments)
        + "\n"
    )
    message_id = send(settings, subject, body, recipients, attachments)
    ctx.log("INFO", f"report {report.name} {label} sent to {', '.join(recipients)} ({message_id})")
    return {
        "rows": len(rows),
        "rows_total": total,
        "period_start": start.astimezone(tz).isoformat(),
        "period_end": end.astimezone(tz).isoformat(),
        "recipients": recipients,
        "attachments": [{"name": name, "bytes": len(content), "mime": mime} for name, content, mime in attachments],
        "message_id": message_id,
    }


def _report_rows(
    settings: Settings, report: ReportConfig, start: datetime, end: datetime
) -> tuple[list[str], list[tuple[Any, ...]]]:
    engine = get_engine(settings.database_url)
    if report.query:
        bounds = {"start": _utc_text(start), "end": _utc_text(end)}
        params = {k: v for k, v in bounds.items() if f":{k}" in report.query}
        return reader.run_query(engine, report.query, params)
    dataset = next(d for d in settings.datasets if d.name == report.dataset)
    between = (report.time_column, start, end) if report.time_column else None
    return reader.read_rows(
        engine, dataset.target, exclude_marked=dataset.soft_delete, between=between, limit=report.max_rows + 1
    )


def _utc_text(at: datetime) -> str:
    return at.astimezone(ZoneInfo("UTC")).replace(tzinfo=None).isoformat(sep=" ")


def _cell(value: Any, tz: ZoneInfo) -> Any:
    """A value as a spreadsheet shows it: aware times in SCHEDULER_TIMEZONE, JSON and the rest as text."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))).astimezone(tz)
    if value is None or isinstance(value, (str, int, float, bool, date)):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)  # Decimal (exact digits), UUID, bytes as text


def table_csv(names: Sequence[str], rows: Sequence[Sequence[Any]], tz: ZoneInfo) -> bytes:
    """UTF-8 with a byte-order mark, ISO 8601 local times with offset, every value as the store holds it."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(names)
    for row in rows:
        values = [_cell(v, tz) for v in row]
        writer.writerow([v.isoformat() if isinstance(v, (datetime, date)) else v for v in values])
    return out.getvalue().encode("utf-8-sig")


def table_xlsx(names: Sequence[str], rows: Sequence[Sequence[Any]], tz: ZoneInfo, title: str, label: str) -> bytes:
    """One sheet of rows under a header; local times without zone (Excel has none), the zone in the title."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31] or "data")
    sheet.append([f"Freshdash report {title}", label, str(tz)])
    sheet.append(list(names))
    for row in rows:
        values = [_cell(v, tz) for v in row]
        sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in values])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
