"""The analysts' view of the synced orders: KPIs, a revenue chart and a filterable table.

Queries are cached with st.cache_data keyed on the data version (the committed cursor), so a finished sync
refreshes exactly this and nothing re-queries on plain reruns.
"""

from __future__ import annotations

from datetime import datetime, timezone

import altair as alt
import pandas as pd
import streamlit as st

from app.core.database import get_engine
from app.sync import orders
from app.ui.text import number


@st.cache_data(show_spinner=False, max_entries=8)
def _kpis(database_url: str, data_version: int) -> dict[str, float]:
    return orders.kpis(get_engine(database_url), datetime.now(timezone.utc))


@st.cache_data(show_spinner=False, max_entries=8)
def _daily(database_url: str, data_version: int) -> pd.DataFrame:
    return pd.DataFrame(orders.daily_revenue(get_engine(database_url)))


@st.cache_data(show_spinner=False, max_entries=32)
def _recent(database_url: str, data_version: int, regions: tuple[str, ...], statuses: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(orders.recent(get_engine(database_url), regions, statuses))


@st.cache_data(show_spinner=False, max_entries=8)
def _choices(database_url: str, data_version: int) -> dict[str, list[str]]:
    return orders.choices(get_engine(database_url))


def render_dashboard(database_url: str, data_version: int, language: str) -> None:
    if data_version == 0 or not orders.has_orders(get_engine(database_url)):
        st.info(
            "The first sync is on its way: the page fills in as soon as it commits.",
            icon=":material/hourglass:",
        )
        return
    k = _kpis(database_url, data_version)
    cols = st.columns(4)
    cols[0].metric("Orders", number(k["orders"], language), f"+{number(k['orders_24h'], language)} in 24 h")
    cols[1].metric("Revenue (R$)", number(k["revenue"], language), f"+{number(k['revenue_24h'], language)} in 24 h")
    cols[2].metric("Average order (R$)", f"{k['average']:,.2f}")
    cols[3].metric("Orders, last 24 h", number(k["orders_24h"], language))
    daily = _daily(database_url, data_version)
    if not daily.empty:
        chart = (
            alt.Chart(daily)
            .mark_bar()
            .encode(
                x=alt.X("day:T", title="Day"),
                y=alt.Y("sum(revenue):Q", title="Revenue (R$)"),
                color=alt.Color("region:N", title="Region"),
                tooltip=["day:T", "region:N", alt.Tooltip("revenue:Q", format=",.2f")],
            )
            .properties(height=280, title="Daily revenue by region")
        )
        st.altair_chart(chart, width="stretch")
    options = _choices(database_url, data_version)
    left, right = st.columns(2)
    regions = left.multiselect("Region", options["regions"], key="fd_dash_regions")
    statuses = right.multiselect("Status", options["statuses"], key="fd_dash_statuses")
    table = _recent(database_url, data_version, tuple(regions), tuple(statuses))
    st.caption(f"Latest {len(table):,} updated orders")
    st.dataframe(
        table.drop(columns=["deleted"], errors="ignore"),
        hide_index=True,
        width="stretch",
        column_config={"amount": st.column_config.NumberColumn("amount (R$)", format="%.2f")},
    )
