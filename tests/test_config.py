"""The loader: one precedence with origins, defaults for most bad values, no fallback for placement keys,
fail-closed guard keys and secrets, URL forms, and Streamlit's copy of secrets into os.environ undone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import DEFAULT_DATABASE_URL, Settings, effective_rows, load_settings, redact_url
from app.config_sources import DEFAULT, ENVIRONMENT, SECRETS, environment_without_promoted_secrets

NO_FILE = Path("/nonexistent/secrets.toml")
BAD_VALUES = [
    ("SYNC_INTERVAL_MINUTES", "abc", "must be a number"),
    ("SYNC_INTERVAL_MINUTES", "0", "between 0.01"),
    ("SYNC_INTERVAL_MINUTES", "-5", "between 0.01"),
    ("AUTOREFRESH_INTERVAL_MINUTES", "soon", "must be a number"),
    ("ENABLE_AUTOREFRESH_FALLBACK", "maybe", "true or false"),
    ("SCHEDULER_TIMEZONE", "Mars/Olympus", "IANA time zone"),
    ("SCHEDULER_IDLE_MINUTES", "-1", "between"),
    ("RUN_MAX_RETRIES", "2.5", "whole number"),
    ("SYNC_SOURCE", "oracle", "one of demo, sql"),
    ("SOURCE_TABLE", "orders; DROP TABLE jobs", "plain SQL name"),
    ("UI_LANGUAGE", "fr", "one of en, pt-BR"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_bad_value_is_reported_with_key_value_and_what_is_allowed(key: str, value: str, allowed: str) -> None:
    settings = load_settings(env={key: value}, secrets={})
    [issue] = settings.issues
    assert issue.key == key and value in issue.value
    assert allowed in issue.message and "(from environment)" in issue.message
    assert "using the default" in issue.message
    assert getattr(settings, key.lower()) == getattr(Settings(), key.lower())
    assert settings.origin(key) == "default (environment value rejected)"
    assert settings.fatal == () and settings.locked_reason == ""


PLACEMENT = [
    ("DATABASE_URL", "not a url", "not a url", "SQLAlchemy URL"),
    ("DATABASE_URL", "mysql://root:Pw-9@localhost/db", "mysql://root:***@localhost/db", "sqlite:// or postgresql://"),
    ("DATABASE_URL", "", "", "SQLAlchemy URL"),
    ("DATABASE_URL", "postgresql+psycopg2://u:Pw-9@h/db", "postgresql+psycopg2://u:***@h/db", "'psycopg2'"),
    ("DATABASE_URL", "po stgres://u:Pw-9@h/db", "po stgres://u:***@h/db", "sqlite:// or postgresql://"),
    ("SOURCE_URL", "snowflake://u:Pw-9@acct/db", "snowflake://u:***@acct/db", "unknown database or driver"),
    ("SOURCE_URL", "mssql+pyodbc://u:Pw-9@h/db", "mssql+pyodbc://u:***@h/db", "'pyodbc', which is not installed"),
    ("SOURCE_ENDPOINT", "ftp://files.example.com/x", "ftp://files.example.com/x", "http:// or https://"),
]


@pytest.mark.parametrize(("key", "value", "shown", "allowed"), PLACEMENT)
def test_a_placement_key_never_falls_back(key: str, value: str, shown: str, allowed: str) -> None:
    settings = load_settings(env={key: value}, secrets={})
    [issue] = settings.fatal
    assert issue.key == key and issue.value == shown and allowed in issue.message
    assert "does not fall back" in issue.message and "using the default" not in issue.message
    assert "Pw-9" not in str(issue)
    assert settings.issues == ()  # not a warning beside a default: nothing may run


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db:5432/x", "postgresql+psycopg://u:p@db:5432/x"),
        ("postgresql://u:p@db/x", "postgresql+psycopg://u:p@db/x"),
        ("POSTGRES://u@db/x", "postgresql+psycopg://u@db/x"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
    ],
)
def test_postgres_url_forms_map_to_the_bundled_driver(given: str, used: str) -> None:
    settings = load_settings(env={"DATABASE_URL": given}, secrets={})
    assert settings.fatal == () and settings.database_url == used


def test_source_url_forms_map_to_the_bundled_drivers() -> None:
    for given, used in [
        ("mysql://u@h/db", "mysql+pymysql://u@h/db"),
        ("mariadb://u@h/db", "mysql+pymysql://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ]:
        assert load_settings(env={"SOURCE_URL": given}, secrets={}).source_url == used


def test_defaults_from_the_seed() -> None:
    settings = load_settings(env={}, secrets={}, secrets_path=NO_FILE)
    assert settings.issues == () and settings.fatal == ()
    assert settings.sync_interval_minutes == 15
    assert settings.scheduler_timezone == "America/Sao_Paulo"
    assert settings.autorefresh_interval_minutes == 30
    assert settings.enable_autorefresh_fallback is True
    assert settings.database_url == DEFAULT_DATABASE_URL


def test_environment_wins_over_secrets_and_secrets_over_defaults_with_origins() -> None:
    settings = load_settings(
        env={"SYNC_INTERVAL_MINUTES": "5"},
        secrets={"SYNC_INTERVAL_MINUTES": 10, "SCHEDULER_TIMEZONE": "UTC", "ENABLE_AUTOREFRESH_FALLBACK": False},
    )
    assert settings.sync_interval_minutes == 5
    assert settings.scheduler_timezone == "UTC"
    assert settings.enable_autorefresh_fallback is False
    assert settings.origin("SYNC_INTERVAL_MINUTES") == ENVIRONMENT
    assert settings.origin("SCHEDULER_TIMEZONE") == SECRETS
    assert settings.origin("UI_LANGUAGE") == DEFAULT
    rows = {r["key"]: r for r in effective_rows(settings)}
    assert rows["SYNC_INTERVAL_MINUTES"] == {"key": "SYNC_INTERVAL_MINUTES", "value": "5", "origin": ENVIRONMENT,
                                             "default": "15"}  # fmt: skip


def test_secrets_toml_is_read_when_not_under_streamlit(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text('SYNC_INTERVAL_MINUTES = 7\nADMIN_USERS = ["a@x.org", "b@x.org"]\n')
    settings = load_settings(env={}, secrets_path=path)
    assert settings.sync_interval_minutes == 7
    assert settings.admin_users == ("a@x.org", "b@x.org")
    assert settings.origin("ADMIN_USERS") == SECRETS and settings.locked_reason == ""


def test_broken_secrets_toml_locks_the_controls_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text('ADMIN_PASSWORD = "s3cret-admin"\nSYNC_INTERVAL_MINUTES = = 7\n')
    settings = load_settings(env={}, secrets_path=path)
    assert settings.admin_password == ""  # dropped with the file ...
    assert "is not valid TOML" in settings.locked_reason and str(path) in settings.locked_reason  # ... but locked
    assert "fix the secrets file" in settings.locked_reason
    assert settings.issues[0].key == "secrets" and "line 2" in settings.issues[0].message
    assert "s3cret-admin" not in repr(settings) + str(settings.issues) + settings.locked_reason
    assert settings.fatal == ()  # it set no placement key


def test_broken_secrets_that_set_the_database_stop_everything(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text('DATABASE_URL = "postgresql://u:Pw-9@db/x"\nSYNC_INTERVAL_MINUTES = = 7\n')
    [issue] = load_settings(env={}, secrets_path=path).fatal
    assert issue.key == "DATABASE_URL" and "cannot be read" in issue.message and "Pw-9" not in str(issue)
    # The environment's DATABASE_URL wins anyway: nothing is lost then.
    assert load_settings(env={"DATABASE_URL": "sqlite:///x.db"}, secrets_path=path).fatal == ()


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("ADMIN_PASSWORD", "   ", "set but empty"),
        ("ADMIN_PASSWORD", ["a", "b"], "not a table, a list"),
        ("ADMIN_PASSWORD", True, "not a table, a list or true/false"),
        ("ADMIN_PASSWORD", {"value": "x"}, "not a table"),
        ("ADMIN_USERS", "bob", "e-mail addresses"),
        ("ADMIN_USERS", " , ", "lists nobody"),
        ("ADMIN_USERS", {"a": 1}, "e-mail addresses"),
    ],
)
def test_an_invalid_guard_key_locks_the_controls(key: str, value: object, why: str) -> None:
    settings = load_settings(env={}, secrets={key: value})
    [issue] = settings.issues
    assert issue.key == key and why in issue.message and "controls stay locked" in issue.message
    assert settings.locked_reason.startswith(key) and "reload the page" in settings.locked_reason
    if key == "ADMIN_PASSWORD":
        assert issue.value == "••••••"  # never the value of a secret, even a rejected one


def test_a_valid_guard_does_not_lock() -> None:
    settings = load_settings(env={"ADMIN_PASSWORD": "s3cret", "ADMIN_USERS": "a@x.org"}, secrets={})
    assert settings.locked_reason == "" and settings.issues == ()
    assert load_settings(env={}, secrets={"ADMIN_PASSWORD": 1234}).admin_password == "1234"


def test_secrets_are_masked_in_the_redacted_view_and_in_issues() -> None:
    settings = load_settings(
        env={
            "DATABASE_URL": "postgresql+psycopg://app:hunter2@db.example:5432/fresh",
            "ADMIN_PASSWORD": "s3cret-admin",
            "SOURCE_URL": "postgresql://reader:pa55word@src/db",
        },
        secrets={},
    )
    shown = " ".join(settings.redacted().values())
    for secret in ("hunter2", "s3cret-admin", "pa55word"):
        assert secret not in shown
        assert secret not in repr(settings.redacted())
    assert "db.example" in shown
    assert "hunter2" not in repr(settings)
    bad = load_settings(env={"DATABASE_URL": "oracle://u:topsecret@h/x"}, secrets={})
    assert "topsecret" not in str(bad.fatal) and "oracle://u:***@h/x" in str(bad.fatal)


def test_an_unparsable_url_is_still_named_with_its_password_masked() -> None:
    assert redact_url("po stgres://ana:Pw-9@db:5432/x") == "po stgres://ana:***@db:5432/x"
    assert redact_url("postgresql://ana:Pw-9@db/x") == "postgresql://ana:***@db/x"


def test_streamlits_copy_of_secrets_into_the_environment_is_undone() -> None:
    # Streamlit wrote the secrets over the user's variables (and added the ones the user did not set).
    secrets = {"SYNC_INTERVAL_MINUTES": 1, "SOURCE_TABLE": "from_secrets", "ENABLE_AUTOREFRESH_FALLBACK": False}
    now = {"SYNC_INTERVAL_MINUTES": "1", "SOURCE_TABLE": "from_secrets", "PATH": "/bin"}
    started = {"SYNC_INTERVAL_MINUTES": "7", "PATH": "/bin"}
    env = environment_without_promoted_secrets(secrets, now, started)
    assert env == {"SYNC_INTERVAL_MINUTES": "7", "PATH": "/bin"}
    settings = load_settings(env=env, secrets=secrets)
    assert settings.sync_interval_minutes == 7 and settings.origin("SYNC_INTERVAL_MINUTES") == ENVIRONMENT
    assert settings.source_table == "from_secrets" and settings.origin("SOURCE_TABLE") == SECRETS
    # A variable changed after start (e.g. by a test) and different from the secret is kept as it is.
    assert environment_without_promoted_secrets(secrets, {"SOURCE_TABLE": "mine"}, {})["SOURCE_TABLE"] == "mine"
    # Where the OS does not tell the start environment, an equal value is left to the secrets (same value).
    assert "SOURCE_TABLE" not in environment_without_promoted_secrets(secrets, now, None)


def test_cli_still_starts_with_every_non_placement_bad_value_at_once(tmp_path: Path) -> None:
    env = {key: value for key, value, _ in BAD_VALUES}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    env["DEMO_SOURCE_PATH"] = str(tmp_path / "demo.db")
    proc = subprocess.run(
        [sys.executable, "-m", "app", "jobs"], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "incremental_sync" in proc.stdout
    for key in ("SYNC_INTERVAL_MINUTES", "SCHEDULER_TIMEZONE", "UI_LANGUAGE"):
        assert f"warning: {key}=" in proc.stderr


def test_unreachable_database_gives_a_clear_cli_error_without_the_password(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql+psycopg://app:hunter2@127.0.0.1:1/none",
        "DEMO_SOURCE_PATH": str(tmp_path / "d.db"),
    }
    proc = subprocess.run([sys.executable, "-m", "app", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4
    assert "cannot use the database postgresql+psycopg://app:***@127.0.0.1:1/none" in proc.stderr
    assert "(network); check the host and port in DATABASE_URL" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout


def test_the_shells_own_language_variable_is_not_ours() -> None:
    settings = load_settings(env={"LANGUAGE": "en_US:en"}, secrets={})
    assert settings.issues == () and settings.ui_language == "en"


def test_no_scheduler_is_built_on_settings_that_cannot_be_used() -> None:
    from app.core.scheduler import SyncScheduler, initialize_scheduler
    from app.errors import ConfigError

    bad = load_settings(env={"DATABASE_URL": "mysql://u:Pw-9@h/x"}, secrets={})
    with pytest.raises(ConfigError, match=r"DATABASE_URL=mysql://u:\*\*\*@h/x"):
        SyncScheduler(settings=bad)  # the seed API, workers and scripts cannot fall back to the default file
    assert initialize_scheduler(bad) is None
