"""Bad values across the documented keys, and a broken secrets file, through the CLI and every page (AppTest).

For each: the message names the key and the value, there is no traceback anywhere, the guarded controls are
locked exactly when a guard key (or the secrets) is affected, and no secret value reaches the output or logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
import streamlit.config as st_config
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

import app.config_sources
from app.cli import EXIT_CONFIG, main
from app.config import PARSERS, load_settings

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "streamlit_app.py", ROOT / "pages" / "1_Scheduler.py", ROOT / "pages" / "2_Settings.py"]
# Secrets present in every case: none of them may ever be shown or logged.
MARKERS = {"SOURCE_TOKEN": "Mark3r-token-zz", "SMTP_PASSWORD": "Mark3r-smtp-zz"}
URL_PASSWORD = "Pw-9zz-url"
DEFAULTED = [
    ("SYNC_INTERVAL_MINUTES", "ten"),
    ("SYNC_INTERVAL_MINUTES", "0"),
    ("SCHEDULER_TIMEZONE", "Mars/Olympus"),
    ("AUTOREFRESH_INTERVAL_MINUTES", "-3"),
    ("ENABLE_AUTOREFRESH_FALLBACK", "sometimes"),
    ("SCHEDULER_ENABLED", "perhaps"),
    ("SCHEDULER_IDLE_MINUTES", "forever"),
    ("SCHEDULER_POLL_SECONDS", "0"),
    ("RUN_TIMEOUT_MINUTES", "1e9"),
    ("RUN_MAX_RETRIES", "-1"),
    ("RETRY_BACKOFF_SECONDS", "soon"),
    ("LEASE_SECONDS", "0.1"),
    ("MANUAL_SYNC_COOLDOWN_SECONDS", "nan"),
    ("HISTORY_RETENTION_DAYS", "0"),
    ("MAX_CONCURRENT_RUNS", "1000"),
    ("SYNC_SOURCE", "oracle"),
    ("SYNC_BATCH_SIZE", "0"),
    ("DEMO_ORDERS_PER_MINUTE", "lots"),
    ("SOURCE_TABLE", "orders; DROP TABLE jobs"),
    ("SOURCE_KEY", "1id"),
    ("SOURCE_CURSOR_FIELD", "updated at"),
    ("SOURCE_RATE_LIMIT_PER_SECOND", "-1"),
    ("SOURCE_TIMEOUT_SECONDS", "0"),
    ("SOURCE_MAX_RETRIES", "many"),
    ("UI_LANGUAGE", "fr"),
    ("SMTP_HOST", "smtp.example.com:587"),
    ("SMTP_PORT", "70000"),
    ("SMTP_TLS", "maybe"),
    ("SMTP_FROM", "Ana <ana@example.com>"),
    ("REPORT_RECIPIENTS", "ana@example.com; bob"),
    ("REPORT_TIME", "7am"),
    ("REPORT_PERIOD_DAYS", "400"),
    ("METRICS_PORT", "http"),
    ("ALERT_AFTER_FAILURES", "0"),
    ("ALERT_STALE_MINUTES", "-5"),
    ("ALERT_RECIPIENTS", "nobody"),
]
FATAL = [
    ("DATABASE_URL", f"mysql://u:{URL_PASSWORD}@127.0.0.1/x", "mysql://u:***@127.0.0.1/x"),
    ("DATABASE_URL", f"postgresql+psycopg2://u:{URL_PASSWORD}@h/x", "postgresql+psycopg2://u:***@h/x"),
    ("DATABASE_URL", "not a url", "not a url"),
    ("SOURCE_URL", f"snowflake://u:{URL_PASSWORD}@acct/db", "snowflake://u:***@acct/db"),
    ("SOURCE_ENDPOINT", "ftp://files.example.com/x", "ftp://files.example.com/x"),
]
GUARDS = [("ADMIN_PASSWORD", "   "), ("ADMIN_USERS", "bob")]
CASES = (
    [pytest.param(k, v, repr(v), "default", id=f"{k}={v}") for k, v in DEFAULTED]
    + [pytest.param(k, v, shown, "fatal", id=f"{k}={shown}") for k, v, shown in FATAL]
    + [pytest.param(k, v, "••••••" if k == "ADMIN_PASSWORD" else repr(v), "guard", id=f"{k}={v!r}") for k, v in GUARDS]
)


def test_the_matrix_covers_at_least_thirty_bad_values_across_the_documented_keys() -> None:
    assert len(CASES) >= 30
    assert len({case.values[0] for case in CASES}) >= 30


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for key in PARSERS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fd.db'}")
    monkeypatch.setenv("DEMO_SOURCE_PATH", str(tmp_path / "demo.db"))
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")  # pages render from the database; no background syncs
    monkeypatch.setattr(app.config_sources, "DEFAULT_SECRETS_PATH", tmp_path / "no-secrets.toml")
    for key, value in MARKERS.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def _no_secret(text: str) -> None:
    for secret in (*MARKERS.values(), URL_PASSWORD, "s3cret-in-broken-file"):
        assert secret not in text


def _pages() -> Iterator[tuple[Path, AppTest, str]]:
    for path in PAGES:
        at = AppTest.from_file(str(path), default_timeout=30)
        at.run()
        assert not at.exception, (path.name, [e.value for e in at.exception])
        text = "\n".join(str(getattr(e, "value", "")) for e in [*at.main, *at.sidebar] if hasattr(e, "value"))
        text += "\n".join(e.value for e in at.markdown) + "\n".join(e.value for e in at.error)
        assert "Traceback" not in text, path.name
        yield path, at, text


def _locked(at: AppTest) -> bool:
    return bool(at.button(key="fd_restart").disabled) and any("locked for everyone" in w.value for w in at.warning)


@pytest.mark.parametrize(("key", "value", "shown", "kind"), CASES)
def test_a_bad_value_is_named_everywhere_without_traceback_or_secret(
    environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, key: str, value: str, shown: str, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    environment.setenv(key, value)
    named = f"{key}={shown}"
    assert any(str(i).startswith(named) for i in (*load_settings().issues, *load_settings().fatal))

    result = CliRunner().invoke(main, ["status"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == (EXIT_CONFIG if kind == "fatal" else 0), result.output
    assert named in result.output and "Traceback" not in result.output
    _no_secret(result.output)

    for path, at, text in _pages():
        if path.name == "2_Settings.py" or kind == "fatal":
            assert key in text and shown in text, (path.name, text)
        if kind == "fatal":
            assert [e.value for e in at.sidebar.error] == ["Settings unusable · details on the page"], path.name
        if path.name == "1_Scheduler.py" and kind != "fatal":
            assert _locked(at) == (kind == "guard"), path.name
        _no_secret(text + str(at._tree))
    _no_secret(caplog.text)


def test_a_broken_secrets_file_locks_the_controls_everywhere(
    environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    broken = tmp_path / "secrets.toml"
    broken.write_text('ADMIN_PASSWORD = "s3cret-in-broken-file"\nSYNC_INTERVAL_MINUTES = = 7\n')
    environment.setattr(app.config_sources, "DEFAULT_SECRETS_PATH", broken)
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0 and "is not valid TOML" in result.output and "line 2" in result.output
    _no_secret(result.output)

    before = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(broken)])  # what Streamlit reads: the same broken file
    st.secrets._reset()
    try:
        for path, at, text in _pages():
            if path.name == "1_Scheduler.py":
                assert _locked(at) and not at.text_input  # no password box either: nobody gets in
            if path.name == "2_Settings.py":
                assert "Error parsing secrets file" in text and "line 2" in text
            _no_secret(text + str(at._tree))
    finally:
        st_config.set_option("secrets.files", before)
        st.secrets._reset()
    _no_secret(caplog.text)
