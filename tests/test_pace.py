"""While a run is in progress pages stay on the data version they read and move on once the newer version's
caches are made ahead of them, off the request path (app/ui/pace.py; issue 14 item 2: a page rerun during a
sync must not wait for the store). A finished run is read at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from app.config import Settings, load_settings
from app.core.records import JobStatus
from app.ui import data
from app.ui.pace import Pace, Read
from tests.support import status_of

JOB = "incremental_sync"


def running(version: int, run: bool = True) -> JobStatus:
    return status_of(data_version=version, current_run={"rows": 5000 * version} if run else None)


def test_during_a_run_pages_move_on_once_a_newer_version_is_read_ahead_at_most_every_few_seconds() -> None:
    warms: list[Callable[[], None]] = []
    pace = Pace(start=warms.append)
    assert pace.version(running(3, run=False), 5.0, now=90.0) == 3
    assert pace.version(running(4), 5.0, now=101.0) == 3  # 11 s since pages moved: version 4 is read ahead ...
    assert len(warms) == 1
    assert pace.version(running(5), 5.0, now=101.5) == 3 and len(warms) == 1  # ... one read ahead at a time
    warms.pop()()
    assert pace.version(running(6), 5.0, now=102.0) == 4  # ... and pages move on to what was read
    assert pace.version(running(9), 5.0, now=106.9) == 4 and warms == []  # then stay there for 5 s
    assert pace.version(running(10), 5.0, now=107.0) == 4 and len(warms) == 1
    warms.pop()()
    assert pace.version(running(11), 5.0, now=107.2) == 10
    assert pace.version(running(11, run=False), 5.0, now=107.3) == 11  # the run ended: the committed version
    assert pace.version(running(12), 0.0, now=107.4) == 12  # 0: every commit, nothing read ahead
    assert pace.version(running(13), 5.0, now=107.5, store="b") == 13  # another store's job of the same name
    assert pace.version(running(14), 5.0, now=107.6) == 12 and pace.version(running(2), 5.0, now=107.7) == 2
    assert warms == []


def test_the_first_data_is_read_ahead_at_once() -> None:
    """Pages that hold no data yet (version 0) do not wait REREAD_DURING_SYNC_SECONDS for the first rows."""
    warms: list[Callable[[], None]] = []
    pace = Pace(start=warms.append)
    assert pace.version(running(0), 5.0, now=10.0) == 0
    assert pace.version(running(1), 5.0, now=10.5) == 0 and len(warms) == 1
    warms.pop()()
    assert pace.version(running(2), 5.0, now=10.6) == 1
    assert pace.version(running(3), 5.0, now=11.0) == 1 and warms == []  # then at the usual pace


def test_reading_ahead_makes_the_reads_pages_made_keyed_on_the_newer_version() -> None:
    made: list[tuple[tuple[int, ...], tuple[Any, ...]]] = []

    def read(versions: tuple[int, ...], *args: Any) -> None:
        made.append((versions, args))

    warms: list[Callable[[], None]] = []
    pace = Pace(start=warms.append)
    assert pace.version(running(3, run=False), 5.0, now=0.0) == 3
    pace.remember("", Read(read, ("kpis", ("North",)), (JOB, "events"), (3, 7)))  # over two datasets
    pace.remember("", Read(read, ("recent",), (JOB,), (3,)))
    pace.remember("", Read(read, ("kpis", ("North",)), (JOB, "events"), (3, 7)))  # again: made once
    pace.remember("", Read(read, ("older",), (JOB,), (2,)))  # not what pages read now
    pace.remember("", Read(read, (["a list"],), (JOB,), (3,)))  # cannot be a cache key: left to the page
    pace.remember("elsewhere", Read(read, ("other store",), (JOB,), (3,)))
    assert pace.version(running(8), 5.0, now=10.0) == 3
    assert made == []  # nothing is read on the page's own run
    warms.pop()()
    assert made == [((8,), ("recent",)), ((8, 7), ("kpis", ("North",)))]  # the newest job's version only
    assert pace.version(running(9), 5.0, now=10.1) == 8


def test_a_read_ahead_that_fails_lets_pages_move_on_and_make_the_read_themselves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(versions: tuple[int, ...]) -> None:
        raise RuntimeError("relation orders_daily does not exist")

    warms: list[Callable[[], None]] = []
    pace = Pace(start=warms.append)
    pace.version(running(1, run=False), 5.0, now=0.0)
    pace.remember("", Read(broken, (), (JOB,), (1,)))
    assert pace.version(running(2), 5.0, now=6.0) == 1
    with caplog.at_level(logging.WARNING, logger="app.ui.pace"):
        warms.pop()()
    assert "orders_daily does not exist" in caplog.text
    assert pace.version(running(2), 5.0, now=6.1) == 2


def test_a_read_ahead_that_ends_after_the_run_is_not_adopted_over_the_final_version() -> None:
    warms: list[Callable[[], None]] = []
    pace = Pace(start=warms.append)
    pace.version(running(1, run=False), 5.0, now=0.0)
    assert pace.version(running(2), 5.0, now=6.0) == 1
    assert pace.version(running(5, run=False), 5.0, now=6.5) == 5  # the run ended while version 2 was read
    warms.pop()()
    assert pace.version(running(6), 5.0, now=6.6) == 5  # a new run: 5 stays, not the stale read-ahead of 2


CALLS: list[str] = []


def count_rows(engine: Engine, table: str) -> int:
    """A page's own cached read (data.compute): counts the times it is made."""
    CALLS.append(table)
    return len(CALLS)


