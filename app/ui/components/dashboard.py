"""The analysts' view of the synced orders: KPIs, a revenue chart and a filterable table.

Queries are cached with st.cache_data keyed on the data version (the committed cursor), so a finished sync
refreshes exactly this and nothing re-queries on plain reruns. A rerun is what every session pays every few
seconds, so it does no per-run work that a cache can hold: the table arrives in local time, and the chart is a
plain Vega-Lite spec (building and validating an Altair chart cost more than the rest of the page).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from app.config import Settings
from app.dataset_config import DatasetConfig
from app.demo import orders
from app.errors import AppError
from app.ui import data
from app.ui.text import number, t

FIRST_DATA_POLL_SECONDS = 2


def _kpis(engine: Engine) -> dict[str, float]:
    return orders.kpis(engine, datetime.now(timezone.utc))


def _daily(engine: Engine) -> pd.DataFrame:
    return pd.DataFrame(orders.daily_revenue(engine))


def _recent(engine: Engine, regions: tuple[str, ...], statuses: tuple[str, ...], tz_name: str) -> pd.DataFrame:
    table = pd.DataFrame(orders.recent(engine, regions, statuses))
    return _local_times(table.drop(columns=["deleted"], errors="ignore"), tz_name)


def _chart_spec(lang: str) -> dict[str, Any]:
    """Revenue per day, stacked by region (what alt.Chart(...).mark_bar().encode(...) would produce)."""
    return {
        "mark": {"type": "bar"},
        "height": 280,
        "title": t(lang, "dash.chart"),
        "encoding": {
            "x": {"field": "day", "type": "temporal", "title": t(lang, "dash.day")},
            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum", "title": t(lang, "dash.revenue")},
            "color": {"field": "region", "type": "nominal", "title": t(lang, "dash.region")},
            "tooltip": [
                {"field": "day", "type": "temporal"},
                {"field": "region", "type": "nominal"},
                {"field": "revenue", "type": "quantitative", "format": ",.2f"},
            ],
        },
    }


def render_dashboard(dataset: str, data_version: int, language: str, tz_name: str = "UTC") -> None:
    """KPIs, chart and table of the demo's synced orders, read through the public data API (cached on the
    dataset's data version); times shown in `tz_name` (SCHEDULER_TIMEZONE)."""
    lang = language
    on = [dataset]
    if data_version == 0 or not data.compute(orders.has_orders, datasets=on):
        st.info(t(lang, "dash.empty"), icon=":material/hourglass:")
        _await_first_data(dataset, data_version)
        return
    k = data.compute(_kpis, datasets=on)
    cols = st.columns(4)
    cols[0].metric(
        t(lang, "dash.orders"), number(k["orders"], lang), t(lang, "dash.in_24h", value=number(k["orders_24h"], lang))
    )
    cols[1].metric(
        t(lang, "dash.revenue"),
        number(k["revenue"], lang),
        t(lang, "dash.in_24h", value=number(k["revenue_24h"], lang)),
    )
    cols[2].metric(t(lang, "dash.average"), number(k["average"], lang, decimals=2))
    cols[3].metric(t(lang, "dash.orders_24h"), number(k["orders_24h"], lang))
    daily = data.compute(_daily, datasets=on)
    if not daily.empty:
        st.vega_lite_chart(daily, _chart_spec(lang), width="stretch")
    options = data.compute(orders.choices, datasets=on)
    left, right = st.columns(2)
    regions = left.multiselect(t(lang, "dash.region"), options["regions"], key="fd_dash_regions")
    statuses = right.multiselect(t(lang, "dash.status"), options["statuses"], key="fd_dash_statuses")
    table = data.compute(_recent, tuple(regions), tuple(statuses), tz_name, datasets=on)
    st.caption(t(lang, "dash.latest", count=number(len(table), lang)))
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "amount": st.column_config.NumberColumn("amount (R$)", format="%.2f"),
            "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
            "updated_at": st.column_config.DatetimeColumn("updated", format="YYYY-MM-DD HH:mm"),
        },
    )


def _local_times(table: pd.DataFrame, tz_name: str) -> pd.DataFrame:
    """Synced times are UTC; show them in the same zone as "Data as of" so the two can be compared."""
    table = table.copy()
    for column in ("created_at", "updated_at"):
        if column in table:
            table[column] = pd.to_datetime(table[column], utc=True).dt.tz_convert(tz_name)
    return table


@st.fragment(run_every=FIRST_DATA_POLL_SECONDS)
def _await_first_data(dataset: str, shown_version: int) -> None:
    """Before the first sync commits, look every few seconds instead of waiting for the badge's slower beat."""
    try:
        version = data.freshness(dataset).data_version
    except AppError:
        return  # the page already said what is wrong
    if version != shown_version:
        st.rerun()


def demo_dataset(settings: Settings) -> DatasetConfig | None:
    """The dataset this dashboard shows: the demo source synced into the orders table, if configured."""
    return next((d for d in settings.datasets if d.source == "demo" and d.target == orders.DESTINATION_TABLE), None)
