"""Datasets: declared in configuration, one job each with its own trigger, cursor, history and freshness; the
Data page and a page of the user's own built on the public API; bad dataset configuration explained."""

from __future__ import annotations

import ast
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from streamlit.testing.v1 import AppTest

from app.clock import FrozenClock
from app.config import PARSERS, load_settings
from app.core import process_registry
from app.core.catalogue import catalogue, default_jobs
from app.core.scheduler import SyncScheduler
from app.dataset_config import DatasetConfig
from app.ui.components.datasets import line
from tests.support import status_of

ROOT = Path(__file__).resolve().parents[1]
T0 = "2026-11-30 10:00:00"


def events_source(path: Path, rows: int = 40) -> str:
    """A table nothing like the demo's orders: text key parts, JSON payloads, NULLs, unicode."""
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE events (tenant TEXT NOT NULL, code INTEGER NOT NULL, kind TEXT, payload JSON, "
        "amount NUMERIC, note TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (tenant, code))"
    )
    conn.executemany(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                "acme" if n % 2 else "ümlaut-Çia",
                n,
                ("signup", "login", "purchase")[n % 3],
                json.dumps({"n": n, "tags": ["a", "ß"]}) if n % 5 else None,
                n * 1.25 if n % 4 else None,
                "café ☕" if n % 7 == 0 else None,
                f"2026-11-30 10:{n:02d}:00",
            )
            for n in range(rows)
        ],
    )
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def simple_source(path: Path, table: str, rows: int) -> str:
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT NOT NULL)")
    conn.executemany(
        f"INSERT INTO {table} VALUES (?, ?, ?)",
        [(n, f"{table} {n}", f"2026-11-30 09:{n % 60:02d}:00") for n in range(rows)],
    )
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def store_rows(url: str, table: str, order: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]
    engine.dispose()
    return rows


def source_rows(url: str, table: str, order: str) -> list[tuple[Any, ...]]:
    return store_rows(url, table, order)


# -- configuration -----------------------------------------------------------------------------------


def test_no_configuration_is_the_demo_dataset_with_the_seeds_job() -> None:
    (only,) = load_settings(env={}, secrets={}).datasets
    assert (only.name, only.source, only.job, only.target) == ("orders", "demo", "incremental_sync", "orders")


def test_the_seeds_keys_define_one_dataset_named_after_source_table() -> None:
    settings = load_settings(
        env={"SYNC_SOURCE": "sql", "SOURCE_URL": "sqlite:///x.db", "SOURCE_TABLE": "events"}, secrets={}
    )
    (only,) = settings.datasets
    assert (only.name, only.target, only.source_table, only.job) == ("events", "events", "events", "incremental_sync")


def test_declared_datasets_replace_the_demo_and_take_every_documented_key() -> None:
    secrets = {
        "datasets": {
            "events": {
                "source": "sql",
                "url": "postgres://reader:s3cret@db:5432/app",
                "table": "public.events",
                "key": ["tenant", "code"],
                "cursor": "updated_at",
                "trigger": "every 5m",
                "destination": "app_events",
                "max_age_minutes": 30,
                "deletes": "reconcile",
                "reconcile_trigger": "every 1h",
                "soft_delete": "deleted_at",
            },
            "rates": {"source": "http", "endpoint": "https://api.example.com/rates", "token": "t0k", "key": "id"},
        }
    }
    settings = load_settings(env={}, secrets=secrets)
    assert not settings.issues, settings.issues
    events, rates = settings.datasets
    assert events == DatasetConfig(
        name="events",
        source="sql",
        url="postgresql+psycopg://reader:s3cret@db:5432/app",
        table="public.events",
        key=("tenant", "code"),
        cursor="updated_at",
        trigger="every 5m",
        destination="app_events",
        max_age_minutes=30.0,
        deletes="reconcile",
        reconcile_trigger="every 1h",
        soft_delete="deleted_at",
    )
    assert (events.job, events.reconcile_job, events.target) == ("sync_events", "reconcile_events", "app_events")
    assert rates.cursor is None, "without a cursor the table is copied whole and diffed"
    shown = repr(settings) + repr(settings.datasets) + json.dumps([d.shown() for d in settings.datasets])
    for secret in ("s3cret", "t0k"):
        assert secret not in shown


