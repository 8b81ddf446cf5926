"""Home: the demo's orders dashboard when the demo dataset is configured, else the Data overview."""

import streamlit as st

from app.errors import AppError
from app.ui import data, resources
from app.ui.components.autorefresh import render_smart_refresh
from app.ui.components.dashboard import demo_dataset, render_dashboard
from app.ui.components.datasets import render_data_page
from app.ui.components.navigation import render_navigation
from app.ui.components.scheduler_status import render_app_error, render_data_as_of, render_scheduler_badge
from app.ui.text import t

st.set_page_config(page_title="Freshdash", page_icon=resources.PAGE_ICON, layout="wide")
settings = resources.get_settings()
demo = demo_dataset(settings)
st.title(t(settings.ui_language, "dash.title" if demo else "ds.title"))
render_navigation(settings.ui_language)
render_scheduler_badge()
if settings.issues:
    st.warning(t(settings.ui_language, "config_errors"), icon=":material/settings:")
if demo is None:
    render_smart_refresh("dashboard", high_traffic=True)
    render_data_page()
    st.stop()
try:
    status = data.status_this_run(demo.job)
except AppError as exc:
    render_app_error(exc, settings.ui_language)
    st.stop()
render_data_as_of(status, settings.ui_language)
render_smart_refresh("dashboard", high_traffic=True)
render_dashboard(demo.name, settings.ui_language, settings.scheduler_timezone, status)
