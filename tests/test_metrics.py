"""/metrics scraped over HTTP: counters read from the database move as runs are recorded (SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.clock import FrozenClock
from app.core import metrics
from app.core.database import create_database_engine, create_schema
from app.core.store import JobStore
from app.errors import ConfigError
from tests.browser_support import free_port
from tests.support import ScriptedJob, job, scheduler

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(body: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
def server_port() -> Iterator[int]:
    port = free_port()
    yield port
    metrics.stop_metrics_server(port)


def scrape(port: int) -> Samples:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return parse(response.text)


def test_metrics_endpoint_shows_counters_moving_after_runs(db_url: str, make_settings: Any, server_port: int) -> None:
    clock = FrozenClock()
    good, bad = ScriptedJob(), ScriptedJob(failures=99)
    s = scheduler(make_settings(db_url), clock, job("good", good), job("bad", bad))
    s.prepare()
    server = metrics.start_metrics_server(server_port, s.engine, clock, address="127.0.0.1")
    assert server is not None and server.url == f"http://127.0.0.1:{server_port}/metrics"

    before = scrape(server_port)
    assert value(before, "freshdash_database_up") == 1
    assert value(before, "freshdash_runs_total", job="good", status="success") is None
    assert value(before, "freshdash_queue_size") == 2  # both new jobs are due at once
    assert value(before, "freshdash_jobs_active") == 2

    s.tick()
    first = scrape(server_port)
    assert value(first, "freshdash_runs_total", job="good", status="success") == 1
    assert value(first, "freshdash_runs_total", job="bad", status="failed") == 1
    assert value(first, "freshdash_run_failures_total", job="bad", reason="RuntimeError") == 1
    assert value(first, "freshdash_run_duration_seconds_count", job="good") == 1
    assert value(first, "freshdash_run_last_duration_seconds", job="good") is not None
    assert value(first, "freshdash_queue_size") == 0
    assert value(first, "freshdash_data_age_seconds", job="good") == 0
    assert value(first, "freshdash_data_age_seconds", job="bad") is None  # never succeeded: absent

    clock.advance(60)
    assert value(scrape(server_port), "freshdash_queue_size") == 2
    s.tick()
    clock.advance(15)
    s.store.set_paused("bad", True, clock.now())
    second = scrape(server_port)
    assert value(second, "freshdash_runs_total", job="good", status="success") == 2
    assert value(second, "freshdash_run_failures_total", job="bad", reason="RuntimeError") == 2
    assert value(second, "freshdash_run_duration_seconds_count", job="bad") == 2
    assert value(second, "freshdash_data_age_seconds", job="good") == 15
    assert value(second, "freshdash_jobs_active") == 1


def test_counters_never_go_down_when_history_is_settled_and_purged(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    s = scheduler(make_settings(db_url), clock, job("good", ScriptedJob()), job("bad", ScriptedJob(failures=99)))
    for _ in range(3):
        s.tick()
        clock.advance(60)
    expected = metrics.metrics_snapshot(s.engine, clock.now())
    assert {(r["job"], r["status"]): r["runs"] for r in expected["runs"]} == {
        ("bad", "failed"): 3,
        ("good", "success"): 3,
    }

    def counted() -> tuple[Any, Any, Any]:
        snap = metrics.metrics_snapshot(s.engine, clock.now())
        durations = [(d["job"], d["count"]) for d in snap["durations"]]
        return snap["runs"], snap["failures"], durations

    before = counted()
    s.store.purge(clock.now())  # nothing settled yet: the purge folds what it deletes
    assert counted() == before
    for _ in range(2):
        s.tick()
        clock.advance(60)
    clock.advance(timedelta(hours=2))
    after_two = counted()
    assert {(r["job"], r["status"]): r["runs"] for r in after_two[0]} == {("bad", "failed"): 5, ("good", "success"): 5}
    assert counted() == after_two  # the scrape above settled the old runs: counted once, not twice
    s.store.purge(clock.now())  # now deleting settled runs: nothing is added again
    assert counted() == after_two
    assert s.history(limit=100) != []  # the purge keeps each job's last run


def test_timeouts_and_abandoned_runs_are_failure_reasons(db_url: str, make_settings: Any) -> None:
    clock = FrozenClock()
    hung = ScriptedJob(hang=True)
    s = scheduler(make_settings(db_url, lease_seconds=20), clock, job("slow", hung, timeout=0.2), job("dead", None))
    s.prepare()
    assert JobStore(s.engine, "dead-process", lease_seconds=20).claim("dead", clock.now()) is not None
    try:
        [outcome] = s.tick()  # "dead" is held by the dead process: only "slow" runs
    finally:
        hung.release.set()
    assert outcome.status == "timeout"
    clock.advance(21)
    assert s.store.reap_expired(clock.now()) == 1
    snap = metrics.metrics_snapshot(s.engine, clock.now())
    reasons = {(f["job"], f["reason"]): f["runs"] for f in snap["failures"]}
    assert reasons == {("slow", "timeout"): 1, ("dead", "abandoned"): 1}


def test_server_is_one_per_port_and_survives_a_reload_of_the_module(sqlite_url: str, server_port: int) -> None:
    assert metrics.start_metrics_server(0, create_database_engine(sqlite_url), FrozenClock()) is None  # 0 = off
    engine, clock = create_database_engine(sqlite_url), FrozenClock()
    create_schema(engine)
    first = metrics.start_metrics_server(server_port, engine, clock, address="127.0.0.1")
    again = metrics.start_metrics_server(server_port, engine, clock, address="127.0.0.1")
    assert again is first
    # Streamlit's hot reload drops edited modules from sys.modules and imports them anew.
    del sys.modules["app.core.metrics"]
    reloaded = importlib.import_module("app.core.metrics")
    assert reloaded is not metrics
    other_clock = FrozenClock()
    after_reload = reloaded.start_metrics_server(server_port, engine, other_clock, address="127.0.0.1")
    assert after_reload is first and first is not None and first.collector.clock is other_clock
    assert value(scrape(server_port), "freshdash_database_up") == 1


def test_a_busy_port_is_a_clear_config_error(sqlite_url: str, server_port: int) -> None:
    engine = create_database_engine(sqlite_url)
    metrics.start_metrics_server(server_port, engine, FrozenClock(), address="127.0.0.1")
    metrics._servers()[1].clear()  # forget it, as another process holding the port would
    with pytest.raises(ConfigError, match=f"METRICS_PORT={server_port}: cannot listen"):
        metrics.start_metrics_server(server_port, engine, FrozenClock(), address="127.0.0.1")


def test_database_down_is_reported_as_up_zero_not_a_broken_scrape(server_port: int) -> None:
    engine = create_database_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    metrics.start_metrics_server(server_port, engine, FrozenClock(), address="127.0.0.1")
    samples = scrape(server_port)
    assert value(samples, "freshdash_database_up") == 0
    assert not any(name.startswith("freshdash_runs") for name, _ in samples)


# -- the Scheduler page's metrics panel under AppTest --------------------------------------------------


def _panel_script() -> None:
    from app.ui.components.metrics import render_metrics_panel

    render_metrics_panel()


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> str:
    """The app reads this test's own SQLite file, with no timer thread and none of the shell's settings."""
    from app.config import PARSERS

    for key in PARSERS:
        monkeypatch.delenv(key, raising=False)
    url = f"sqlite:///{tmp_path / 'fd.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DEMO_SOURCE_PATH", str(tmp_path / "demo.db"))
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")
    monkeypatch.setenv("ALERT_AFTER_FAILURES", "2")
    return url


def test_metrics_panel_shows_runs_failures_and_open_alerts(app_env: str, make_settings: Any) -> None:
    from streamlit.testing.v1 import AppTest

    from app.core.alerts import Alerter

    clock = FrozenClock()
    settings = make_settings(app_env, ALERT_AFTER_FAILURES=2)
    s = scheduler(settings, clock, job("good", ScriptedJob()), job("bad", ScriptedJob(failures=99)))
    for _ in range(2):
        s.tick()
        clock.advance(60)
    [alert] = Alerter(s.engine, settings, clock).check()

    at = AppTest.from_function(_panel_script, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value == "Metrics and alerts"
    shown = {m.label: m.value for m in at.metric}
    assert shown["Open alerts"] == "1" and shown["Failed runs"] == "2"
    runs, reasons, alerts = (frame.value for frame in at.dataframe)
    by_job = runs.set_index("job")
    assert by_job.loc["good", "success"] == 2 and by_job.loc["bad", "failed"] == 2
    assert reasons.to_dict("records") == [{"job": "bad", "reason": "RuntimeError", "runs": 2}]
    assert alerts["job"].tolist() == ["bad"] and "failed 2 times in a row" in alerts["detail"][0]
    assert alert.kind == "failing"


def test_metrics_panel_says_when_there_is_nothing_yet(app_env: str) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_panel_script, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info] == ["No finished runs yet.", "No failed runs."]
    assert at.success[0].value == "No open alerts."
