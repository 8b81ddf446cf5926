"""Scheduler page: today's agenda (every planned slot of every job, in order, and what happened to it)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.core.agenda import agenda_counts
from app.core.scheduler import SyncScheduler
from app.ui.text import DASH, number, status_word, t, zone_name


def render_agenda(scheduler: SyncScheduler) -> None:
    lang = scheduler.settings.ui_language
    st.subheader(t(lang, "queue"))
    entries = scheduler.todays_agenda()
    if not entries:
        st.info(t(lang, "queue.none"))
        return
    counts = agenda_counts(entries)
    # two rows of three: six metrics side by side are cut at 1280 px in Portuguese
    cells = [*st.columns(3), *st.columns(3)]
    for column, (label, value) in zip(cells, counts.items(), strict=True):
        column.metric(status_word(lang, label), number(value, lang))
    zone = scheduler.settings.scheduler_timezone
    st.caption(t(lang, "queue.zone", zone=zone_name(zone, lang)))
    frame = pd.DataFrame(entries)
    frame["time"] = pd.to_datetime(frame["planned_for"], utc=True).dt.tz_convert(zone).dt.strftime("%H:%M:%S")
    jobs = sorted(frame["job"].unique())
    picked = st.multiselect(t(lang, "queue.jobs"), jobs, key="fd_queue_jobs", placeholder=t(lang, "queue.all"))
    if picked:
        frame = frame[frame["job"].isin(picked)]
    shown = pd.DataFrame(
        {
            t(lang, "col.time"): frame["time"],
            t(lang, "col.job"): frame["job"],
            t(lang, "col.priority"): frame["priority"],
            t(lang, "col.state"): frame["state"].map(lambda s: status_word(lang, s)),
            t(lang, "col.run"): frame["run_id"].map(lambda r: DASH if r is None or r != r else str(int(r))),
        }
    )
    st.dataframe(shown, hide_index=True, width="stretch", height=260)
