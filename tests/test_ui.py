"""Every page and component under streamlit.testing.v1.AppTest, each test on its own SQLite file and demo source.

AppTest has no real runtime: fragments run once per script run (no timers), there is no browser and no
session count. tests/test_e2e_browser.py covers those with a real server and chromium.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from app.config import PARSERS, SECRET_KEYS, load_settings
from app.core import process_registry
from app.core.records import JobStatus
from app.core.scheduler import SyncScheduler
from app.ui import resources
from app.ui.components.autorefresh import refresh_minutes
from app.ui.components.scheduler_status import badge_state
from tests.support import status_of, wait_until

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "dashboard": ROOT / "streamlit_app.py",
    "scheduler": ROOT / "pages" / "1_Scheduler.py",
    "settings": ROOT / "pages" / "2_Settings.py",
}
TIMEOUT = 30
ADMIN_BUTTONS = ("fd_start", "fd_stop", "fd_restart", "fd_reset")
Configure = Callable[..., None]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Configure:
    """Point the app at this test's own database and demo source; `configure(KEY=value)` sets more."""
    for key in PARSERS:  # a developer's shell must not leak into the app
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fd.db'}")
    monkeypatch.setenv("DEMO_SOURCE_PATH", str(tmp_path / "demo.db"))

    def set_values(**values: object) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, str(value))

    return set_values


# -- helpers ----------------------------------------------------------------------------------------------


def page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES[name]), default_timeout=TIMEOUT)


def render(name: str) -> AppTest:
    at = page(name)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _nodes(node: Any) -> Iterator[Any]:
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _nodes(child)


def rendered_bytes(at: AppTest) -> bytes:
    """Every rendered element's protobuf, dataframes' Arrow data and toasts included.

    AppTest has no public accessor for the whole tree (main, sidebar and event containers), hence `_tree`.
    """
    return b"\n".join(n.proto.SerializeToString() for n in _nodes(at._tree) if getattr(n, "proto", None))


def rendered_text(at: AppTest) -> str:
    return rendered_bytes(at).decode("utf-8", errors="ignore")


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    return wait_until(predicate, what, timeout, every=0.1)


def scheduler() -> SyncScheduler:
    current = process_registry.current()
    assert current is not None, "no scheduler was created by the page"
    return current


def wait_for_first_sync() -> dict[str, Any]:
    def synced() -> dict[str, Any] | None:
        status = scheduler().get_status()
        return status if status.data_version > 0 and not status.current_run else None

    return wait_for(synced, "the first sync to commit")


def manual_runs() -> list[dict[str, Any]]:
    return [r for r in scheduler().history(limit=100) if r.reason == "manual"]


def toasts(at: AppTest) -> list[str]:
    return [str(toast.value) for toast in at.toast]


def aps_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "APScheduler" and t.is_alive()]


# -- every page renders --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_renders_with_no_configuration(configure: Configure, name: str) -> None:
    at = render(name)
    assert at.title, "every page has a title"
    badge = [e.value for e in (*at.sidebar.success, *at.sidebar.info, *at.sidebar.warning, *at.sidebar.error)]
    badge += [box.label for box in at.sidebar.expander]  # a run in progress: the spinner box alone
    assert any("Auto-sync" in str(shown) or "Syncing" in str(shown) for shown in badge), badge
    assert not at.error, [e.value for e in at.error]


def test_dashboard_shows_orders_after_the_first_sync(configure: Configure) -> None:
    at = render("dashboard")
    wait_for_first_sync()
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Orders"].replace(",", "")) >= 3000  # the demo source is seeded with 30 days of orders
    assert float(metrics["Average order (R$)"].replace(",", "")) > 0
    assert at.dataframe and len(at.dataframe[0].value) > 0
    assert any(str(c.value).startswith("Data as of") for c in at.caption)
    assert [b.value for b in at.sidebar.success] and "Auto-sync on · data" in at.sidebar.success[0].value


# -- bad input, secrets ----------------------------------------------------------------------------------------

