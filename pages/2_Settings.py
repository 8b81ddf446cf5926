"""Settings: the effective configuration (secrets masked) and every configuration problem explained."""

import streamlit as st

from app.ui import resources
from app.ui.components.scheduler_status import render_freshness, render_scheduler_badge

st.set_page_config(page_title="Settings · Freshdash", page_icon=":material/settings:", layout="wide")
st.title("Settings")
render_scheduler_badge()
render_freshness()
settings = resources.get_settings()
if settings.issues:
    st.error(
        f"{len(settings.issues)} setting(s) could not be used; defaults apply instead:",
        icon=":material/error:",
    )
    for issue in settings.issues:
        st.markdown(f"- **{issue.key}** = `{issue.value}`: {issue.message}")
else:
    st.success("Every setting is valid.", icon=":material/check_circle:")
st.caption(
    "Set values in `.streamlit/secrets.toml` (or the Community Cloud secrets box) or as environment "
    "variables, which win. Secrets are masked here. See `.streamlit/secrets.toml.example` for every key."
)
rows = [{"key": key, "value": value} for key, value in settings.redacted().items()]
st.dataframe(rows, hide_index=True, width="stretch")