def test_environment_variables_override_a_dataset_key_by_key() -> None:
    secrets = {"datasets": {"events": {"source": "sql", "url": "sqlite:///a.db", "table": "events"}}}
    env = {"DATASETS__EVENTS__TABLE": "public.events_v2", "DATASETS__EVENTS__KEY": "tenant, code"}
    (events,) = load_settings(env=env, secrets=secrets).datasets
    assert (events.url, events.table, events.key) == ("sqlite:///a.db", "public.events_v2", ("tenant", "code"))
    (only,) = load_settings(env={"DATASETS__SHOP__SOURCE": "demo"}, secrets={}).datasets
    assert (only.name, only.source, only.job) == ("shop", "demo", "sync_shop")


def test_setting_sync_source_keeps_the_seeds_dataset_beside_the_declared_ones() -> None:
    secrets = {"SYNC_SOURCE": "demo", "datasets": {"events": {"source": "sql", "url": "sqlite:///a.db"}}}
    names = [d.name for d in load_settings(env={}, secrets=secrets).datasets]
    assert names == ["orders", "events"]


BAD_DATASETS = [
    ({"source": "ftp"}, "datasets.bad.source", "'ftp'", "must be one of sql, http, demo"),
    ({"source": "sql"}, "datasets.bad.url", "(missing)", "needs url"),
    ({"source": "sql", "url": "not a url"}, "datasets.bad.url", "••••••", "SQLAlchemy URL"),
    ({"source": "http"}, "datasets.bad.endpoint", "(missing)", "needs endpoint"),
    ({"source": "http", "endpoint": "ftp://x"}, "datasets.bad.endpoint", "••••••", "http:// or https://"),
    ({"source": "sql", "url": "sqlite:///a.db", "table": "a.b.c"}, "datasets.bad.table", "'a.b.c'", "schema-qualified"),
    ({"source": "sql", "url": "sqlite:///a.db", "key": []}, "datasets.bad.key", "[]", "must name the key"),
    ({"source": "sql", "url": "sqlite:///a.db", "key": "id;drop"}, "datasets.bad.key", "'id;drop'", "plain SQL name"),
    ({"source": "sql", "url": "sqlite:///a.db", "key": ["a", "a"]}, "datasets.bad.key", "['a', 'a']", "twice"),
    ({"source": "sql", "url": "sqlite:///a.db", "cursor": "1x"}, "datasets.bad.cursor", "'1x'", "plain SQL name"),
    ({"source": "demo", "trigger": ""}, "datasets.bad.trigger", "''", "trigger text"),
    ({"source": "demo", "max_age_minutes": "soon"}, "datasets.bad.max_age_minutes", "'soon'", "number of minutes"),
    ({"source": "demo", "max_age_minutes": -1}, "datasets.bad.max_age_minutes", "-1", "number of minutes"),
    ({"source": "demo", "deletes": "purge"}, "datasets.bad.deletes", "'purge'", "none, reconcile"),
    ({"source": "demo", "destination": "my table"}, "datasets.bad.destination", "'my table'", "plain SQL name"),
    ({"source": "demo", "cusor": "updated_at"}, "datasets.bad.cusor", "'updated_at'", "unknown key"),
    ({"source": "http", "endpoint": "https://x.io", "token": 5}, "datasets.bad.token", "••••••", "must be text"),
]


@pytest.mark.parametrize(("raw", "key", "shown", "message"), BAD_DATASETS)
def test_a_bad_dataset_key_is_named_and_only_that_dataset_is_left_out(
    raw: dict[str, Any], key: str, shown: str, message: str
) -> None:
    good = {"source": "sql", "url": "sqlite:///good.db", "table": "good"}
    settings = load_settings(env={}, secrets={"datasets": {"bad": raw, "good": good}})
    assert [d.name for d in settings.datasets] == ["good"]
    issue = next(i for i in settings.issues if i.key == key)
    assert issue.value == shown and message in issue.message and "dataset 'bad' left out" in issue.message


