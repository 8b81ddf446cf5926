"""The analysts' view of the synced orders: KPIs, a revenue chart and a filterable table.

Queries are cached with st.cache_data keyed on the data version (the committed cursor), so a finished sync
refreshes exactly this and nothing re-queries on plain reruns. A rerun is what every session pays every few
seconds, so it does no per-run work that a cache can hold: the table arrives in local time, and the chart is a
plain Vega-Lite spec (building and validating an Altair chart cost more than the rest of the page).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import DateTime, Engine, bindparam, func, select

from app.config import Settings
from app.core.records import JobStatus
from app.dataset_config import DatasetConfig
from app.demo import orders, summary
from app.errors import AppError
from app.ui import data
from app.ui.formats import vega_locale
from app.ui.text import STRINGS, number, status_word, t, zone_label

# Before the first rows: a poll after a commit starts reading them ahead (app/ui/pace.py), the next shows them.
FIRST_DATA_POLL_SECONDS = 1


def _where(days: Any, regions: tuple[str, ...], statuses: tuple[str, ...]) -> list[Any]:
    """The filters as conditions on a table with region and status columns."""
    found = []
    if regions:
        found.append(days.c.region.in_(regions))
    if statuses:
        found.append(days.c.status.in_(statuses))
    return found


def _kpis(engine: Engine, regions: tuple[str, ...] = (), statuses: tuple[str, ...] = ()) -> dict[str, float]:
    """orders.kpis, under the Region and Status filters (the daily summary has both columns)."""
    if not regions and not statuses:
        return orders.kpis(engine, datetime.now(timezone.utc))
    day_ago = bindparam("day_ago", (datetime.now(timezone.utc) - timedelta(days=1)).replace(tzinfo=None), DateTime())
    table = orders.orders
    with engine.connect() as conn:
        days = summary.daily if summary.exists(conn) else summary.aggregate(table).subquery("days")
        count, revenue = conn.execute(
            select(func.coalesce(func.sum(days.c.orders), 0), func.coalesce(func.sum(days.c.revenue), 0.0)).where(
                *_where(days, regions, statuses)
            )
        ).one()
        count_24h, revenue_24h = conn.execute(
            select(func.count(), func.coalesce(func.sum(table.c.amount), 0.0)).where(
                orders.live, table.c.created_at >= day_ago, *_where(table, regions, statuses)
            )
        ).one()
    count, revenue = int(count), float(revenue)
    return {
        "orders": count,
        "revenue": revenue,
        "average": revenue / count if count else 0.0,
        "orders_24h": int(count_24h),
        "revenue_24h": float(revenue_24h),
    }


def _daily(engine: Engine, regions: tuple[str, ...] = (), statuses: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pd.DataFrame(orders.daily_revenue(engine), columns=["day", "region", "revenue"])
    if not regions and not statuses:
        return frame
    with engine.connect() as conn:  # the same 30 days, filtered
        days = summary.daily if summary.exists(conn) else summary.aggregate(orders.orders).subquery("days")
        query = (
            select(days.c.day, days.c.region, func.sum(days.c.revenue).label("revenue"))
            .where(*_where(days, regions, statuses))
            .group_by(days.c.day, days.c.region)
            .order_by(days.c.day, days.c.region)
        )
        rows = [{**r, "day": str(r["day"])} for r in conn.execute(query).mappings()]
    shown = set(frame["day"])
    return pd.DataFrame([r for r in rows if r["day"] in shown], columns=["day", "region", "revenue"])


def _recent(
    engine: Engine, regions: tuple[str, ...], statuses: tuple[str, ...], tz_name: str, lang: str
) -> pd.DataFrame:
    """The latest updated orders as the table shows them: local times, status words and amounts in the
    language's format, no raw None (formatted once per data version, not on every rerun: 500 amounts through
    Babel were an eighth of a dashboard rerun)."""
    table = _local_times(pd.DataFrame(orders.recent(engine, regions, statuses)), tz_name)
    table = table.drop(columns=["deleted"], errors="ignore")
    if "status" in table:
        table = table.assign(status=table["status"].map(lambda s: _order_status(s, lang)))
    if "amount" in table:  # "1.980,90" in pt-BR like the KPIs (the grid would format for the browser's locale)
        table = table.assign(amount=table["amount"].map(lambda a: number(a, lang, 2)))
    return table.apply(lambda c: c.fillna("—") if c.dtype == object else c)  # never a raw None


def _chart_spec(lang: str) -> dict[str, Any]:
    """Revenue per day, stacked by region (what alt.Chart(...).mark_bar().encode(...) would produce), with the
    language's month and day names and number format (Vega's config.locale)."""
    return {
        "mark": {"type": "bar"},
        "height": 360,  # the plot and, below it, the legend
        "title": t(lang, "dash.chart"),
        "config": {"locale": vega_locale(lang)},
        "encoding": {
            "x": {
                "field": "day",
                "type": "temporal",
                "title": t(lang, "dash.day"),
                "axis": {"format": "%d %b", "labelAngle": 0, "labelOverlap": True},
            },
            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum", "title": t(lang, "dash.revenue")},
            "color": {
                "field": "region",
                "type": "nominal",
                "title": t(lang, "dash.region"),
                # below the bars: beside them it took a third of a phone's width (390 px)
                "legend": {"orient": "bottom", "direction": "horizontal", "columns": 3},
            },
            "tooltip": [
                {"field": "day", "type": "temporal", "title": t(lang, "dash.day"), "format": "%d %b %Y"},
                {"field": "region", "type": "nominal", "title": t(lang, "dash.region")},
                {"field": "revenue", "type": "quantitative", "format": ",.2f", "title": t(lang, "dash.revenue")},
            ],
        },
    }


def _choices(engine: Engine) -> dict[str, list[str]] | None:
    """The Region and Status filters' options; None before the first sync created the table."""
    return orders.choices(engine) if orders.has_orders(engine) else None


