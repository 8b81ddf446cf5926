"""Settings: every effective value with where it came from (secrets masked), and every problem explained."""

import streamlit as st

from app.config import effective_rows
from app.core.catalogue import catalogue
from app.ui import resources
from app.ui.components.datasets import settings_rows
from app.ui.components.jobs import render_catalogue_problems
from app.ui.components.navigation import render_navigation
from app.ui.components.scheduler_status import render_freshness, render_scheduler_badge
from app.ui.text import DASH, origin_word, t

ROW_PX = 35  # st.dataframe's row height


def plain(value: str) -> str:
    """'15' for a whole number the loader kept as 15.0, '—' for nothing: never a raw None."""
    if value in {"", "None"}:
        return DASH
    return value[:-2] if value.endswith(".0") and value[:-2].lstrip("-").isdigit() else value


st.set_page_config(page_title="Settings · Freshdash", page_icon=resources.PAGE_ICON, layout="wide")
settings = resources.get_settings()
lang = settings.ui_language
st.title(t(lang, "settings.title"))
render_navigation(lang)
render_scheduler_badge()
if settings.fatal:  # the table below still shows every value, to help fix it
    st.error(t(lang, "settings.fatal", count=len(settings.fatal)), icon=":material/error:")
    for issue in settings.fatal:
        st.markdown(f"- **{issue.key}** = `{issue.value}`: {issue.message}")
    st.info(t(lang, "config_fix"), icon=":material/build:")
usable = False
if not settings.fatal:
    usable = render_freshness(show_errors=True)  # valid settings can still name a database that cannot be used
if settings.locked_reason:
    st.warning(t(lang, "admin.failclosed", reason=settings.locked_reason), icon=":material/lock:")
if settings.issues:
    st.error(t(lang, "settings.issues", count=len(settings.issues)), icon=":material/error:")
    for issue in settings.issues:
        st.markdown(f"- **{issue.key}** = `{issue.value}`: {issue.message}")
elif not catalogue.problems and not settings.fatal:
    if usable:
        st.success(t(lang, "settings.ok"), icon=":material/check_circle:")
    else:  # "every setting is valid" right under "the database is not usable" would read as a contradiction
        st.info(t(lang, "settings.db_bad"), icon=":material/database:")
render_catalogue_problems(lang)  # JOB_MODULES that failed to import, jobs left out for their dependencies
st.caption(t(lang, "settings.where"))
rows = [
    {name: origin_word(lang, value) if name == "origin" else plain(value) for name, value in row.items()}
    for row in effective_rows(settings)
]
st.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    height=ROW_PX * (len(rows) + 1) + 3,  # every key at once, no inner scrolling
    # Widths that fit key, value and the longest origin ("padrão (valor de ambiente recusado)") uncut in the
    # 820 px a wide page has at 1280 px; the default column follows by scrolling the table sideways.
    column_config={  # the key column fits the longest key (MANUAL_SYNC_COOLDOWN_SECONDS) uncut
        "key": st.column_config.TextColumn(t(lang, "col.key"), width=250),
        "value": st.column_config.TextColumn(t(lang, "col.value"), width=320),
        "origin": st.column_config.TextColumn(t(lang, "col.origin"), width=250),
        "default": st.column_config.TextColumn(t(lang, "col.default"), width="medium"),
    },
)
st.subheader(t(lang, "settings.datasets"))  # [datasets.NAME]: each dataset's keys, secrets masked
dataset_rows = settings_rows(lang, settings.datasets)
st.dataframe(  # every key at once; the key column fits max_age_minutes, leaving a 390 px phone the rest
    dataset_rows,
    hide_index=True,
    width="stretch",
    height=ROW_PX * (len(dataset_rows) + 1) + 3,
    column_config={"key": st.column_config.TextColumn(t(lang, "col.key"), width=140)},
)
if settings.reports:
    st.subheader(t(lang, "settings.reports"))
    st.dataframe(
        [{"report": r.name, "job": r.job, "dataset": r.dataset, "query": r.query} for r in settings.reports],
        hide_index=True,
        width="stretch",
    )