BAD_VALUES = {
    "SYNC_INTERVAL_MINUTES": "abc",
    "SCHEDULER_TIMEZONE": "Mars/Base",
    "UI_LANGUAGE": "fr",
    "ENABLE_AUTOREFRESH_FALLBACK": "maybe",
    "RUN_MAX_RETRIES": "-1",
    "SYNC_SOURCE": "ftp",
}


def test_settings_page_lists_every_config_error_and_every_page_still_renders(configure: Configure) -> None:
    configure(**BAD_VALUES)
    settings = render("settings")
    assert settings.error[0].value.startswith(f"{len(BAD_VALUES)} setting(s) could not be used")
    explained = "\n".join(str(m.value) for m in settings.markdown)
    for key, value in BAD_VALUES.items():
        assert f"**{key}** = `{value!r}`" in explained, key
        assert "using the default" in explained
    assert not settings.success
    dashboard = render("dashboard")
    assert "Some settings were ignored" in dashboard.warning[0].value
    render("scheduler")


SECRET_SAMPLES = {  # key -> (value, the part that must never be shown)
    "ADMIN_PASSWORD": ("Adm1n-Pa55-word", "Adm1n-Pa55-word"),
    "SOURCE_URL": ("postgresql+psycopg://reader:S0urce-Pa55@db.example.com/shop", "S0urce-Pa55"),
    "SOURCE_ENDPOINT": ("https://api:Endp0int-Pa55@api.example.com/orders", "Endp0int-Pa55"),
    "SOURCE_TOKEN": ("T0ken-Secr3t-value", "T0ken-Secr3t-value"),
    "SMTP_PASSWORD": ("Smtp-Pa55-w0rd", "Smtp-Pa55-w0rd"),
}


def test_secrets_never_appear_on_any_page(configure: Configure) -> None:
    assert SECRET_KEYS - {"DATABASE_URL"} <= set(SECRET_SAMPLES), "a new secret setting needs a sample here"
    configure(**{key: value for key, (value, _) in SECRET_SAMPLES.items() if key in SECRET_KEYS})
    configure(RUN_MAX_RETRIES="not-a-number")  # the Settings page lists an issue too
    for name in PAGES:
        at = render(name)
        shown = rendered_bytes(at)
        for key, (_, secret) in SECRET_SAMPLES.items():
            assert secret.encode() not in shown, (name, key)
    # the check reads dataframes too: the masked forms are visible in the Settings table
    assert "••••••".encode() in shown
    assert b"postgresql+psycopg://reader:***@db.example.com/shop" in shown


def test_pages_work_on_postgresql_and_hide_its_password(configure: Configure, pg_url: str) -> None:
    url = make_url(pg_url).set(password="Pg-Pa55-w0rd").render_as_string(hide_password=False)
    configure(DATABASE_URL=url)  # the test server trusts local connections: any password works
    render("dashboard")
    wait_for_first_sync()
    for name in PAGES:
        at = render(name)
        assert b"Pg-Pa55-w0rd" not in rendered_bytes(at), name
    assert b"***@" in rendered_bytes(at)
    assert scheduler().database_url == url


def test_unreachable_database_gives_a_clear_error_without_the_password(configure: Configure) -> None:
    configure(DATABASE_URL="postgresql+psycopg://u:Unreach4ble-pw@127.0.0.1:1/x")
    for name in PAGES:
        at = render(name)  # asserts no exception
        text = rendered_text(at)
        assert "Unreach4ble-pw" not in text, name
        errors = [str(e.value) for e in at.main.error]
        assert any("cannot use the database postgresql+psycopg://u:***@127.0.0.1:1/x" in e for e in errors), name
        assert any("(network); check the host and port in DATABASE_URL" in e for e in errors), name
        assert [e.value for e in at.sidebar.error] == ["Database unusable · details on the page"], name


