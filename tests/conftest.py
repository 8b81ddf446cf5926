"""Shared fixtures: real SQLite files and a real PostgreSQL database per test, settings, clean process state."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Settings, load_settings

PG_ADMIN_URL = os.environ.get("FRESHDASH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN_URL = os.environ.get("FRESHDASH_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip locally with a clear reason; in CI a missing PostgreSQL or browser is a failure."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _reachable(url: str, what: str) -> str | None:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{what} not reachable at {make_url(url).render_as_string()}: {type(exc).__name__}"


def _required_server(url: str, what: str) -> str:
    problem = _reachable(url, what)
    if problem:
        missing(problem)
    return url


@contextmanager
def _scratch_database(admin_url: str, drop_options: str = "") -> Iterator[str]:
    """A fresh, empty database on a server for one test; dropped afterwards."""
    name = f"fd_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote_identifier(name)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {quoted}"))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        from app.core.database import dispose_engines

        dispose_engines()  # the app's pooled connections to it would hold the drop up
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}{drop_options}"))
        admin.dispose()


@pytest.fixture(scope="session")
def mariadb_admin_url() -> str:
    return _required_server(MARIADB_ADMIN_URL, "MariaDB")


@pytest.fixture
def mariadb_url(mariadb_admin_url: str) -> Iterator[str]:
    """A fresh MariaDB database for one test (a sync source), dropped afterwards."""
    with _scratch_database(mariadb_admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return _required_server(PG_ADMIN_URL, "PostgreSQL")


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with _scratch_database(pg_admin_url, " WITH (FORCE)") as url:
        yield url


@pytest.fixture
def pg_source_url(pg_admin_url: str) -> Iterator[str]:
    """A second fresh PostgreSQL database, for a sync source beside a PostgreSQL store (`pg_url`)."""
    with _scratch_database(pg_admin_url, " WITH (FORCE)") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'freshdash.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'freshdash.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def make_settings(tmp_path: Path) -> Any:
    def build(database_url: str, **overrides: Any) -> Settings:
        env = {"DATABASE_URL": database_url, "DEMO_SOURCE_PATH": str(tmp_path / "demo_source.db")}
        env.update({k.upper(): str(v) for k, v in overrides.items()})
        settings = load_settings(env=env, secrets={})
        assert not settings.issues, settings.issues
        return settings

    return build


@pytest.fixture(autouse=True)
def _clean_process_state() -> Iterator[None]:
    """Cached resources and schedulers leak between tests otherwise."""
    yield
    from app.core import process_registry
    from app.core.database import dispose_engines

    for scheduler in process_registry.live():
        scheduler.shutdown(wait=False)
    try:
        import streamlit as st

        st.cache_resource.clear()
        st.cache_data.clear()
    except Exception:  # noqa: BLE001
        pass
    dispose_engines()


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        missing("Debian chromium is not installed (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing("python playwright is not installed (pip install -r requirements-dev.txt)")
    return path
