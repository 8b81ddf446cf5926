"""Datasets in the UI: the sidebar's freshness lines and Sync now (every page), and the Data page (every
dataset with its freshness, table facts, last run, next slot, Sync now, and a filterable table to download).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import streamlit as st

from app.core.scheduler import SyncScheduler
from app.core.slots import cooldown_left
from app.dataset_config import DatasetConfig
from app.errors import AppError
from app.ui import data, resources
from app.ui.text import DASH, human_age, local_time, number, status_word, t, zone_label, zone_name

SIDEBAR_REQUESTS_KEY = "fd_sidebar_requests"
NOTICES_KEY = "fd_sync_notices"
FEW = 4  # up to this many datasets get a line each in the sidebar; more are summarised
TABLE_ROWS = 1000
LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2, "success": 3}
# A coloured text dot per level (U+25CF, in every common text font): an emoji dot is an empty box on a machine
# without an emoji font (most servers, many Linux desktops), and the icon font's "circle" is a hollow ring.
DOTS = {
    "success": ":green[●]",
    "warning": ":orange[●]",
    "error": ":red[●]",
    "info": ":blue[●]",
}


def settings_rows(lang: str, chosen: tuple[DatasetConfig, ...]) -> list[dict[str, str]]:
    """The Settings page's dataset table: one row per key as typed in `[datasets.NAME]`, one column per dataset
    (a dozen keys side by side ran past a 1280 px page), defaults explained in the UI's language, "—" for
    nothing."""
    columns = {}
    for ds in chosen:
        values = {"job": ds.job, **ds.shown()}
        if not ds.cursor:
            values["cursor"] = t(lang, "settings.ds_none_cursor")
        if not ds.trigger:
            values["trigger"] = t(lang, "settings.ds_default_trigger")
        if not ds.max_age_minutes:
            values["max_age_minutes"] = t(lang, "settings.ds_one_period")
        columns[ds.name] = values
    keys = next(iter(columns.values()), {})
    return [{"key": key, **{name: values[key] or DASH for name, values in columns.items()}} for key in keys]


def statuses(chosen: tuple[DatasetConfig, ...]) -> list[tuple[DatasetConfig, Any]]:
    """(dataset, status) for each dataset whose job exists, worst freshness first (read once per run)."""
    found = []
    for ds in chosen:
        try:
            found.append((ds, data.status_this_run(ds.job)))
        except AppError:
            continue  # a dataset left out of the catalogue (bad trigger): the Settings page says why
    return sorted(found, key=lambda pair: LEVEL_ORDER[data.freshness_of(pair[0], pair[1]).level])


def line(ds: DatasetConfig, status: Any, lang: str) -> tuple[str, str]:
    """(text, level) of one dataset in the badge: syncing, failed, fresh or old, asleep, paused."""
    fresh = data.freshness_of(ds, status, lang)
    age = t(lang, "data.none") if fresh.age_seconds is None else t(lang, "data.age", age=human_age(fresh.age_seconds))
    if fresh.syncing:  # rows are reported with the lease renewal: none yet says "syncing…", not "0 rows"
        if not fresh.rows_so_far:
            return t(lang, "ds.syncing_start", name=ds.name), "info"
        return t(lang, "ds.syncing", name=ds.name, rows=number(fresh.rows_so_far, lang)), "info"
    if fresh.last_result in {"failed", "timeout", "abandoned"}:
        return t(lang, "ds.failed", name=ds.name, data=age), "error"
    if fresh.state == "paused":
        return t(lang, "ds.paused", name=ds.name, data=age), "warning"
    return f"{ds.name} · {age}", fresh.level


def render_sidebar_datasets(scheduler: SyncScheduler, lang: str, pairs: list[tuple[DatasetConfig, Any]]) -> bool:
    """Every dataset's line (worst first; the worst and a count when there are many) and Sync now for the
    page's datasets; True when Sync now was pressed. `pairs` is the badge's own read (one read per beat)."""
    lines = [line(ds, status, lang) for ds, status in pairs]
    shown = lines if len(lines) <= FEW else lines[:1]
    for text, level in shown:
        st.markdown(f"{DOTS[level]} {text}")
    if len(lines) > FEW:
        fine = sum(1 for _, level in lines[1:] if level == "success")
        st.caption(t(lang, "ds.more", count=len(lines) - 1, fine=fine))
    chosen = data.page_datasets()
    label = t(lang, "sync_now") if len(chosen) == len(resources.get_settings().datasets) else t(lang, "ds.sync_page")
    if st.button(label, icon=":material/sync:", key="fd_sidebar_sync", width="stretch"):
        request_syncs(scheduler, chosen, lang)
        return True
    return False


def page_requests(every: tuple[DatasetConfig, ...]) -> tuple[DatasetConfig, ...]:
    chosen = data.page_datasets()
    return tuple(d for d in every if d in chosen) or every


def request_syncs(scheduler: SyncScheduler, chosen: tuple[DatasetConfig, ...], lang: str) -> None:
    """Sync now for each dataset (joining runs in progress); non-admins wait out the cooldown per dataset."""
    from app.ui.components.scheduler_status import is_admin, requester

    settings = resources.get_settings()
    admin = is_admin(settings)
    now = scheduler.clock.now()
    requested, waiting = [], []
    for ds in chosen:
        status = scheduler.get_status(ds.job)
        finished = status.last_finished_at
        last = datetime.fromisoformat(finished).astimezone(timezone.utc) if finished else None
        wait = cooldown_left(last, now, timedelta(seconds=settings.manual_sync_cooldown_seconds))
        if not admin and not status.current_run and wait > timedelta(0):
            waiting.append(t(lang, "ds.cooldown", name=ds.name, wait=human_age(wait.total_seconds())))
            continue
        handle = scheduler.run_now(ds.job, requested_by=requester())
        scheduler.drive_in_background(ds.job)
        requested.append(handle)
    st.session_state[SIDEBAR_REQUESTS_KEY] = requested
    notices = waiting + ([t(lang, "ds.requested", count=len(requested))] if requested else [])
    st.session_state[NOTICES_KEY] = [*st.session_state.get(NOTICES_KEY, []), *notices]


def notify(message: str) -> None:
    """A toast for the next page run (one shown before st.rerun() would be lost)."""
    st.session_state[NOTICES_KEY] = [*st.session_state.get(NOTICES_KEY, []), message]


def show_notices() -> None:
    """Toasts queued by a Sync now (a fragment's toast would be lost in the rerun that follows it)."""
    for message in st.session_state.pop(NOTICES_KEY, []):
        st.toast(message)


def follow(handle: Any) -> None:
    """Show a run's progress in the sidebar (the badge follows this session's requests to their end)."""
    st.session_state[SIDEBAR_REQUESTS_KEY] = [*pending_requests(), handle]


def pending_requests() -> list[Any]:
    return list(st.session_state.get(SIDEBAR_REQUESTS_KEY) or [])


def requests_done() -> bool:
    """Whether every Sync now of this session has ended (its run finished), clearing them when so."""
    handles = pending_requests()
    if handles and all(h.done() for h in handles):
        st.session_state[SIDEBAR_REQUESTS_KEY] = []
        return True
    return not handles


# -- the Data page ------------------------------------------------------------------------------------


def render_data_page() -> None:
    settings = resources.get_settings()
    lang = settings.ui_language
    try:
        scheduler = resources.get_scheduler()
        pairs = {ds.name: status for ds, status in statuses(settings.datasets)}
        data.shown(list(pairs.values()))  # the badge redraws the page when one of these moves on
    except AppError as exc:
        st.error(t(lang, "db_error", error=str(exc)))
        return
    st.caption(t(lang, "ds.intro", count=len(settings.datasets), zone=zone_name(settings.scheduler_timezone, lang)))
    for ds in settings.datasets:
        status = pairs.get(ds.name)
        with st.container(border=True):
            if status is None:
                st.subheader(ds.name)
                st.warning(t(lang, "ds.left_out"))
                continue
            _dataset_card(scheduler, ds, status, lang)
    show_notices()


def _dataset_card(scheduler: SyncScheduler, ds: DatasetConfig, status: Any, lang: str) -> None:
    fresh = data.freshness_of(ds, status, lang)
    text, level = line(ds, status, lang)
    head, button = st.columns([3, 1], vertical_alignment="center")
    head.subheader(ds.name)
    if button.button(t(lang, "sync_now"), key=f"fd_data_sync_{ds.name}", icon=":material/sync:", width="stretch"):
        request_syncs(scheduler, (ds,), lang)
    colour = {"success": "green", "warning": "orange", "error": "red", "info": "blue"}[level]
    if fresh.as_of is None:
        said = t(lang, "ds.none", name=ds.name)
    else:
        said = t(lang, "ds.asof", name=ds.name, at=fresh.as_of, age=human_age(fresh.age_seconds))
    state = text.removeprefix(f"{ds.name} · ")
    extra = "" if state == text or fresh.level == "success" and not fresh.syncing else f" · **{state}**"
    st.markdown(f":{colour}-badge[{said}]{extra}")  # the freshness colour on the words themselves
    info, error = data.safe(lambda: data.info(ds.name), None)
    cols = st.columns(4)
    cols[0].metric(t(lang, "ds.rows"), number(info.rows, lang) if info and info.exists else "—")
    now = scheduler.clock.now()
    last = local_time(status.last_run, status.timezone, True, lang, now, show_zone=False)
    result = status_word(lang, status.last_result)
    cols[1].metric(
        f"{t(lang, 'last_run')} ({zone_label(status.timezone, now, lang)})",
        last,
        help=t(lang, "ds.result", result=result),
    )
    cols[2].metric(
        f"{t(lang, 'next_run')} ({zone_label(status.timezone, now, lang)})",
        local_time(status.next_run, status.timezone, True, lang, now, show_zone=False),
    )
    cols[3].metric(t(lang, "ds.limit"), human_age(fresh.limit_seconds))
    st.caption(t(lang, "ds.source", where=_origin(ds), table=ds.target, job=ds.job))
    if fresh.last_result in {"failed", "timeout", "abandoned"} and fresh.last_error:
        st.error(t(lang, "failed", error=fresh.last_error))
    if error:
        st.error(error)
    if info is None or not info.exists:
        st.info(t(lang, "ds.not_yet"))
        return
    with st.expander(t(lang, "ds.columns", count=len(info.columns))):
        st.dataframe(
            pd.DataFrame(
                [
                    {t(lang, "col.column"): c.name, t(lang, "col.type"): c.type, t(lang, "col.key"): "✓" * c.key}
                    for c in info.columns
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    if st.toggle(t(lang, "ds.show_rows"), key=f"fd_data_show_{ds.name}"):
        _rows(ds, lang)


def _origin(ds: DatasetConfig) -> str:
    if ds.source == "sql":
        return f"{ds.source_table} @ {ds.where()}"
    return ds.where()


def _rows(ds: DatasetConfig, lang: str) -> None:
    """A lazily loaded, filterable table with CSV and Excel downloads of what it shows."""
    contains = st.text_input(t(lang, "ds.filter"), key=f"fd_data_filter_{ds.name}")
    table, error = data.safe(lambda: data.read(ds.name, contains=contains.strip(), limit=TABLE_ROWS), pd.DataFrame())
    if error:
        st.error(error)
        return
    st.caption(t(lang, "ds.shown", count=number(len(table), lang), limit=number(TABLE_ROWS, lang)))
    st.dataframe(table, hide_index=True, width="stretch")
    left, right = st.columns(2)
    left.download_button(
        "CSV",
        table.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"{ds.name}.csv",
        mime="text/csv",
        key=f"fd_data_csv_{ds.name}",
        icon=":material/download:",
    )
    right.download_button(
        "Excel",
        _excel(table),
        file_name=f"{ds.name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"fd_data_xlsx_{ds.name}",
        icon=":material/download:",
    )


def _excel(table: pd.DataFrame) -> bytes:
    """An .xlsx of the table; time zones dropped (Excel has none) after converting to UTC."""
    out = table.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
        elif out[column].dtype == object:
            out[column] = out[column].map(lambda v: v if v is None or isinstance(v, (str, int, float)) else str(v))
    buffer = io.BytesIO()
    out.to_excel(buffer, index=False, sheet_name="data")
    return buffer.getvalue()
