"""Scheduler page sections: the jobs table with guarded per-job controls, run history, charts, log lines."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app.core.scheduler import SyncScheduler
from app.sync.engine import reset_cursor
from app.ui.components.scheduler_status import is_admin
from app.ui.text import t

STATUSES = ["success", "failed", "timeout", "abandoned", "running"]
TIME_FORMAT = "YYYY-MM-DD HH:mm:ss"


def render_jobs(scheduler: SyncScheduler) -> None:
    st.subheader(t(scheduler.settings.ui_language, "jobs"))
    jobs = scheduler.store.list_jobs()
    tz = scheduler.settings.tz
    rows = [
        {
            "job": j["name"],
            "description": j["description"],
            "every (min)": round(j["interval_seconds"] / 60.0, 2),
            "paused": j["paused"],
            "next run": j["next_run_at"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if j["next_run_at"] else "—",
            "running": j["current_run_id"] is not None,
            "timeout (s)": j["timeout_seconds"],
            "retries": j["max_retries"],
        }
        for j in jobs
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    if not is_admin(scheduler.settings) or not jobs:
        return
    with st.expander("Change a job"):
        name = st.selectbox("Job", [j["name"] for j in jobs], key="fd_job_pick")
        job = next(j for j in jobs if j["name"] == name)
        minutes = st.number_input(
            "Interval (minutes)",
            min_value=0.05,
            max_value=10080.0,
            value=float(job["interval_seconds"]) / 60.0,
            key="fd_job_interval",
        )
        left, right = st.columns(2)
        if left.button("Save interval", key="fd_job_save"):
            scheduler.store.set_interval(name, minutes * 60.0, scheduler.clock.now())
            st.rerun()
        label = "Resume job" if job["paused"] else "Pause job"
        if right.button(label, key="fd_job_pause"):
            scheduler.store.set_paused(name, not job["paused"], scheduler.clock.now())
            st.rerun()
        if st.button("Full resync", key="fd_job_resync", help="Forget the sync cursor and re-read every source row"):
            reset_cursor(scheduler.engine, name, scheduler.clock.now())
            scheduler.run_now(name, requested_by="full resync")
            scheduler.drive_in_background(name)
            st.toast("Cursor reset: a full resync is running.")


def render_history(scheduler: SyncScheduler) -> None:
    lang = scheduler.settings.ui_language
    st.subheader(t(lang, "history"))
    left, right = st.columns([2, 1])
    statuses = left.multiselect("Status", STATUSES, key="fd_hist_status")
    limit = right.selectbox("Show", [50, 200, 1000], key="fd_hist_limit")
    runs = scheduler.status_reader.history(limit=int(limit))
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
    finished = finished.assign(started_at=finished["started_at"].dt.tz_localize(None))
    chart = (
        alt.Chart(finished)
        .mark_circle(size=60)
        .encode(
            x=alt.X("started_at:T", title="Started", axis=alt.Axis(format="%H:%M:%S", tickMinStep=1000)),
            y=alt.Y("duration_seconds:Q", title="Duration (s)"),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=STATUSES, range=["#2e7d32", "#c62828", "#ef6c00", "#6d4c41", "#1565c0"]),
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
