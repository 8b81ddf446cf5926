"""Scheduler: status and controls, jobs and their triggers, today's queue, run history, charts, log lines."""

import streamlit as st

from app.ui import resources
from app.ui.components.agenda import render_agenda
from app.ui.components.autorefresh import render_smart_refresh
from app.ui.components.history import render_history, render_logs
from app.ui.components.jobs import render_jobs
from app.ui.components.metrics import render_metrics_panel
from app.ui.components.navigation import render_navigation
from app.ui.components.scheduler_status import (
    render_freshness,
    render_scheduler_badge,
    render_scheduler_status,
)
from app.ui.text import t

st.set_page_config(page_title="Scheduler · Freshdash", page_icon=resources.PAGE_ICON, layout="wide")
st.title(t(resources.get_settings().ui_language, "scheduler.title"))
render_navigation(resources.get_settings().ui_language)
render_scheduler_badge()
render_freshness()
if not render_scheduler_status(show_controls=True):
    st.stop()  # the panel said what is wrong with the database; jobs and history would only fail again
render_smart_refresh("scheduler")
scheduler = resources.get_scheduler()
render_jobs(scheduler)
render_agenda(scheduler)
render_history(scheduler)
render_metrics_panel(scheduler)
render_logs(scheduler)
