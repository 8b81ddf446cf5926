"""Data: every dataset with how fresh it is, its table, last run and next slot, Sync now, rows to download."""

import streamlit as st

from app.ui import resources
from app.ui.components.autorefresh import render_smart_refresh
from app.ui.components.datasets import render_data_page
from app.ui.components.navigation import render_navigation
from app.ui.components.scheduler_status import render_scheduler_badge
from app.ui.text import t

st.set_page_config(page_title="Data · Freshdash", page_icon=resources.PAGE_ICON, layout="wide")
settings = resources.get_settings()
st.title(t(settings.ui_language, "ds.title"))
render_navigation(settings.ui_language)
render_scheduler_badge()
render_smart_refresh("data")
render_data_page()