def test_a_database_that_goes_away_later_gives_a_clear_error(
    configure: Configure, pg_url: str, pg_admin_url: str
) -> None:
    configure(DATABASE_URL=pg_url)
    render("dashboard")
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{make_url(pg_url).database}" WITH (FORCE)'))
    admin.dispose()
    for name in PAGES:
        at = page(name)
        at.run()
        assert not at.exception, (name, [e.value for e in at.exception])
        assert any(
            "(unknown database); check the database name in DATABASE_URL" in str(e.value) for e in at.main.error
        ), name


# -- the badge and smart refresh, as pure functions ----------------------------------------------------------


def status(**overrides: Any) -> JobStatus:
    base: dict[str, Any] = {
        "state": "running",
        "interval_minutes": 15.0,
        "data_age_seconds": 120.0,
        "current_run": None,
        "last_result": "success",
        "silent_since": None,
        "timezone": "America/Sao_Paulo",
    }
    return status_of(**{**base, **overrides})


@pytest.mark.parametrize(
    ("overrides", "language", "text", "kind"),
    [
        ({"current_run": {"rows": 1234}}, "en", "Syncing… 1,234 new rows so far", "info"),
        ({"current_run": {"rows": 1234}}, "pt-BR", "Sincronizando… 1.234 linhas novas até agora", "info"),
        ({"current_run": {"rows": 0}}, "en", "Syncing…", "info"),
        ({"state": "hibernating"}, "en", "Asleep · wakes on the next visit", "info"),
        (
            {"state": "paused", "job_paused": True, "job": "sync_orders"},
            "en",
            "sync_orders paused · data 2 min old",
            "warning",
        ),
        ({"state": "paused", "scheduler_paused": True}, "en", "Scheduler stopped (Stop) · data 2 min old", "warning"),
        (
            {"state": "paused", "scheduler_paused": True},
            "pt-BR",
            "Agendador parado (Parar) · dados de 2 min atrás",
            "warning",
        ),
        ({"state": "stopped", "data_age_seconds": None}, "en", "Scheduler off · no data yet", "warning"),
        (
            {"state": "silent", "silent_since": "2026-01-05T10:42:00-03:00"},
            "en",
            "Scheduler silent since 10:42 UTC-3",
            "error",
        ),
        ({"last_result": "failed"}, "en", "Last sync failed · data 2 min old", "error"),
        ({"last_result": "timeout"}, "en", "Last sync failed · data 2 min old", "error"),
        ({"data_age_seconds": None, "last_result": None}, "en", "Auto-sync on · no data yet", "info"),
        ({"data_age_seconds": 10 * 60}, "en", "Auto-sync on · data 10 min old", "success"),
        ({"data_age_seconds": 30 * 60}, "en", "Auto-sync on · data 30 min old", "warning"),
        ({"data_age_seconds": 2 * 3600}, "en", "Auto-sync on · data 2 h old", "error"),
        ({"data_age_seconds": 10 * 60}, "pt-BR", "Auto-sync ativo · dados de 10 min atrás", "success"),
    ],
)
def test_badge_state(overrides: dict[str, Any], language: str, text: str, kind: str) -> None:
    assert badge_state(status(**overrides), language) == (text, kind)


def test_a_sync_in_progress_wins_over_every_other_badge_state() -> None:
    shown = badge_state(status(state="silent", last_result="failed", current_run={"rows": 0}), "en")
    assert shown == ("Syncing…", "info")  # never "0 rows": none are reported before the first lease renewal


@pytest.mark.parametrize(
    ("base", "high_traffic", "explicit", "expected"),
    [(30.0, False, None, 30.0), (30.0, True, None, 60.0), (30.0, True, 5.0, 5.0), (30.0, False, 5.0, 5.0)],
)
def test_refresh_minutes(base: float, high_traffic: bool, explicit: float | None, expected: float) -> None:
    assert refresh_minutes(base, high_traffic, explicit) == expected