def _numbers(
    engine: Engine, regions: tuple[str, ...], statuses: tuple[str, ...], tz_name: str, lang: str
) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame] | None:
    """The KPIs, the chart's days and the latest orders under the filters; None before the table exists."""
    if not orders.has_orders(engine):
        return None
    return (
        _kpis(engine, regions, statuses),
        _daily(engine, regions, statuses),
        _recent(engine, regions, statuses, tz_name, lang),
    )


def render_dashboard(dataset: str, language: str, tz_name: str = "UTC", status: JobStatus | None = None) -> None:
    """KPIs, chart and table of the demo's synced orders, read through the public data API (cached on the
    dataset's data version); times shown in `tz_name` (SCHEDULER_TIMEZONE). Region and Status govern all three."""
    lang = language
    on = [dataset]
    (version,) = data.versions(on)
    options = data.compute(_choices, datasets=on)
    if version == 0 or options is None:
        # Made on no data too, so that the first data's copies are made ahead of the page (app/ui/pace.py): the
        # page then moves on to the first rows without waiting for its queries.
        data.compute(_numbers, (), (), tz_name, lang, datasets=on)
        st.info(_empty_message(status, lang), icon=":material/hourglass:")
        _await_first_data(dataset, version)
        return
    left, right = st.columns(2)
    regions = left.multiselect(
        t(lang, "dash.region"), options["regions"], key="fd_dash_regions", placeholder=t(lang, "dash.all")
    )
    statuses = right.multiselect(
        t(lang, "dash.status"),
        options["statuses"],
        key="fd_dash_statuses",
        placeholder=t(lang, "dash.all"),
        format_func=lambda s: _order_status(s, lang),
    )
    st.caption(t(lang, "dash.filters"))
    numbers = data.compute(_numbers, tuple(regions), tuple(statuses), tz_name, lang, datasets=on)
    if numbers is None:  # the table went away since the filters were read (a reset between two reads)
        st.info(_empty_message(status, lang), icon=":material/hourglass:")
        return
    k, daily, table = numbers
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
    if not daily.empty:
        st.vega_lite_chart(daily, _chart_spec(lang), width="stretch")
    st.caption(t(lang, "dash.latest", count=number(len(table), lang)))
    _orders_table(table, lang, tz_name)


