from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config import DEFAULT_DATABASE_URL, Settings, load_settings

BAD_VALUES = [
    ("SYNC_INTERVAL_MINUTES", "abc", "must be a number"),
    ("SYNC_INTERVAL_MINUTES", "0", "between 0.01"),
    ("SYNC_INTERVAL_MINUTES", "-5", "between 0.01"),
    ("AUTOREFRESH_INTERVAL_MINUTES", "soon", "must be a number"),
    ("ENABLE_AUTOREFRESH_FALLBACK", "maybe", "true or false"),
    ("SCHEDULER_TIMEZONE", "Mars/Olympus", "IANA time zone"),
    ("DATABASE_URL", "not a url", "SQLAlchemy URL"),
    ("DATABASE_URL", "mysql://root@localhost/db", "sqlite:// or postgresql://"),
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
    assert issue.key == key
    if key == "DATABASE_URL":
        assert issue.value in {"<unparsable URL hidden>", "mysql://root@localhost/db"}  # may hold a password
    else:
        assert value in issue.value
    assert allowed in issue.message
    assert "using the default" in issue.message
    assert getattr(settings, key.lower()) == getattr(Settings(), key.lower())


def test_defaults_from_the_seed() -> None:
    settings = load_settings(env={}, secrets={}, secrets_path=Path("/nonexistent/secrets.toml"))
    assert settings.issues == ()
    assert settings.sync_interval_minutes == 15
    assert settings.scheduler_timezone == "America/Sao_Paulo"
    assert settings.autorefresh_interval_minutes == 30
    assert settings.enable_autorefresh_fallback is True
    assert settings.database_url == DEFAULT_DATABASE_URL


def test_environment_wins_over_secrets_and_secrets_over_defaults() -> None:
    settings = load_settings(
        env={"SYNC_INTERVAL_MINUTES": "5"},
        secrets={
            "SYNC_INTERVAL_MINUTES": 10,
            "SCHEDULER_TIMEZONE": "UTC",
            "ENABLE_AUTOREFRESH_FALLBACK": False,
        },
    )
    assert settings.sync_interval_minutes == 5
    assert settings.scheduler_timezone == "UTC"
    assert settings.enable_autorefresh_fallback is False


def test_secrets_toml_is_read_when_not_under_streamlit(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text('SYNC_INTERVAL_MINUTES = 7\nADMIN_USERS = ["a@x.org", "b@x.org"]\n')
    settings = load_settings(env={}, secrets_path=path)
    assert settings.sync_interval_minutes == 7
    assert settings.admin_users == ("a@x.org", "b@x.org")


def test_broken_secrets_toml_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text("SYNC_INTERVAL_MINUTES = = 7\n[unclosed\n")
    settings = load_settings(env={}, secrets_path=path)
    assert settings.sync_interval_minutes == 15
    assert "cannot be read as TOML" in settings.issues[0].message


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
    assert "topsecret" not in str(bad.issues)


def test_cli_still_starts_with_every_bad_value_at_once(tmp_path: Path) -> None:
    env = {key: value for key, value, _ in BAD_VALUES if key != "DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    env["DEMO_SOURCE_PATH"] = str(tmp_path / "demo.db")
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "app", "jobs"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "incremental_sync" in proc.stdout
    for key in ("SYNC_INTERVAL_MINUTES", "SCHEDULER_TIMEZONE", "UI_LANGUAGE"):
        assert f"warning: {key}=" in proc.stderr


def test_unreachable_database_gives_a_clear_cli_error_without_the_password(tmp_path: Path) -> None:
    import os

    env = {
        **os.environ,
        "DATABASE_URL": "postgresql+psycopg://app:hunter2@127.0.0.1:1/none",
        "DEMO_SOURCE_PATH": str(tmp_path / "d.db"),
    }
    proc = subprocess.run([sys.executable, "-m", "app", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "cannot use the database postgresql+psycopg://app:***@127.0.0.1:1/none" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout


def test_the_shells_own_language_variable_is_not_ours() -> None:
    settings = load_settings(env={"LANGUAGE": "en_US:en"}, secrets={})
    assert settings.issues == () and settings.ui_language == "en"
