"""The public data API for your own pages: read a dataset, run SQL over datasets, say how fresh one is.

Every result is a pandas DataFrame cached on the data versions of the datasets it reads (the committed
cursor of each dataset's sync): a finished sync refreshes exactly the caches that read that dataset, and
nothing else re-queries. A page in 20 lines::

    import streamlit as st
    from app.ui import data

    data.page("Events", datasets=["events"])           # title, navigation, live badge, Sync now
    data.render_freshness("events")                    # "events: data as of Dec 1 10:42 BRT (3 min ago)"
    events = data.read("events", where={"kind": "signup"}, limit=1000)
    st.dataframe(events)
    per_day = data.query(
        "SELECT date(created_at) AS day, count(*) AS n FROM events GROUP BY 1 ORDER BY 1",
        datasets=["events"],
    )
    st.bar_chart(per_day, x="day", y="n")

Names used here are dataset names (``[datasets.NAME]``); SQL uses their destination tables (by default the
same name).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from app.config import Settings
from app.core.database import get_engine
from app.core.records import JobStatus
from app.dataset_config import DatasetConfig
from app.errors import AppError, ConfigError
from app.sync import reader
from app.ui import resources
from app.ui.pace import Pace, Read
from app.ui.text import human_age, local_time, t

T = TypeVar("T")
PAGE_DATASETS_KEY = "fd_page_datasets"
__all__ = [
    "Freshness",
    "compute",
    "dataset",
    "datasets",
    "freshness",
    "info",
    "page",
    "query",
    "read",
    "render_freshness",
    "versions",
]


class UnknownDatasetError(ConfigError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"no dataset named {name!r}; configured: {', '.join(known) or '(none)'}")


@dataclass(frozen=True)
class Freshness:
    """How fresh one dataset is, from one status read; `level` is success / warning / error / info."""

    dataset: str
    as_of: str | None  # local time of the last successful sync ("Dec 1 10:42 BRT")
    age_seconds: float | None
    limit_seconds: float  # max_age_minutes, or 1.5 periods of its trigger
    level: str
    syncing: bool
    rows_so_far: int
    last_result: str | None
    last_error: str | None
    state: str
    next_run: str | None
    data_version: int


def datasets() -> tuple[DatasetConfig, ...]:
    """Every configured dataset, in configuration order."""
    return resources.get_settings().datasets


def dataset(name: str) -> DatasetConfig:
    found = {d.name: d for d in datasets()}
    if name not in found:
        raise UnknownDatasetError(name, found)
    return found[name]


def versions(names: Iterable[str] | None = None) -> tuple[int, ...]:
    """The data version of each named dataset (all when None): what the caches here are keyed on.

    While a run of a dataset is in progress every committed batch is a new version; pages move on to it at
    most every REREAD_DURING_SYNC_SECONDS, once their reads were made on it ahead of them (`paced`, see
    app.ui.pace), so that a page rerun during a long sync reads its caches instead of querying. Once the run
    ends the version is the committed one: a finished sync refreshes exactly what changed."""
    return _versions_of(_chosen(names))


def _chosen(names: Iterable[str] | None) -> list[DatasetConfig]:
    return [dataset(n) for n in names] if names is not None else list(datasets())


def _versions_of(chosen: Sequence[DatasetConfig]) -> tuple[int, ...]:
    found = [status_this_run(d.job) for d in chosen]
    settings = resources.get_settings()
    used = {str(s.job): paced(s, settings.reread_during_sync_seconds, settings.database_url) for s in found}
    shown(found, used)
    return tuple(used[str(s.job)] for s in found)


PACE = Pace()


def paced(status: JobStatus, every: float, store: str) -> int:
    """The version a page reads for this status: the committed one, except while a run is in progress."""
    return PACE.version(status, every, time.monotonic(), store)


def _cached(function: Callable[..., T], names: Sequence[str] | None, *args: Any) -> T:
    """`function(versions, *args)`: a cached read keyed on the versions of the datasets `names` (all when
    None), remembered so that the next version's copy is made ahead of the pages during a sync (app.ui.pace)."""
    chosen = _chosen(names)
    used = _versions_of(chosen)
    PACE.remember(resources.get_settings().database_url, Read(function, args, tuple(d.job for d in chosen), used))
    return function(used, *args)


def status_this_run(job: str) -> JobStatus:
    """The job's status, read once per script run (a page's cached reads each ask for the versions: the
    dashboard's five asked five times). A fragment's own rerun is a run of its own."""
    return resources.per_run(f"status:{job}", lambda: resources.get_scheduler().get_status(job))


def shown(found: Sequence[JobStatus], used: Mapping[str, int] | None = None) -> None:
    """What this page run draws: the data versions (`used` by job when they were paced, else the committed
    ones) and whether a run was in progress, so that the badge's beat redraws the page once a sync commits or
    ends instead of leaving old numbers beside a new badge."""
    from app.ui.components.scheduler_status import SYNCING_KEY, remember_versions

    remember_versions(dict(used) if used is not None else {str(s.job): int(s.data_version) for s in found})
    if any(s.current_run for s in found):
        st.session_state[SYNCING_KEY] = True


def freshness(name: str) -> Freshness:
    ds = dataset(name)
    status = status_this_run(ds.job)
    shown([status])
    return freshness_of(ds, status, resources.get_settings().ui_language)