@pytest.mark.parametrize(
    ("scheduler_enabled", "fallback_enabled", "expect_caption"),
    [("false", "true", True), ("true", "true", False), ("false", "false", False)],
)
def test_autorefresh_fallback_only_when_the_scheduler_is_not_running(
    configure: Configure, scheduler_enabled: str, fallback_enabled: str, expect_caption: bool
) -> None:
    configure(SCHEDULER_ENABLED=scheduler_enabled, ENABLE_AUTOREFRESH_FALLBACK=fallback_enabled)
    for name, period in (("dashboard", "1 h"), ("scheduler", "30 min")):  # the dashboard is a high-traffic page
        captions = [str(c.value) for c in render(name).caption]
        expected = f"this page refreshes itself every {period}."
        assert any(expected in c for c in captions) is expect_caption, (name, captions)
    assert scheduler().timer_running is (scheduler_enabled == "true")


def test_autorefresh_fallback_catches_up_on_the_first_view(configure: Configure) -> None:
    configure(SCHEDULER_ENABLED="false")
    at = render("dashboard")
    assert not scheduler().timer_running
    status = wait_for_first_sync()
    assert status.last_result == "success"
    runs = scheduler().history()
    assert [(r.reason, r.requested_by) for r in runs] == [("manual", "auto-refresh dashboard")]
    at.run()
    assert {m.label for m in at.metric} >= {"Orders", "Revenue (R$)"}


# -- guarded controls and Sync now -------------------------------------------------------------------------


def enabled(at: AppTest) -> set[str]:
    return {key for key in (*ADMIN_BUTTONS, "fd_sync_now") if not at.button(key=key).disabled}


