"""Scheduler page sections: run history (filtered by job and status) with errors, a duration chart, log lines."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app.core.scheduler import SyncScheduler
from app.ui.text import t

STATUSES = ["success", "failed", "timeout", "abandoned", "skipped", "running"]
COLOURS = ["#2e7d32", "#c62828", "#ef6c00", "#6d4c41", "#9e9e9e", "#1565c0"]
TIME_FORMAT = "YYYY-MM-DD HH:mm:ss"


def render_history(scheduler: SyncScheduler) -> None:
    lang = scheduler.settings.ui_language
    st.subheader(t(lang, "history"))
    pick, left, right = st.columns([1, 2, 1])
    job_names = [j["name"] for j in scheduler.store.list_jobs()]
    job = pick.selectbox("Job", ["all jobs", *job_names], key="fd_hist_job")
    statuses = left.multiselect("Status", STATUSES, key="fd_hist_status")
    limit = right.selectbox("Show", [50, 200, 1000], key="fd_hist_limit")
    runs = scheduler.status_reader.history(job=None if job == "all jobs" else job, limit=int(limit))
    if statuses:
        runs = [r for r in runs if r["status"] in statuses]
    if not runs:
        st.info(t(lang, "history.none"))
        return
    frame = pd.DataFrame(runs)
    tz = scheduler.settings.tz
    for column in ("started_at", "finished_at", "scheduled_for"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(tz)
    finished = frame.dropna(subset=["duration_seconds"])
    if not finished.empty:  # a first run still in progress has no duration to plot yet
        _duration_chart(finished)
    shown = frame[
        [
            "id",
            "job_name",
            "status",
            "trigger",
            "attempt",
            "started_at",
            "duration_seconds",
            "rows",
            "owner",
            "error",
        ]
    ]
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            "duration_seconds": st.column_config.NumberColumn("duration (s)", format="%.2f"),
            "started_at": st.column_config.DatetimeColumn("started", format=TIME_FORMAT),
        },
    )
    failures = [r for r in runs if r["error"]]
    if failures:
        with st.expander(f"Errors ({len(failures)})"):
            for run in failures[:20]:
                st.markdown(f"**Run {run['id']}** · {run['status']} · attempt {run['attempt']}")
                st.code(run["error"], language=None)


def _duration_chart(finished: pd.DataFrame) -> None:
    # Wall-clock times of the configured zone (the browser would convert aware times to its own zone), and
    # ticks at least a second apart: runs seconds apart otherwise get unreadable ".500" labels.
    # Only what the chart shows: a run's `result` (a dict of mixed types) cannot go through Arrow as is.
    finished = finished[["id", "status", "trigger", "rows", "duration_seconds", "error", "started_at"]]
    finished = finished.assign(started_at=finished["started_at"].dt.tz_localize(None))
    chart = (
        alt.Chart(finished)
        .mark_circle(size=60)
        .encode(
            x=alt.X("started_at:T", title="Started", axis=alt.Axis(format="%H:%M:%S", tickMinStep=1000)),
            y=alt.Y("duration_seconds:Q", title="Duration (s)"),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=STATUSES, range=["#2e7d32", "#c62828", "#ef6c00", "#6d4c41", "#9e9e9e", "#1565c0"]
                ),
            ),
            tooltip=["id", "status", "trigger", "rows", "duration_seconds", "error"],
        )
        .properties(height=220, title="Duration and outcome of each run")
    )
    st.altair_chart(chart, width="stretch")


def render_logs(scheduler: SyncScheduler) -> None:
    logs = scheduler.status_reader.logs(limit=50)
    if logs:
        st.subheader(t(scheduler.settings.ui_language, "logs"))
        frame = pd.DataFrame(logs).drop(columns=["id"], errors="ignore")
        # stored in UTC; shown in the configured zone like every other time on the page
        frame["at"] = pd.to_datetime(frame["at"], utc=True).dt.tz_convert(scheduler.settings.tz)
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            column_config={"at": st.column_config.DatetimeColumn("at", format=TIME_FORMAT)},
        )