def freshness_of(ds: DatasetConfig, status: JobStatus, language: str = "en") -> Freshness:
    """A Freshness from a status dict (pure: the badge and the Data page read one status and call this)."""
    period = float(status.interval_minutes) * 60.0
    limit = ds.max_age_minutes * 60.0 if ds.max_age_minutes else 1.5 * period
    age = status.data_age_seconds
    current = status.current_run
    if status.last_result in {"failed", "timeout", "abandoned"}:
        level = "error"
    elif age is None:
        level = "info"
    else:
        level = "success" if age <= limit else "warning" if age <= 2 * limit else "error"
    return Freshness(
        dataset=ds.name,
        as_of=local_time(status.last_success_at, status.timezone, with_date=True, language=language)
        if status.last_success_at
        else None,
        age_seconds=age,
        limit_seconds=limit,
        level=level,
        syncing=bool(current),
        rows_so_far=current.rows if current else 0,
        last_result=status.last_result,
        last_error=status.last_error,
        state=str(status.state),
        next_run=status.next_run,
        data_version=int(status.data_version),
    )


def render_freshness(name: str) -> Freshness:
    """One caption line: '<dataset>: data as of 10:42 (3 min ago)', in its freshness colour."""
    lang = resources.get_settings().ui_language
    fresh = freshness(name)
    if fresh.as_of is None:
        text = t(lang, "ds.none", name=name)
    else:
        text = t(lang, "ds.asof", name=name, at=fresh.as_of, age=human_age(fresh.age_seconds))
    colour = {"success": "green", "warning": "orange", "error": "red", "info": "gray"}[fresh.level]
    st.caption(f":{colour}[●] {text}")
    return fresh


def info(name: str) -> reader.TableInfo:
    """Row count, columns and types of the dataset's table (cached on its data version)."""
    ds = dataset(name)
    settings = resources.get_settings()
    return _cached(_info, [name], settings.database_url, ds.target)


def read(
    name: str,
    *,
    columns: Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    contains: str = "",
    limit: int | None = None,
    include_deleted: bool = False,
) -> pd.DataFrame:
    """The dataset's rows in key order: `where` keeps rows whose column equals a value (or is in a list),
    `contains` keeps rows where any text column contains the text; soft-deleted rows are left out unless
    `include_deleted`."""
    ds = dataset(name)
    settings = resources.get_settings()
    marked = "" if include_deleted else ds.soft_delete
    frozen_where = tuple(sorted((k, _freeze(v)) for k, v in (where or {}).items()))
    return _cached(
        _read,
        [name],
        settings.database_url,
        ds.target,
        tuple(columns or ()),
        frozen_where,
        contains,
        marked,
        limit,
    )


def query(sql: str, datasets: Sequence[str] | None = None, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A SELECT over the datasets' tables; cached on the versions of `datasets` (all datasets when None)."""
    settings = resources.get_settings()
    return _cached(_query, datasets, settings.database_url, sql, tuple(sorted((params or {}).items())))


def compute(func: Callable[..., T], *args: Any, datasets: Sequence[str]) -> T:
    """`func(engine, *args)` over the store, cached on the versions of `datasets` (e.g. a page's own queries)."""
    settings = resources.get_settings()
    name = f"{func.__module__}.{func.__qualname__}"  # the cache key names the function (it is not hashed)
    return _cached(_compute, datasets, func, name, settings.database_url, args)  # type: ignore[no-any-return]


def page(title: str, datasets: Sequence[str] | None = None, icon: str | None = None) -> Settings:
    """Page setup for a page of your own: config, title, navigation, the live badge and Sync now for
    `datasets` (all when None). Returns the settings."""
    from app.ui.components.navigation import render_navigation
    from app.ui.components.scheduler_status import render_scheduler_badge

    st.set_page_config(page_title=f"{title} · Freshdash", page_icon=icon or resources.PAGE_ICON, layout="wide")
    settings = resources.get_settings()
    st.session_state[PAGE_DATASETS_KEY] = tuple(datasets) if datasets is not None else None
    st.title(title)
    render_navigation(settings.ui_language)
    render_scheduler_badge()
    return settings


def page_datasets() -> tuple[DatasetConfig, ...]:
    """The datasets the current page reads (set by page()), or every dataset."""
    names = st.session_state.get(PAGE_DATASETS_KEY)
    every = datasets()
    if not names:
        return every
    return tuple(d for d in every if d.name in names) or every


# -- caches (keyed on the data versions) ---------------------------------------------------------------


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, set, frozenset)) else value


@st.cache_data(show_spinner=False, max_entries=64)
def _info(data_versions: tuple[int, ...], database_url: str, table: str) -> reader.TableInfo:
    return reader.describe(get_engine(database_url), table)


@st.cache_data(show_spinner=False, max_entries=64)
def _read(
    data_versions: tuple[int, ...],
    database_url: str,
    table: str,
    columns: tuple[str, ...],
    where: tuple[tuple[str, Any], ...],
    contains: str,
    marked: str,
    limit: int | None,
) -> pd.DataFrame:
    names, rows = reader.read_rows(
        get_engine(database_url),
        table,
        columns=columns or None,
        equals=dict(where),
        contains=contains,
        exclude_marked=marked,
        limit=limit,
    )
    return pd.DataFrame.from_records(rows, columns=names)


@st.cache_data(show_spinner=False, max_entries=64)
def _query(
    data_versions: tuple[int, ...], database_url: str, sql: str, params: tuple[tuple[str, Any], ...]
) -> pd.DataFrame:
    names, rows = reader.run_query(get_engine(database_url), sql, dict(params))
    return pd.DataFrame.from_records(rows, columns=names)


@st.cache_data(show_spinner=False, max_entries=64)
def _compute(
    data_versions: tuple[int, ...], _func: Callable[..., Any], name: str, database_url: str, args: tuple[Any, ...]
) -> Any:
    return _func(get_engine(database_url), *args)


def safe(call: Callable[[], T], default: T) -> tuple[T, str | None]:
    """Run a read; on an AppError return `default` and the message (pages show it instead of a traceback)."""
    try:
        return call(), None
    except AppError as exc:
        return default, str(exc)
