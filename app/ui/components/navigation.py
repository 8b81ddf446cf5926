"""Sidebar links to every page, with readable, translated labels (Streamlit would show file names)."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app.ui.text import t

PAGES = (
    ("streamlit_app.py", "nav.dashboard", ":material/monitoring:"),
    ("pages/0_Data.py", "nav.data", ":material/table:"),
    ("pages/1_Scheduler.py", "nav.scheduler", ":material/schedule:"),
    ("pages/2_Settings.py", "nav.settings", ":material/settings:"),
)


def render_navigation(language: str) -> None:
    with st.sidebar:
        for path, key, icon in PAGES:
            try:
                st.page_link(path, label=t(language, key), icon=icon)
            except StreamlitAPIException:
                # Run with another entry point (AppTest of a single page, an embedding app): no page list.
                return
        st.divider()
