"""A page of your own on a dataset, using only the public data API (app/ui/data.py).

Copy it into pages/ (e.g. pages/3_Events.py) and name your dataset: it expects `[datasets.events]` with an
`updated_at` and a `kind` column; change the names to your table's.
"""

import streamlit as st

from app.ui import data

DATASET = "events"

data.page("Events", datasets=[DATASET])  # page config, title, navigation, live badge, Sync now
fresh = data.render_freshness(DATASET)  # "events: data as of 2026-12-01 10:42 (3 min ago)", coloured
if fresh.as_of is None:
    st.info("No events synced yet: the first sync starts by itself, or press Sync now in the sidebar.")
    st.stop()
kinds = data.query(
    f"SELECT kind, count(*) AS events FROM {data.dataset(DATASET).target} GROUP BY kind ORDER BY kind",
    datasets=[DATASET],
)
st.bar_chart(kinds, x="kind", y="events")
chosen = st.multiselect("Kind", kinds["kind"].tolist())
st.dataframe(data.read(DATASET, where={"kind": chosen} if chosen else None, limit=500), hide_index=True)
