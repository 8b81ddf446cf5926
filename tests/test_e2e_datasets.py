"""Datasets in a real browser: the Data page and a page of the user's own (examples/events_page.py) on a
dataset shaped nothing like orders, Sync now from the sidebar, every page in both languages at 1280 and 390 px.

Screenshots land in artifacts/ for a human look."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from tests.browser_support import clean_env, streamlit_process
from tests.test_datasets import events_source
from tests.test_e2e_browser import (  # noqa: F401 - fixtures
    ARTIFACTS,
    BASE_ENV,
    SECOND,
    Server,
    assert_no_exception,
    browser,
    metric,
    new_page,
    open_page,
    wait_idle,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RAW = re.compile(r"\b(None|NaN|NaT|nan)\b")


def events_server(folder: Path, script: str = "streamlit_app.py", **settings: str) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{folder / 'fd.db'}"
    env = clean_env(
        {
            **BASE_ENV,
            "DATABASE_URL": database_url,
            "DATASETS__EVENTS__URL": events_source(folder / "events.db"),
            "DATASETS__EVENTS__KEY": "tenant,code",
            "DATASETS__EVENTS__CURSOR": "updated_at",
            "DATASETS__EVENTS__TRIGGER": "every 1h",
            **settings,
        }
    )
    return _server(script, env, folder, database_url)


class _server:  # noqa: N801 - a context manager used like streamlit_server()
    def __init__(self, script: str, env: dict[str, str], folder: Path, database_url: str) -> None:
        self.args = (script, env, folder / "server.log")
        self.database_url = database_url
        self._cm: Any = None

    def __enter__(self) -> Server:
        self._cm = streamlit_process(*self.args)
        process, url = self._cm.__enter__()
        return Server(url, create_engine(self.database_url), process, self.args[2])

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


@pytest.fixture(scope="module")
def data_server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    with events_server(tmp_path_factory.mktemp("e2e-datasets")) as running:
        yield running


def shoot(page: Any, name: str, width: int) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    wait_idle(page)
    path = ARTIFACTS / f"{name}_{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_data_page_shows_the_dataset_and_sync_now_updates_it(
    data_server: Server,
    new_page: Callable[[], Any],  # noqa: F811
) -> None:
    page = new_page()
    open_page(page, data_server, "Data")
    metric(page, "Rows").first.wait_for(timeout=45 * SECOND)
    wait_until(lambda: metric(page, "Rows").first.inner_text() == "40", "40 rows on the card", 45, data_server)
    as_of = re.compile(r"events: data as of .*\d\d:\d\d")
    main = page.locator('[data-testid="stMain"]')
    wait_until(lambda: as_of.search(main.inner_text()), "the card's 'as of' once the run ended", 30, data_server)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text(re.compile(r"^Auto-sync on · data")).wait_for()  # one dataset: the badge is its line
    assert_no_exception(page)
    runs_before = len(data_server.runs())
    conn = sqlite3.connect(data_server.engine.url.database.replace("fd.db", "events.db"))
    conn.execute("INSERT INTO events VALUES ('acme', 999, 'signup', NULL, 1.5, 'new', '2026-11-30 12:00:00')")
    conn.commit()
    conn.close()
    sidebar.get_by_role("button", name="Sync now").click()
    wait_until(lambda: len(data_server.runs()) > runs_before, "the requested run", 20, data_server)
    # the caption, the sidebar line and the row count move together, without a reload
    wait_until(lambda: metric(page, "Rows").first.inner_text() == "41", "the new row on the page", 30, data_server)
    assert data_server.runs()[-1]["reason"] == "manual"
    page.get_by_text("Show rows").click()
    page.locator('[data-testid="stDataFrame"] >> visible=true').first.wait_for()
    assert_no_exception(page)
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert not RAW.search(text), RAW.search(text)


@pytest.mark.parametrize("language", ["en", "pt-BR"])
@pytest.mark.parametrize("width", [1280, 390])
def test_every_dataset_page_renders_in_both_languages_and_widths(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    new_page: Callable[[], Any],  # noqa: F811
    language: str,
    width: int,
) -> None:
    with events_server(tmp_path / "pages", UI_LANGUAGE=language) as server:
        page = new_page()
        for path, name in (("", "home"), ("Data", "data"), ("Scheduler", "scheduler"), ("Settings", "settings")):
            open_page(page, server, path)
            if name in {"home", "data"}:  # the dataset's card: its row count once the first sync is in
                label = "Rows" if language == "en" else "Linhas"
                wait_until(lambda label=label: metric(page, label).first.inner_text() == "40", "the rows", 45, server)
            assert_no_exception(page)
            shoot(page, f"datasets_{name}_{language}", width)


def test_a_page_of_ones_own_on_the_public_api_in_the_browser(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    new_page: Callable[[], Any],  # noqa: F811
) -> None:
    with events_server(tmp_path / "own", script="examples/events_page.py") as server:
        page = new_page()
        open_page(page, server)
        assert page.locator("h1").first.inner_text() == "Events"
        page.get_by_text(re.compile(r"events: data as of")).first.wait_for(timeout=45 * SECOND)
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        page.locator('[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"]').first.wait_for()
        assert_no_exception(page)
        shoot(page, "own_page_events", 1280)


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_a_dataset_shaped_unlike_orders_shows_no_raw_value_cut_label_or_english_in_pt_br(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    new_page: Callable[[], Any],  # noqa: F811
    language: str,
) -> None:
    """The events dataset (NULLs, composite key) on every page at 1280 and 390 px, with its rows shown."""
    from tests.test_e2e_browser import check_page
    from tests.test_e2e_browser import shoot as shoot_whole

    with events_server(tmp_path / "sweep", UI_LANGUAGE=language) as server:
        page = new_page()
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for path, name in (("", "home"), ("Data", "data"), ("Scheduler", "scheduler"), ("Settings", "settings")):
                open_page(page, server, path)
                if name in {"home", "data"}:
                    page.get_by_text(re.compile(r"^events: ")).first.wait_for(timeout=45 * SECOND)
                if name == "data":
                    page.get_by_text("Mostrar linhas" if language == "pt-BR" else "Show rows").click()
                    page.locator('[data-testid="stDataFrame"]:visible').first.wait_for()
                wait_idle(page)
                check_page(page, language)
                shoot_whole(page, f"events_{name}_{language}", width)
