"""Failures classified from real driver errors (SQLite, PostgreSQL, MariaDB): the cause, the driver's message, the
hint that fits, never the password; and a database folder that cannot be created explained on every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from app.config import PARSERS
from app.core.database import create_database_engine, create_schema
from app.core.failures import Cause, classify, describe, source_role, store_role
from app.errors import StoreError

ROOT = Path(__file__).resolve().parents[1]


def _error_of(url: str, sql: str = "SELECT 1") -> BaseException:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    except Exception as exc:  # noqa: BLE001 - the real driver error is what we classify
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{sql!r} on {url} did not fail")


def test_sqlite_unknown_table_and_column(sqlite_url: str) -> None:
    assert classify(_error_of(sqlite_url, "SELECT * FROM nosuch")).cause is Cause.UNKNOWN_TABLE
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER)"))
    engine.dispose()
    failure = classify(_error_of(sqlite_url, "SELECT nosuch FROM t"))
    assert failure.cause is Cause.UNKNOWN_COLUMN and "no such column: nosuch" in failure.detail
    assert failure.hint(source_role()) == "check SOURCE_KEY and SOURCE_CURSOR_FIELD against the source table's columns"


def test_postgresql_unknown_database_table_and_network(pg_url: str) -> None:
    missing_db = make_url(pg_url).set(database="fd_nosuch_db").render_as_string(hide_password=False)
    assert classify(_error_of(missing_db)).cause is Cause.UNKNOWN_DATABASE
    failure = classify(_error_of(pg_url, "SELECT * FROM nosuch"))
    assert failure.cause is Cause.UNKNOWN_TABLE and failure.detail.startswith("UndefinedTable: relation")
    refused = make_url(pg_url).set(port=1, password="Pw-31").render_as_string(hide_password=False)
    message = describe("cannot reach the source", _error_of(refused), make_url(refused), source_role())
    assert "(network); check the host and port in SOURCE_URL" in message and "Pw-31" not in message


def test_mariadb_wrong_user_is_authentication(mariadb_url: str) -> None:
    url = make_url(mariadb_url).set(username="fd_nobody", password="Pw-32")
    message = describe("cannot reach the source", _error_of(url.render_as_string(hide_password=False)), url,
                       source_role())  # fmt: skip
    assert "Access denied for user 'fd_nobody'" in message and "(authentication)" in message
    assert message.endswith("check the user and password in SOURCE_URL") and "Pw-32" not in message


def test_a_password_in_the_drivers_own_message_is_masked() -> None:
    class DriverError(Exception):
        pass

    failure = classify(DriverError("login as ana with secret Pw-33 refused"), ("Pw-33",))
    assert failure.detail == "DriverError: login as ana with secret *** refused"


def test_an_sqlite_folder_that_cannot_be_created_is_a_store_error() -> None:
    with pytest.raises(StoreError) as caught:
        create_schema(create_database_engine("sqlite:////sys/fd_x/freshdash.db"))
    message = str(caught.value)
    assert message.startswith("cannot use the database sqlite:////sys/fd_x/freshdash.db: PermissionError")
    assert "(permission); check that the folder of the SQLite file in DATABASE_URL exists and is writable" in message
    assert store_role().what == "the database"


def test_an_unusable_database_is_explained_on_every_page_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in PARSERS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite:////sys/fd_x/freshdash.db")
    pages: dict[str, Any] = {}
    for path in (ROOT / "streamlit_app.py", ROOT / "pages" / "1_Scheduler.py", ROOT / "pages" / "2_Settings.py"):
        at = AppTest.from_file(str(path), default_timeout=30)
        at.run()
        assert not at.exception, (path.name, [e.value for e in at.exception])
        assert [e.value for e in at.sidebar.error] == ["Database unusable · details on the page"], path.name
        errors = [str(e.value) for e in at.main.error]
        assert any("cannot use the database sqlite:////sys/fd_x/freshdash.db: PermissionError" in e for e in errors)
        pages[path.name] = at
    assert len(pages["2_Settings.py"].dataframe[0].value) == len(PARSERS)  # the Settings page is not empty
