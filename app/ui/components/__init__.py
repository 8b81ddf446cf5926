"""Streamlit widgets over app.core: status panel, sidebar badge, smart refresh, charts."""
