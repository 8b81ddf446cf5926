"""Scheduler page: today's queue (every planned slot of every job, in order, and what happened to it)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.core.agenda import queue_counts
from app.core.scheduler import SyncScheduler
from app.ui.text import t


def render_queue(scheduler: SyncScheduler) -> None:
    lang = scheduler.settings.ui_language
    st.subheader(t(lang, "queue"))
    queue = scheduler.todays_queue()
    if not queue:
        st.info(t(lang, "queue.none"))
        return
    counts = queue_counts(queue)
    for column, (label, value) in zip(st.columns(len(counts)), counts.items(), strict=True):
        column.metric(label, value)
    tz = scheduler.settings.tz
    frame = pd.DataFrame(queue)
    frame["time"] = pd.to_datetime(frame["planned_for"], utc=True).dt.tz_convert(tz).dt.strftime("%H:%M:%S")
    jobs = sorted(frame["job"].unique())
    picked = st.multiselect("Jobs", jobs, key="fd_queue_jobs", placeholder="all jobs")
    if picked:
        frame = frame[frame["job"].isin(picked)]
    st.dataframe(frame[["time", "job", "priority", "state", "run_id"]], hide_index=True, width="stretch", height=260)