def test_two_datasets_cannot_write_the_same_table() -> None:
    secrets = {
        "datasets": {
            "a": {"source": "sql", "url": "sqlite:///a.db", "destination": "shared"},
            "b": {"source": "sql", "url": "sqlite:///b.db", "destination": "shared"},
        }
    }
    settings = load_settings(env={}, secrets=secrets)
    assert [d.name for d in settings.datasets] == ["a"]
    assert any(i.key == "datasets.b.destination" and "already writes" in i.message for i in settings.issues)


def test_a_dataset_whose_trigger_cannot_be_read_is_left_out_and_the_others_run(
    make_settings: Any, sqlite_url: str
) -> None:
    settings = load_settings(
        env={"DATABASE_URL": sqlite_url},
        secrets={
            "datasets": {
                "bad": {"source": "sql", "url": "sqlite:///x.db", "trigger": "every fortnight"},
                "good": {"source": "sql", "url": "sqlite:///y.db", "trigger": "every 5m"},
            }
        },
    )
    names = {d.spec.name for d in default_jobs(settings)}
    assert "sync_good" in names and "sync_bad" not in names
    assert any("dataset 'bad' left out" in p and "every fortnight" in p for p in catalogue.problems)


# -- several datasets, each its own job ------------------------------------------------------------------


def three_datasets(tmp_path: Path, store_url: str) -> Any:
    secrets = {
        "datasets": {
            "events": {
                "source": "sql",
                "url": events_source(tmp_path / "events.db"),
                "key": ["tenant", "code"],
                "cursor": "updated_at",
                "trigger": "every 5m",
                "max_age_minutes": 10,
            },
            "customers": {
                "source": "sql",
                "url": simple_source(tmp_path / "crm.db", "customers", 25),
                "table": "customers",
                "key": "id",
                "cursor": "updated_at",
                "trigger": "daily 07:00",
                "destination": "crm_customers",
            },
            "products": {
                "source": "sql",
                "url": simple_source(tmp_path / "shop.db", "products", 7),
                "key": "id",
                "cursor": "updated_at",
                "trigger": "cron */15 * * * *",
            },
        }
    }
    return load_settings(env={"DATABASE_URL": store_url, "SCHEDULER_ENABLED": "false"}, secrets=secrets)


