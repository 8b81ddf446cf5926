"""Smart refresh: when the scheduler is not running here, pages rerun themselves with st_autorefresh.

Each refresh re-reads data; a sync starts only through the database claim and only when data is stale,
so N open tabs never cause N syncs.
"""

from __future__ import annotations

import streamlit as st
from streamlit_autorefresh import st_autorefresh

from app.errors import AppError
from app.ui import data, resources
from app.ui.text import human_age, t

HIGH_TRAFFIC_FACTOR = 2
ASKED_KEY = "fd_autorefresh_asked"


def refresh_minutes(base_minutes: float, high_traffic: bool, interval_minutes: float | None) -> float:
    """The page's refresh period: explicit, else the configured one, doubled on high-traffic pages."""
    minutes = interval_minutes if interval_minutes is not None else base_minutes
    return minutes * HIGH_TRAFFIC_FACTOR if high_traffic and interval_minutes is None else minutes


def render_smart_refresh(page_name: str, high_traffic: bool = False, interval_minutes: float | None = None) -> bool:
    """Turn the fallback on when needed; returns True when this page is auto-refreshing."""
    settings = resources.get_settings()
    if not settings.enable_autorefresh_fallback:
        return False
    try:
        scheduler = resources.get_scheduler()
        status = data.status_this_run(resources.primary_job())
    except AppError:
        return False  # the page's own status area explains the database problem
    # this process's timer, not the job's state: a paused job (or Stop) does not mean "not running here"
    if scheduler.state_name == "running" or status.state == "running":
        return False
    minutes = refresh_minutes(settings.autorefresh_interval_minutes, high_traffic, interval_minutes)
    count = st_autorefresh(interval=int(minutes * 60_000), key=f"fd_autorefresh_{page_name}")
    if count or not st.session_state.get(ASKED_KEY):
        # A session's first view catches up at once instead of one refresh period later ("first sync is on
        # its way" must be true); the request coalesces in the database, so many tabs still give one run.
        st.session_state[ASKED_KEY] = True
        for ds in resources.get_settings().datasets:  # each stale dataset asks for its sync (coalesced)
            scheduler.request_if_stale(ds.job, requested_by=f"auto-refresh {page_name}")
    st.caption(t(settings.ui_language, "fallback", period=human_age(minutes * 60)))  # "12 s", "30 min", "1 h"
    return True