def test_admin_controls_are_disabled_for_viewers_until_the_right_password(configure: Configure) -> None:
    configure(ADMIN_PASSWORD="s3cret-admin")
    at = render("scheduler")
    wait_for_first_sync()
    at.run()
    assert enabled(at) == {"fd_sync_now"}
    assert any("need the admin password" in str(c.value) for c in at.caption)

    at.text_input(key="fd_admin_password").input("wrong").run()
    assert [e.value for e in at.main.error] == ["Wrong admin password."]
    assert enabled(at) == {"fd_sync_now"}

    at.text_input(key="fd_admin_password").input("s3cret-admin").run()
    assert not at.exception
    # Start is pointless while running and Reset while no run is in progress: both stay disabled
    assert enabled(at) == {"fd_sync_now", "fd_stop", "fd_restart"}
    assert not at.main.error
    assert not [w for w in at.text_input if w.key == "fd_admin_password"], "the password box is gone"

    at.button(key="fd_stop").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert scheduler().get_status().state == "paused", scheduler().get_status()
    assert "Scheduler stopped (Stop)" in rendered_text(at)  # the scheduler's pause, not a job's
    assert enabled(at) == {"fd_sync_now", "fd_start", "fd_restart"}
    at.button(key="fd_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert scheduler().get_status().state == "running"


def test_controls_are_open_when_no_admin_is_configured(configure: Configure) -> None:
    at = render("scheduler")
    wait_for_first_sync()
    at.run()
    assert enabled(at) == {"fd_sync_now", "fd_stop", "fd_restart"}
    assert any("Controls are open to every viewer" in str(c.value) for c in at.caption)
    assert not [w for w in at.text_input if w.key == "fd_admin_password"]


def test_sync_now_is_rate_limited_for_viewers_but_not_for_the_admin(configure: Configure) -> None:
    configure(ADMIN_PASSWORD="s3cret-admin", MANUAL_SYNC_COOLDOWN_SECONDS=3600)
    at = render("scheduler")
    wait_for_first_sync()
    at.run()
    at.button(key="fd_sync_now").click().run()
    assert not at.exception
    assert any("Sync now is available again in" in str(i.value) for i in at.info), [i.value for i in at.info]
    assert not scheduler().get_status().requested and not manual_runs()

    at.text_input(key="fd_admin_password").input("s3cret-admin").run()
    at.button(key="fd_sync_now").click().run()
    assert toasts(at) == ["Sync requested."]
    run = wait_for(lambda: [r for r in manual_runs() if r.status == "success"], "the admin's manual run")[0]
    assert run.requested_by.startswith("session ")


@pytest.mark.parametrize(
    "extra",
    [{"ADMIN_PASSWORD": "s3cret-admin", "MANUAL_SYNC_COOLDOWN_SECONDS": 0}, {"MANUAL_SYNC_COOLDOWN_SECONDS": 3600}],
    ids=["viewer-after-cooldown", "no-admin-configured"],
)
def test_sync_now_works_for_everyone_and_reports_when_done(configure: Configure, extra: dict[str, Any]) -> None:
    configure(DEMO_ORDERS_PER_MINUTE=6000, **extra)
    at = render("scheduler")
    before = wait_for_first_sync()
    at.run()
    at.button(key="fd_sync_now").click().run()
    assert not at.exception
    assert toasts(at) in (["Sync requested."], ["A sync is already running or requested: following it."])

    def finished() -> bool:
        at.run()  # the progress fragment polls once per run here (AppTest runs no timers)
        assert not at.exception
        return any(text.startswith("Sync finished:") for text in toasts(at))

    wait_for(finished, "the finished-sync notice")
    assert [r.status for r in manual_runs()] == ["success"]
    assert scheduler().get_status().data_version > before.data_version


# -- language ------------------------------------------------------------------------------------------------


def test_portuguese_pages(configure: Configure) -> None:
    configure(UI_LANGUAGE="pt-BR")
    dashboard = render("dashboard")
    assert dashboard.title[0].value == "Painel de pedidos"
    wait_for_first_sync()
    dashboard.run()
    assert "Auto-sync ativo · dados de" in rendered_text(dashboard)
    assert {m.label for m in dashboard.metric} >= {"Pedidos", "Receita (R$)", "Ticket médio (R$)"}
    assert any(str(c.value).startswith("Dados de") for c in dashboard.caption)
    scheduler_page = render("scheduler")
    assert scheduler_page.button(key="fd_sync_now").label == "Sincronizar agora"
    assert scheduler_page.title[0].value == "Agendador"
    assert scheduler_page.subheader[0].value == "Situação: Ativo"
    assert "Histórico de execuções" in [s.value for s in scheduler_page.subheader]
    settings = render("settings")
    assert settings.success[0].value == "Todas as configurações são válidas."


# -- one scheduler per process -------------------------------------------------------------------------------


def test_cache_clear_shuts_the_scheduler_thread_down(configure: Configure) -> None:
    at = render("dashboard")
    first = scheduler()
    assert first.timer_running
    thread = first.timer._aps._thread  # APScheduler's timer thread (private: no public handle)
    assert thread is not None and thread.is_alive()

    st.cache_resource.clear()  # on_release shuts the cached scheduler down, without waiting
    assert not first.timer_running
    thread.join(timeout=10)
    assert not thread.is_alive(), "an orphaned APScheduler thread survived the cache clear"
    wait_for(lambda: not aps_threads(), "every APScheduler thread to end", timeout=10)

    at.run()  # the next page run builds a new scheduler; still exactly one timer thread
    assert not at.exception
    second = scheduler()
    assert second is not first and second.timer_running
    assert len(aps_threads()) == 1
    assert process_registry.live() == [second]


@pytest.fixture
def scheduler_module() -> Iterator[ModuleType]:
    """app.core.scheduler, put back as it was after the test reloads it (later tests' isinstance checks)."""
    import app.core.scheduler as core

    saved = dict(vars(core))
    yield core
    vars(core).clear()
    vars(core).update(saved)


def test_a_scheduler_made_after_a_module_reload_stops_the_older_one(
    configure: Configure, scheduler_module: ModuleType
) -> None:
    core = scheduler_module
    settings = load_settings(secrets={})
    first = core.get_scheduler(settings)
    first.start()
    reloaded = importlib.reload(core)  # what Streamlit's watcher does to an edited module
    assert reloaded.get_scheduler(settings) is first, "the registry outlives the module: no second scheduler"

    changed = dataclasses.replace(settings, sync_interval_minutes=5.0)  # e.g. secrets edited
    second = reloaded.get_scheduler(changed)
    second.start()
    assert second is not first
    assert not first.timer_running
    assert process_registry.live() == [second]
    wait_for(lambda: len(aps_threads()) == 1, "the older scheduler's thread to end", timeout=10)
    assert second.settings.sync_interval_minutes == 5.0


# -- pages while a sync runs (issue 14 item 2) ---------------------------------------------------------------


def test_a_page_run_reads_each_status_once_and_the_next_run_reads_again(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's five cached reads, its caption, badge and refresh each asked for the job's status (six
    queries each); one read per job per script run is enough, and a new run (or a fragment's) reads anew."""
    configure()
    at = render("dashboard")
    wait_for_first_sync()
    at.run()
    reads: list[str] = []
    kind = type(scheduler())  # the page's class (a test that reloads app.core.scheduler makes a new one)
    original = kind.get_status

    def counted(self: SyncScheduler, job: str | None = None, **kwargs: Any) -> JobStatus:
        reads.append(str(job))
        return original(self, job, **kwargs)

    monkeypatch.setattr(kind, "get_status", counted)
    loads: list[int] = []
    load = resources._load_settings
    monkeypatch.setattr(resources, "_load_settings", lambda: loads.append(1) or load())
    at.run()
    assert not at.exception
    assert {m.label for m in at.metric} >= {"Orders", "Revenue (R$)"}
    assert reads == ["incremental_sync"], reads
    assert len(loads) == 1  # the settings too: 34 loads a run were 16 ms of a 39 ms page
    at.run()
    assert reads == ["incremental_sync"] * 2 and len(loads) == 2, reads


def test_the_first_scheduler_of_a_process_moves_the_import_time_heap_out_of_the_collectors_way(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's full collections walked the server's ~200,000 import-time objects again and again: 50-100 ms
    pauses of every session (bench/pages_during_sync.py caught them in page runs during a sync). Once the
    first scheduler started, what is alive goes to the permanent generation (gc.freeze), once per process."""
    import gc

    configure()
    monkeypatch.setattr(resources, "_heap_settled", False)
    gc.unfreeze()
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(1) or 0)
    render("dashboard")
    frozen = gc.get_freeze_count()
    assert frozen > 50_000, frozen  # this process's modules, classes and functions
    assert len(gc.get_objects(generation=2)) < frozen / 4, "a full collection still walks most of the heap"
    assert collections == [1]  # garbage collected first, so none of it is kept for good
    resources._settle_heap()
    # once per process: nothing collected or frozen again (a frozen object that dies is still freed)
    assert collections == [1] and gc.get_freeze_count() <= frozen


def test_the_orders_table_shows_the_zones_wall_clock_without_zone_aware_values() -> None:
    """The latest orders' times are the wall clock of SCHEDULER_TIMEZONE (the header names the zone), as naive
    values: for a zone-aware column pyarrow tries `import pytz` on every conversion of the table, which, with
    no pytz installed, cost a page 30-70 ms in a running server."""
    import pandas as pd
    import pyarrow as pa

    from app.ui.components.dashboard import _local_times

    synced = {"id": [1, 2], "created_at": ["2026-01-05 12:00:00", None], "updated_at": ["2026-07-01 03:30:00"] * 2}
    table = _local_times(pd.DataFrame(synced), "America/Sao_Paulo")
    assert table["created_at"].dt.tz is None and table["updated_at"].dt.tz is None
    assert str(table["created_at"][0]) == "2026-01-05 09:00:00" and pd.isna(table["created_at"][1])
    assert str(table["updated_at"][0]) == "2026-07-01 00:30:00"
    imports: list[str] = []

    class Spy:
        def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
            imports.append(name)

    sys.meta_path.insert(0, Spy())  # type: ignore[arg-type]
    try:
        pa.Table.from_pandas(table)
    finally:
        sys.meta_path.pop(0)
    assert imports == [], imports