def _orders_table(table: pd.DataFrame, lang: str, tz_name: str) -> None:
    """The table `_recent` made, with translated column labels and times in `tz_name`."""
    zone = zone_label(tz_name, datetime.now(timezone.utc), lang)
    stamp = "DD/MM/YYYY HH:mm" if lang == "pt-BR" else "YYYY-MM-DD HH:mm"
    labels = {
        "id": st.column_config.NumberColumn(t(lang, "col.order"), format="%d"),
        "customer": st.column_config.TextColumn(t(lang, "col.customer")),
        "region": st.column_config.TextColumn(t(lang, "col.region")),
        "status": st.column_config.TextColumn(t(lang, "col.status")),
        "amount": st.column_config.TextColumn(t(lang, "col.amount")),
        "created_at": st.column_config.DatetimeColumn(f"{t(lang, 'col.created')} ({zone})", format=stamp),
        "updated_at": st.column_config.DatetimeColumn(f"{t(lang, 'col.updated')} ({zone})", format=stamp),
    }
    for name in ("channel", "product", "quantity"):
        labels[name] = st.column_config.Column(t(lang, f"col.{name}"))
    # what an analyst reads first comes first: amount and status are never the columns cut off at 1280 px
    first = ["id", "status", "amount", "region", "customer", "product", "updated_at", "created_at"]
    order = [c for c in first if c in table] + [c for c in table.columns if c not in first]
    st.dataframe(table, hide_index=True, width="stretch", column_config=labels, column_order=order)


def _order_status(status: str, lang: str) -> str:
    key = f"dash.order_status.{status}"
    return t(lang, key) if key in STRINGS["en"] else status


def _empty_message(status: JobStatus | None, lang: str) -> str:
    """What an empty dashboard says agrees with the badge: failed, running, or on its way."""
    if status and status.current_run:
        return t(lang, "dash.syncing_empty")
    if status and status.last_result in {"failed", "timeout", "abandoned"}:
        return t(lang, "dash.failed_empty", error=status.last_error or status_word(lang, status.last_result))
    if status and status.state in {"silent", "stopped"}:  # no timer runs it: "starts by itself" would be untrue
        return t(lang, "dash.idle_empty")
    return t(lang, "dash.empty2")


def _local_times(table: pd.DataFrame, tz_name: str) -> pd.DataFrame:
    """Synced times are UTC; show them in the same zone as "Data as of" so the two can be compared: the wall
    clock of that zone, which the column header names. Not zone-aware values: pyarrow tries `import pytz` for
    each aware column every time Streamlit converts the table, and without pytz (pandas 3 dropped it) that
    failed import cost a page 30-70 ms in a running server (bench/pages_during_sync.py, cProfile)."""
    table = table.copy()
    for column in ("created_at", "updated_at"):
        if column in table:
            table[column] = pd.to_datetime(table[column], utc=True).dt.tz_convert(tz_name).dt.tz_localize(None)
    return table


@st.fragment(run_every=FIRST_DATA_POLL_SECONDS)
def _await_first_data(dataset: str, shown_version: int) -> None:
    """Before the first sync commits, look every few seconds instead of waiting for the badge's slower beat: for
    the version pages read (the first data, once it was read ahead of them; app/ui/pace.py)."""
    try:
        (version,) = data.versions([dataset])
    except AppError:
        return  # the page already said what is wrong
    if version != shown_version:
        st.rerun()


def demo_dataset(settings: Settings) -> DatasetConfig | None:
    """The dataset this dashboard shows: the demo source synced into the orders table, if configured."""
    return next((d for d in settings.datasets if d.source == "demo" and d.target == orders.DESTINATION_TABLE), None)
