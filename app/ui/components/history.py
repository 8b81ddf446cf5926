"""Scheduler page sections: run history (filtered by job and status) with errors, a duration chart, log lines."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app.core.scheduler import SyncScheduler
from app.ui.formats import vega_locale
from app.ui.text import DASH, STRINGS, local_time, number, reason_word, status_word, t, zone_label

STATUSES = ["success", "failed", "timeout", "abandoned", "skipped", "running"]
COLOURS = ["#2e7d32", "#c62828", "#ef6c00", "#6d4c41", "#9e9e9e", "#1565c0"]
TIME_FORMAT = "YYYY-MM-DD HH:mm:ss"


def render_history(scheduler: SyncScheduler) -> None:
    lang = scheduler.settings.ui_language
    st.subheader(t(lang, "history"))
    pick, left, right = st.columns([1, 2, 1])
    job_names = [j.name for j in scheduler.list_jobs()]
    job = pick.selectbox(
        t(lang, "hist.job"), ["", *job_names], key="fd_hist_job", format_func=lambda n: n or t(lang, "hist.all")
    )
    statuses = left.multiselect(
        t(lang, "hist.status"),
        STATUSES,
        key="fd_hist_status",
        format_func=lambda s: status_word(lang, s),
        placeholder=t(lang, "hist.status_all"),
    )
    limit = right.selectbox(t(lang, "hist.show"), [50, 200, 1000], key="fd_hist_limit")
    runs = scheduler.history(job=job or None, limit=int(limit))
    if statuses:
        runs = [r for r in runs if r.status in statuses]
    if not runs:
        st.info(t(lang, "history.none"))
        return
    frame = pd.DataFrame(runs)
    zone = scheduler.settings.scheduler_timezone
    for column in ("started_at", "finished_at", "scheduled_for"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(zone)
    finished = frame.dropna(subset=["duration_seconds"])
    if not finished.empty:  # a first run still in progress has no duration to plot yet
        _duration_chart(finished, lang, zone_label(zone, scheduler.clock.now(), lang))
    st.dataframe(_runs_table(frame, lang), hide_index=True, width="stretch")
    failures = [r for r in runs if r.error]
    if failures:
        with st.expander(t(lang, "hist.errors", count=len(failures))):
            for run in failures[:20]:
                word = status_word(lang, run.status)
                st.markdown("**" + t(lang, "hist.run", id=run.id, status=word, attempt=run.attempt) + "**")
                st.code(run.error, language=None)


def _runs_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Translated headers and words, local times with their zone, '—' for what a run does not have."""
    zone = frame["started_at"].dt.tz
    started = frame["started_at"].map(lambda v: local_time(v.to_pydatetime(), str(zone), True, lang))
    return pd.DataFrame(
        {
            t(lang, "col.id"): frame["id"],
            t(lang, "col.job"): frame["job_name"],
            t(lang, "col.status"): frame["status"].map(lambda s: status_word(lang, s)),
            t(lang, "col.reason"): frame["reason"].map(lambda w: reason_word(lang, w)),
            t(lang, "col.attempt"): frame["attempt"],
            t(lang, "col.started"): started,
            t(lang, "col.duration"): frame["duration_seconds"].map(lambda d: number(d, lang, 2)),
            t(lang, "col.rows"): frame["rows"].map(lambda r: number(r, lang)),
            t(lang, "col.owner"): frame["owner"].fillna(DASH),
            t(lang, "col.error"): frame["error"].fillna(DASH),
        }
    )


def _duration_chart(finished: pd.DataFrame, lang: str, zone: str) -> None:
    # Wall-clock times of the configured zone (the browser would convert aware times to its own zone), and
    # ticks at least a second apart: runs seconds apart otherwise get unreadable ".500" labels.
    # Only what the chart shows: a run's `result` (a dict of mixed types) cannot go through Arrow as is.
    finished = finished[["id", "status", "reason", "rows", "duration_seconds", "started_at"]]
    finished = finished.assign(
        started_at=finished["started_at"].dt.tz_localize(None),
        shown_status=finished["status"].map(lambda s: status_word(lang, s)),
    )
    words = [status_word(lang, s) for s in STATUSES]
    chart = (
        alt.Chart(finished)
        .mark_circle(size=60)
        .encode(
            x=alt.X(
                "started_at:T",
                title=t(lang, "hist.started", zone=zone),
                axis=alt.Axis(format="%H:%M:%S", tickMinStep=1000),
            ),
            y=alt.Y("duration_seconds:Q", title=t(lang, "hist.duration")),
            color=alt.Color(
                "shown_status:N", title=t(lang, "hist.legend"), scale=alt.Scale(domain=words, range=COLOURS)
            ),
            tooltip=[
                alt.Tooltip("id:Q", title=t(lang, "col.id")),
                alt.Tooltip("shown_status:N", title=t(lang, "col.status")),
                alt.Tooltip("rows:Q", title=t(lang, "col.rows")),
                alt.Tooltip("duration_seconds:Q", title=t(lang, "col.duration"), format=",.2f"),
            ],
        )
        .properties(height=220, title=t(lang, "hist.chart"))
        .configure(locale=vega_locale(lang))
    )
    st.altair_chart(chart, width="stretch")


def render_logs(scheduler: SyncScheduler) -> None:
    logs = scheduler.run_logs(limit=50)
    if logs:
        st.subheader(t(scheduler.settings.ui_language, "logs"))
        lang = scheduler.settings.ui_language
        zone = scheduler.settings.scheduler_timezone
        frame = pd.DataFrame(logs).drop(columns=["id"], errors="ignore")
        # stored in UTC; shown in the configured zone like every other time on the page, the zone named
        label = f"{t(lang, 'col.at')} ({zone_label(zone, scheduler.clock.now(), lang)})"
        frame["at"] = pd.to_datetime(frame["at"], utc=True).dt.tz_convert(zone).dt.tz_localize(None)
        frame = frame.apply(lambda c: c.fillna(DASH) if c.dtype == object else c)
        headers = {name: t(lang, f"col.{name}") for name in frame.columns if f"col.{name}" in STRINGS["en"]}
        st.dataframe(
            frame.rename(columns={**headers, "at": label}),
            hide_index=True,
            width="stretch",
            column_config={
                label: st.column_config.DatetimeColumn(
                    label, format="DD/MM/YYYY HH:mm:ss" if lang == "pt-BR" else TIME_FORMAT
                )
            },
        )