def test_each_dataset_is_its_own_job_with_its_trigger_cursor_history_and_freshness(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = three_datasets(tmp_path, sqlite_url)
    assert not settings.issues, settings.issues
    clock = FrozenClock()
    scheduler = SyncScheduler(settings=settings, clock=clock)
    scheduler.prepare()
    jobs = {j.name: j for j in scheduler.store.list_jobs()}
    assert jobs["sync_events"].trigger == "every 5m"
    assert jobs["sync_customers"].trigger == "daily 07:00"
    assert jobs["sync_products"].trigger.startswith("cron */15")
    assert "incremental_sync" not in jobs, "declared datasets replace the demo"
    for name in ("sync_products", "sync_customers", "sync_events"):
        scheduler.run_now(name, requested_by="test")
        scheduler.tick()
    statuses = {d.name: scheduler.get_status(d.job) for d in settings.datasets}
    assert {n: s.last_result for n, s in statuses.items()} == dict.fromkeys(statuses, "success")
    assert all(s.data_version >= 1 for s in statuses.values())
    assert store_rows(sqlite_url, "crm_customers", "id") == source_rows(
        f"sqlite:///{tmp_path / 'crm.db'}", "customers", "id"
    )
    assert store_rows(sqlite_url, "products", "id") == source_rows(
        f"sqlite:///{tmp_path / 'shop.db'}", "products", "id"
    )
    copied = store_rows(sqlite_url, "events", "tenant, code")
    assert len(copied) == 40 and copied == source_rows(f"sqlite:///{tmp_path / 'events.db'}", "events", "tenant, code")
    history = scheduler.history(limit=10)
    assert sorted(r.job_name for r in history) == ["sync_customers", "sync_events", "sync_products"]
    # a second run of one dataset moves only its own data version
    before = {n: s.data_version for n, s in statuses.items()}
    conn = sqlite3.connect(tmp_path / "shop.db")
    conn.execute("UPDATE products SET name = 'renamed', updated_at = '2026-11-30 11:00:00' WHERE id = 3")
    conn.commit()
    conn.close()
    clock.advance(1)  # a manual run's slot is its request time: one per instant
    scheduler.run_now("sync_products", requested_by="test")
    scheduler.tick()
    after = {d.name: scheduler.get_status(d.job).data_version for d in settings.datasets}
    assert after["products"] == before["products"] + 1
    assert (after["events"], after["customers"]) == (before["events"], before["customers"])
    assert ("renamed",) in [(r[1],) for r in store_rows(sqlite_url, "products", "id")]


def test_badge_lines_say_which_dataset_is_fresh_failed_or_syncing() -> None:
    ds = DatasetConfig(name="events", source="sql", max_age_minutes=10)
    base = {
        "interval_minutes": 5.0,
        "data_age_seconds": 120.0,
        "current_run": None,
        "last_result": "success",
        "last_error": None,
        "state": "running",
        "last_success_at": "2026-11-30T10:00:00+00:00",
        "timezone": "UTC",
        "next_run": None,
        "data_version": 3,
    }
    assert line(ds, status_of(**base), "en") == ("events · data 2 min old", "success")
    assert line(ds, status_of(**{**base, "data_age_seconds": 900.0}), "en")[1] == "warning"  # past 10 min, within 20
    assert line(ds, status_of(**{**base, "data_age_seconds": 1500.0}), "en")[1] == "error"
    failed = status_of(**{**base, "last_result": "failed"})
    assert line(ds, failed, "en") == ("events · last sync failed · data 2 min old", "error")
    assert line(ds, status_of(**{**base, "current_run": {"rows": 1234}}), "pt-BR") == (
        "events · sincronizando… 1.234 linhas",
        "info",
    )


# -- pages -------------------------------------------------------------------------------------------------


@pytest.fixture
def events_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The app configured with one dataset shaped nothing like orders (environment form of the keys)."""
    for key in PARSERS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fd.db'}")
    monkeypatch.setenv("DATASETS__EVENTS__URL", events_source(tmp_path / "events.db"))
    monkeypatch.setenv("DATASETS__EVENTS__KEY", "tenant,code")
    monkeypatch.setenv("DATASETS__EVENTS__CURSOR", "updated_at")
    return tmp_path


def _synced(job: str) -> dict[str, Any] | None:
    current = process_registry.current()
    if current is None:
        return None
    status = current.get_status(job)
    return status if status.data_version > 0 and not status.current_run else None


def _wait_synced(job: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _synced(job):
        time.sleep(0.1)
    assert _synced(job), f"{job} did not sync"


@pytest.mark.parametrize("path", ["streamlit_app.py", "pages/0_Data.py"])
def test_the_data_page_shows_a_dataset_that_is_nothing_like_orders(events_app: Path, path: str) -> None:
    at = AppTest.from_file(str(ROOT / path), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    _wait_synced("sync_events")
    at.run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert at.title[0].value == "Data"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "40"
    assert any("events: data as of" in str(m.value) for m in at.markdown)  # Babel's date, zone named (issue 12)
    badge = [str(e.value) for e in (*at.sidebar.success, *at.sidebar.info)]
    assert any("Auto-sync on · data" in text for text in badge), badge  # one dataset: the badge is its line
    at.toggle(key="fd_data_show_events").set_value(True).run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert len(table) == 40 and {"tenant", "code", "payload", "note"} <= set(table.columns)
    at.text_input(key="fd_data_filter_events").set_value("café").run()
    assert len(at.dataframe[-1].value) == len([n for n in range(40) if n % 7 == 0])
    assert {"CSV", "Excel"} <= {b.label for b in at.get("download_button")}


def test_a_page_of_ones_own_on_the_public_api(events_app: Path) -> None:
    at = AppTest.from_file(str(ROOT / "examples" / "events_page.py"), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    _wait_synced("sync_events")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("events: data as of" in str(c.value) for c in at.caption)
    assert len(at.dataframe[0].value) == 40
    at.multiselect[0].set_value(["signup"]).run()
    assert len(at.dataframe[0].value) == len([n for n in range(40) if n % 3 == 0])


def test_sync_now_in_the_sidebar_requests_every_dataset_of_the_page(events_app: Path) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "0_Data.py"), default_timeout=30)
    at.run()
    _wait_synced("sync_events")
    at.run()
    runs_before = len(process_registry.current().history(limit=50))
    at.sidebar.button(key="fd_sidebar_sync").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Sync requested for 1 dataset" in str(t.value) for t in at.toast)
    current = process_registry.current()

    def served() -> bool:
        return len(current.history(limit=50)) > runs_before and not current.get_status("sync_events").current_run

    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not served():
        time.sleep(0.1)
    assert served()
    assert current.history(limit=1)[0].reason == "manual"


# -- layering ------------------------------------------------------------------------------------------------

LAYERS = {  # a package and what it must never import (issue 11's layering; ARCHITECTURE.md's diagram)
    "app/core": ("app.jobs", "app.sync", "app.demo", "app.ui", "streamlit", "app.cli"),
    "app/sync": ("app.jobs", "app.demo", "app.ui", "streamlit", "app.cli"),
    "app/demo": ("app.jobs", "app.ui", "streamlit", "app.cli"),
    "app/jobs": ("app.ui", "streamlit", "app.cli"),
    "app/config.py": ("app.core", "app.sync", "app.jobs", "app.ui", "streamlit"),
    "app/setting_values.py": ("app.config", "app.core", "app.sync", "app.jobs", "app.ui", "streamlit"),
    "app/config_sources.py": ("app.config", "app.core", "app.sync", "app.jobs", "app.ui", "streamlit"),
    "app/dataset_config.py": ("app.core", "app.sync", "app.jobs", "app.ui", "streamlit"),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    where = ROOT / layer
    files = [where] if where.suffix == ".py" else sorted(where.rglob("*.py"))
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in _imports(path)
        if any(name == banned or name.startswith(banned + ".") for banned in LAYERS[layer])
    ]
    assert not offending, offending


# -- reports of any dataset ------------------------------------------------------------------------------------


def test_reports_of_a_dataset_and_of_a_query_arrive_with_every_row(tmp_path: Path, sqlite_url: str) -> None:
    import csv
    import io

    from openpyxl import load_workbook

    from tests.smtp_support import SmtpServer

    with SmtpServer() as server:
        secrets = {
            "datasets": {
                "events": {
                    "source": "sql",
                    "url": events_source(tmp_path / "events.db"),
                    "key": ["tenant", "code"],
                    "cursor": "updated_at",
                }
            },
            "reports": {
                "all_events": {"dataset": "events", "recipients": ["ana@example.com"], "trigger": "daily 06:00"},
                "kinds": {
                    "query": "SELECT kind, count(*) AS n FROM events WHERE updated_at >= :start "
                    "GROUP BY kind ORDER BY kind",
                    "datasets": ["events"],
                    "recipients": "bia@example.com",
                },
                "broken": {"dataset": "nope", "recipients": "x@example.com"},
            },
        }
        env = {
            "DATABASE_URL": sqlite_url,
            "SCHEDULER_ENABLED": "false",
            "SCHEDULER_TIMEZONE": "UTC",
            **server.settings_env(),
        }
        settings = load_settings(env=env, secrets=secrets)
        assert [r.name for r in settings.reports] == ["all_events", "kinds"]
        assert any(i.key == "reports.broken.dataset" and "no such dataset" in i.message for i in settings.issues)
        clock = FrozenClock()  # 2026-01-05: the source's rows (2026-11-30) are after the query's :start
        scheduler = SyncScheduler(settings=settings, clock=clock)
        scheduler.prepare()
        jobs = {j.name: j for j in scheduler.store.list_jobs()}
        assert jobs["report_all_events"].trigger == "daily 06:00" and "report_kinds" in jobs
        assert "email_report" not in jobs, "the orders report needs the demo dataset"
        for job in ("sync_events", "report_all_events", "report_kinds"):
            scheduler.run_now(job, requested_by="test")
            scheduler.tick()
        results = {r.job_name: r for r in scheduler.history(limit=10)}
        assert results["report_all_events"].status == "success", results["report_all_events"].error
        assert results["report_kinds"].status == "success", results["report_kinds"].error
        by_to = {
            envelope[1][0]: message
            for envelope, message in zip(server.inbox.envelopes, server.inbox.messages, strict=True)
        }
    events = by_to["ana@example.com"]
    files = {part.get_filename(): part.get_payload(decode=True) for part in events.iter_attachments()}
    (csv_name,) = [n for n in files if n.endswith(".csv")]
    text_rows = list(
        csv.reader(
            io.StringIO(files[csv_name].decode("utf-8-sig") if isinstance(files[csv_name], bytes) else files[csv_name])
        )
    )
    assert text_rows[0] == ["tenant", "code", "kind", "payload", "amount", "note", "updated_at"]
    assert len(text_rows) == 41 and any("café ☕" in row for row in text_rows)
    (xlsx_name,) = [n for n in files if n.endswith(".xlsx")]
    sheet = load_workbook(io.BytesIO(files[xlsx_name])).active
    assert sheet.max_row == 42  # title, header, 40 rows
    kinds = by_to["bia@example.com"]
    (kinds_csv,) = [p.get_payload(decode=True) for p in kinds.iter_attachments() if p.get_filename().endswith(".csv")]
    kinds_text = kinds_csv.decode("utf-8-sig") if isinstance(kinds_csv, bytes) else kinds_csv
    assert list(csv.reader(io.StringIO(kinds_text))) == [
        ["kind", "n"],
        ["login", "13"],
        ["purchase", "13"],
        ["signup", "14"],
    ]


# -- three sources, two stores: inserts, updates and hard deletes ------------------------------------------


def _write(url: str, *statements: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _canonical(value: Any) -> str | None:
    """One text per value (a SQLite store keeps times as text, PostgreSQL as timestamps)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text_value = str(value)
    try:
        return datetime.fromisoformat(text_value).isoformat(sep=" ") if len(text_value) >= 19 else text_value
    except ValueError:
        return text_value


def _rows(url: str, table: str, order: str) -> list[tuple[Any, ...]]:
    """Rows compared by value: numbers, text and times as text (each driver has its own Python types)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(_canonical(v) for v in r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]
    engine.dispose()
    return rows


def test_three_sources_stay_equal_after_inserts_updates_and_hard_deletes(
    tmp_path: Path, db_url: str, pg_source_url: str, mariadb_url: str
) -> None:
    sqlite_source = f"sqlite:///{tmp_path / 'lite.db'}"
    _write(
        pg_source_url,
        "CREATE TABLE accounts (tenant text, code int, name text, balance numeric(20,4), updated_at timestamp NOT NULL,"
        " PRIMARY KEY (tenant, code))",
        "INSERT INTO accounts SELECT 't' || (n % 3), n, 'Ação ' || n, n * 1.0001, "
        "timestamp '2026-11-30 10:00' + n * interval '1 second' FROM generate_series(1, 60) n",
    )
    _write(
        mariadb_url,
        "CREATE TABLE products (id INT PRIMARY KEY, title VARCHAR(50) COLLATE utf8mb4_bin, price DECIMAL(12,2), "
        "updated_at DATETIME(6) NOT NULL)",
        *(
            f"INSERT INTO products VALUES ({n}, 'Produto ñ {n}', {n}.25, '2026-11-30 10:00:{n:02d}')"
            for n in range(1, 31)
        ),
    )
    _write(
        sqlite_source,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, stars INTEGER)",  # no cursor: copied whole, diffed
        *(
            f"INSERT INTO notes VALUES ({n}, {'NULL' if n % 4 == 0 else repr('nota ' + str(n))}, {n % 5})"
            for n in range(1, 21)
        ),
    )
    secrets = {
        "datasets": {
            "accounts": {"source": "sql", "url": pg_source_url, "key": ["tenant", "code"], "cursor": "updated_at",
                         "trigger": "every 2m", "deletes": "reconcile", "reconcile_trigger": "every 1h"},
            "products": {"source": "sql", "url": mariadb_url, "key": "id", "cursor": "updated_at",
                         "trigger": "daily 08:00", "deletes": "reconcile"},
            "notes": {"source": "sql", "url": sqlite_source, "key": "id", "trigger": "cron 0 * * * *"},
        }
    }  # fmt: skip
    settings = load_settings(env={"DATABASE_URL": db_url, "SCHEDULER_ENABLED": "false"}, secrets=secrets)
    assert not settings.issues, settings.issues
    clock = FrozenClock()
    scheduler = SyncScheduler(settings=settings, clock=clock)
    scheduler.prepare()

    def run(*jobs: str) -> None:
        for job in jobs:
            clock.advance(1)
            scheduler.run_now(job, requested_by="test")
            scheduler.tick()
            last = scheduler.history(job, limit=1)[0]
            assert last.status == "success", (job, last.error)

    def same() -> None:
        assert _rows(db_url, "accounts", "tenant, code") == _rows(pg_source_url, "accounts", "tenant, code")
        assert _rows(db_url, "products", "id") == _rows(mariadb_url, "products", "id")
        assert _rows(db_url, "notes", "id") == _rows(sqlite_source, "notes", "id")

    run("sync_accounts", "sync_products", "sync_notes")
    same()
    _write(
        pg_source_url,
        "UPDATE accounts SET balance = -1.5, updated_at = timestamp '2026-11-30 11:00' WHERE code = 7",
        "INSERT INTO accounts VALUES ('t9', 99, 'novo', 0, timestamp '2026-11-30 11:00:01')",
        "DELETE FROM accounts WHERE code IN (3, 4)",
    )
    _write(
        mariadb_url,
        "UPDATE products SET price = 0.01, updated_at = '2026-11-30 11:00:00' WHERE id = 2",
        "DELETE FROM products WHERE id = 5",
    )
    _write(
        sqlite_source,
        "UPDATE notes SET stars = 9 WHERE id = 1",
        "DELETE FROM notes WHERE id = 2",
        "INSERT INTO notes VALUES (50, 'x', 1)",
    )
    run("sync_accounts", "sync_products", "sync_notes", "reconcile_accounts", "reconcile_products")
    same()
    versions = {d.name: scheduler.get_status(d.job).data_version for d in settings.datasets}
    assert len({scheduler.get_status(d.job).trigger for d in settings.datasets}) == 3
    assert all(v >= 2 for v in versions.values()), versions
    assert {r.job_name for r in scheduler.history(limit=50)} == {
        "sync_accounts", "sync_products", "sync_notes", "reconcile_accounts", "reconcile_products",
    }  # fmt: skip


# -- the CLI ------------------------------------------------------------------------------------------------


def test_the_cli_knows_datasets_by_name_and_judges_every_one(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in PARSERS and not k.startswith("DATASETS__")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'fd.db'}",
        DATASETS__EVENTS__URL=events_source(tmp_path / "events.db"),
        DATASETS__EVENTS__KEY="tenant,code",
        DATASETS__EVENTS__CURSOR="updated_at",
        DATASETS__PRODUCTS__URL=simple_source(tmp_path / "shop.db", "products", 5),
        DATASETS__PRODUCTS__KEY="id",
        DATASETS__PRODUCTS__CURSOR="updated_at",
        DATASETS__PRODUCTS__TOKEN="s3cret-token",
        DATASETS__BROKEN__URL=f"sqlite:///{tmp_path / 'empty.db'}",  # no such table: it never succeeds
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    ran = cli("run", "events", "--wait")
    assert ran.returncode == 0 and "of sync_events: success, 40 rows" in ran.stdout, ran.stdout + ran.stderr
    listed = {d["name"]: d for d in json.loads(cli("datasets", "--json").stdout)}
    assert listed["events"]["last_result"] == "success" and listed["events"]["data_version"] >= 1
    # every due job ran with it (a new job is due at once); the broken one failed, naming its table key
    assert listed["products"]["last_result"] == "success" and listed["products"]["job"] == "sync_products"
    assert listed["broken"]["last_result"] == "failed"
    assert "DATASET" in cli("datasets").stdout.splitlines()[0]
    health = cli("health", "--json")
    problems = json.loads(health.stdout)["problems"]
    assert health.returncode == 1 and any("sync_broken has no data yet" in p for p in problems), problems
    assert not any("sync_events" in p or "sync_products" in p for p in problems), problems
    assert cli("run", "--wait").stdout.startswith("run "), "no JOB: the first dataset's sync job"
    config = cli("config", "--json")
    shown = {d["name"]: d for d in json.loads(config.stdout)["datasets"]}
    assert shown["events"]["key"] == "tenant, code" and shown["products"]["token"] == "••••••"
    assert "s3cret-token" not in config.stdout + config.stderr


def test_a_dataset_never_writes_into_its_own_source_table(tmp_path: Path) -> None:
    url = simple_source(tmp_path / "app.db", "items", 3)  # the app's own database holds the source table
    settings = load_settings(env={"DATABASE_URL": url, "SCHEDULER_ENABLED": "false"},
                             secrets={"datasets": {"items": {"source": "sql", "url": url, "key": "id"}}})  # fmt: skip
    scheduler = SyncScheduler(settings=settings, clock=FrozenClock())
    scheduler.run_now("sync_items")
    scheduler.tick()
    (run,) = scheduler.history("sync_items")
    assert run.status == "failed" and "would write into its own source" in run.error, run.error
    assert "datasets.items.destination" in run.error
    assert len(source_rows(url, "items", "id")) == 3


def test_a_new_destination_table_is_loaded_whole_even_with_an_old_cursor(tmp_path: Path, sqlite_url: str) -> None:
    """A dropped table (or a renamed destination) starts over: its old cursor would leave the rows before it out."""
    source = simple_source(tmp_path / "shop.db", "products", 30)
    secrets = {"datasets": {"products": {"source": "sql", "url": source, "key": "id", "cursor": "updated_at"}}}
    settings = load_settings(env={"DATABASE_URL": sqlite_url, "SCHEDULER_ENABLED": "false"}, secrets=secrets)
    clock = FrozenClock()
    scheduler = SyncScheduler(settings=settings, clock=clock)
    scheduler.run_now("sync_products")
    scheduler.tick()
    _write(sqlite_url, "DROP TABLE products")
    clock.advance(1)
    scheduler.run_now("sync_products")
    scheduler.tick()
    assert scheduler.history("sync_products", limit=1)[0].rows == 30
    assert store_rows(sqlite_url, "products", "id") == source_rows(source, "products", "id")


def test_the_settings_page_lists_every_dataset_with_its_secrets_masked(
    events_app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")  # only the page: no sync of a made-up endpoint
    monkeypatch.setenv("DATASETS__RATES__ENDPOINT", "http://127.0.0.1:9/rates?key=k3y")
    monkeypatch.setenv("DATASETS__RATES__TOKEN", "t0ken-value")
    monkeypatch.setenv("DATASETS__RATES__CURSOR", "updated_at")
    at = AppTest.from_file(str(ROOT / "pages" / "2_Settings.py"), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[-1].value  # one row per key, one column per dataset
    assert list(table.columns) == ["key", "events", "rates"]
    jobs = table.set_index("key").loc["job"]
    assert list(jobs) == ["sync_events", "sync_rates"]
    shown = table.to_csv()
    assert "t0ken-value" not in shown and "k3y" not in shown and "••••••" in shown


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("postgres://r@db:5432/app", "postgresql+psycopg://r@db:5432/app"),
        ("postgresql://r@db:5432/app", "postgresql+psycopg://r@db:5432/app"),
        ("mysql://r@db:3306/shop", "mysql+pymysql://r@db:3306/shop"),
        ("mariadb://r@db:3306/shop", "mysql+pymysql://r@db:3306/shop"),
        ("mysql+pymysql://r@db:3306/shop", "mysql+pymysql://r@db:3306/shop"),
    ],
)
def test_a_datasets_url_names_the_bundled_drivers_as_source_url_does(given: str, meant: str) -> None:
    """One normalisation for every source URL: a dataset's mysql:// meant MySQLdb (not installed) before."""
    secrets = {"datasets": {"shop": {"source": "sql", "url": given, "table": "orders"}}}
    settings = load_settings(env={}, secrets=secrets)
    assert not settings.issues, settings.issues
    assert settings.datasets[0].url == meant