@dataclass
class Store:
    """The data API on a real SQLite store, its job's status and the clock set by the test, its read-aheads
    run when the test runs them (`warms`)."""

    url: str
    settings: Settings
    warms: list[Callable[[], None]]
    current: list[JobStatus]
    now: list[float]


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'fd.db'}"
    found = Store(url, load_settings({"REREAD_DURING_SYNC_SECONDS": 5, "DATABASE_URL": url}), [], [running(0)], [50.0])
    monkeypatch.setattr(data, "PACE", Pace(start=found.warms.append))
    monkeypatch.setattr(data.time, "monotonic", lambda: found.now[0])
    monkeypatch.setattr(data, "status_this_run", lambda job: found.current[0])
    monkeypatch.setattr(data, "shown", lambda found, used=None: None)
    monkeypatch.setattr(data.resources, "get_settings", lambda: found.settings)
    return found


def test_a_page_rerun_during_a_sync_reads_its_cache_while_the_next_version_is_read_ahead(store: Store) -> None:
    """Through the public data API and its st.cache_data caches: while a run commits, `data.compute` answers
    from the cache of the version pages read; the newer version's read is made by the read-ahead (here, when
    the test runs it), and the page's next run finds it cached. A finished run's version is read at once."""
    warms, now, current = store.warms, store.now, store.current
    current[0] = running(1, run=False)
    name = store.settings.datasets[0].name
    CALLS.clear()

    def page() -> int:
        return data.compute(count_rows, "orders", datasets=[name])

    assert page() == 1 and len(CALLS) == 1
    current[0], now[0] = running(2), 52.0
    assert page() == 1 and len(CALLS) == 1 and warms == []  # held: no query, nothing read ahead yet
    now[0] = 56.0
    assert page() == 1 and len(CALLS) == 1 and len(warms) == 1  # the page still reads its cache ...
    warms.pop()()
    assert len(CALLS) == 2  # ... while version 2 is read ahead
    current[0], now[0] = running(3), 56.1
    assert page() == 2 and len(CALLS) == 2  # the page moved on without making the read
    current[0], now[0] = running(4, run=False), 56.2
    assert page() == 3 and len(CALLS) == 3  # the run ended: its data is read at once


def dashboard_page() -> None:
    from app.ui.components.dashboard import render_dashboard

    render_dashboard("orders", "en", "UTC")


def test_the_dashboard_moves_on_to_its_first_rows_without_a_query_on_the_page_run(store: Store) -> None:
    """The orders dashboard during a first load, on a real SQLite store: on no data it makes its reads too, so
    that the first rows' copies are made ahead of it; the page run that then shows the first rows sends no
    statement to the store."""
    from sqlalchemy import event, text
    from streamlit.testing.v1 import AppTest

    from app.core.database import get_engine

    warms, current = store.warms, store.current
    engine = get_engine(store.url)
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    at = AppTest.from_function(dashboard_page, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.info and not at.metric  # no data yet
    with engine.begin() as conn:  # the run's first batch commits
        conn.execute(
            text(
                "CREATE TABLE orders (id INTEGER PRIMARY KEY, created_at TIMESTAMP, updated_at TIMESTAMP, "
                "customer TEXT, region TEXT, channel TEXT, product TEXT, quantity INTEGER, amount NUMERIC, "
                "status TEXT, deleted INTEGER)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO orders VALUES (1, '2026-12-06 10:00:00', '2026-12-06 10:05:00', 'Ana', 'Sul', 'web', "
                "'Café', 2, 19.90, 'paid', 0), (2, '2026-12-05 09:00:00', '2026-12-06 11:00:00', 'Bo', 'Norte', "
                "'app', 'Chá', 1, 5.50, 'cancelled', 0)"
            )
        )
    current[0] = running(1)
    sent.clear()
    at.run()
    assert at.info and not at.metric and sent == []  # still no data shown; the page read nothing ...
    assert len(warms) == 1
    warms.pop()()  # ... while the first rows are read ahead
    assert sent, "the read-ahead made the dashboard's reads"
    sent.clear()
    current[0] = running(2)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Orders"] == "2"
    assert len(at.dataframe[0].value) == 2
    assert sent == [], f"the page run that showed the first rows queried the store: {sent}"
