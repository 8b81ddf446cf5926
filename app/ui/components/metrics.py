"""Scheduler page section: the numbers /metrics exports (runs per job and status, failures by reason), open alerts."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.core.scheduler import SyncScheduler
from app.errors import AppError
from app.ui import resources
from app.ui.text import DASH, STRINGS, local_time, number, status_word, t


def render_metrics_panel(scheduler: SyncScheduler | None = None) -> None:
    """Read from the database like a scrape does, so every replica's page shows the same numbers."""
    scheduler = scheduler or resources.get_scheduler()
    lang = scheduler.settings.ui_language
    st.subheader(t(lang, "metrics.title"))
    try:
        scheduler.prepare()
        snapshot = scheduler.metrics_summary()
        alerts = scheduler.open_alerts()
    except AppError as exc:  # a database that is down: say so, the rest of the page still renders
        st.warning(t(lang, "metrics.unavailable", error=exc))
        return
    failed = sum(item["runs"] for item in snapshot["failures"])
    cells = st.columns(4)
    cells[0].metric(t(lang, "metrics.jobs_active"), f"{snapshot['jobs_active']} / {snapshot['jobs']}")
    cells[1].metric(t(lang, "metrics.queue"), number(snapshot["queue_size"], lang))
    cells[2].metric(t(lang, "metrics.alerts"), number(len(alerts), lang))
    cells[3].metric(t(lang, "metrics.failures"), number(failed, lang))
    left, right = st.columns(2)
    with left:
        st.caption(t(lang, "metrics.runs"))
        rows = _translated(runs_table(snapshot), lang)
        if rows:
            st.dataframe(rows, hide_index=True, width="stretch")
        else:
            st.info(t(lang, "metrics.no_runs"))
    with right:
        st.caption(t(lang, "metrics.by_reason"))
        if snapshot["failures"]:
            st.dataframe(_translated(snapshot["failures"], lang), hide_index=True, width="stretch")
        else:
            st.info(t(lang, "metrics.no_failures"))
    st.caption(t(lang, "metrics.open_alerts"))
    if not alerts:
        st.success(t(lang, "metrics.no_alerts"))
        return
    zone = scheduler.settings.scheduler_timezone
    now = scheduler.clock.now()
    shown = [
        {
            t(lang, "col.job"): a["job_name"],
            t(lang, "col.alert"): a["kind"],
            t(lang, "col.detail"): a["detail"] or DASH,
            t(lang, "col.since"): local_time(a["opened_at"], zone, with_date=True, language=lang, now=now),
            t(lang, "col.emailed"): t(lang, "yes" if a["notified_at"] is not None else "no"),
        }
        for a in alerts
    ]
    st.dataframe(shown, hide_index=True, width="stretch")


def _translated(rows: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Headers (job, status words, reason, runs) in the UI's language; values that are words translated too."""

    def header(name: str) -> str:
        for prefix in ("col.", "status."):
            if f"{prefix}{name}" in STRINGS["en"]:
                return t(lang, f"{prefix}{name}")
        return name

    return [{header(k): (status_word(lang, v) if k == "status" else v) for k, v in row.items()} for row in rows]


def runs_table(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per job, one column per status (the counters of freshdash_runs_total)."""
    statuses = sorted({item["status"] for item in snapshot["runs"]})
    table: dict[str, dict[str, Any]] = {}
    for item in snapshot["runs"]:
        row = table.setdefault(item["job"], {"job": item["job"], **dict.fromkeys(statuses, 0)})
        row[item["status"]] = item["runs"]
    return [table[job] for job in sorted(table)]
