"""One precedence everywhere: the app and the CLI read the same settings from the same environment and secrets.

The bug this guards against: Streamlit copies every top-level secret into os.environ (overwriting the user's
variables), so an app reading os.environ naively let the secrets win while the CLI let the environment win,
and the two worked on two different databases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest

import app.config_sources
from app.cli import main
from app.config import PARSERS
from tests.browser_support import CHROMIUM_ARGS, VIEWPORT, clean_env, streamlit_process, tail
from tests.conftest import chromium_path

ROOT = Path(__file__).resolve().parents[1]
SECRETS_TOML = """
SYNC_INTERVAL_MINUTES = 1
DATABASE_URL = "sqlite:///{a}"
SOURCE_TABLE = "from_secrets"
UI_LANGUAGE = "pt-BR"
SCHEDULER_TIMEZONE = "UTC"
ADMIN_PASSWORD = "Secr3t-only-in-secrets"
"""


def _inputs(tmp_path: Path) -> tuple[dict[str, str], dict[str, Any], Path]:
    env = {
        "SYNC_INTERVAL_MINUTES": "7",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "SOURCE_TABLE": "from_env",
        "UI_LANGUAGE": "en",
        "DEMO_SOURCE_PATH": str(tmp_path / "demo.db"),
    }
    path = tmp_path / "secrets.toml"
    path.write_text(SECRETS_TOML.format(a=tmp_path / "a.db"))
    import tomllib

    return env, tomllib.loads(path.read_text()), path


def _cli_rows(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], secrets_path: Path) -> list[dict[str, str]]:
    """`python -m app --json config` in this process: the CLI's own loader reading that secrets file."""
    monkeypatch.setattr(app.config_sources, "DEFAULT_SECRETS_PATH", secrets_path)
    for key in PARSERS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["config", "--json"])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["settings"])


def test_the_settings_page_and_the_cli_show_the_same_values_and_origins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env, secrets, path = _inputs(tmp_path)
    for key in PARSERS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # What `streamlit run` does before any page runs: every top-level secret is written over os.environ,
    # by Streamlit's own code. The process itself was started with `env` (what /proc/self/environ tells).
    started_with = {**os.environ}
    monkeypatch.setattr("app.ui.resources.startup_environment", lambda: started_with)
    for key, value in secrets.items():
        monkeypatch.delenv(key, raising=False)  # records the value to restore after the test
        Secrets._maybe_set_environment_variable(key, value)
    at = AppTest.from_file(str(ROOT / "pages" / "2_Settings.py"), default_timeout=30)
    at.secrets = secrets
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    app_rows = at.dataframe[0].value.to_dict("records")

    cli_rows = _cli_rows(monkeypatch, env, path)
    # the page shows an empty value as "—" (never a blank cell); otherwise the very same rows
    assert app_rows == [{k: v or "—" for k, v in row.items()} for row in cli_rows]
    shown = {row["key"]: (row["value"], row["origin"]) for row in app_rows}
    assert shown["SYNC_INTERVAL_MINUTES"] == ("7", "environment")
    assert shown["DATABASE_URL"] == (f"sqlite:///{tmp_path / 'b.db'}", "environment")
    assert shown["SOURCE_TABLE"] == ("from_env", "environment")
    assert shown["UI_LANGUAGE"] == ("en", "environment")
    assert shown["SCHEDULER_TIMEZONE"] == ("UTC", "secrets")
    assert shown["ADMIN_PASSWORD"] == ("••••••", "secrets")
    assert shown["RUN_MAX_RETRIES"] == ("2", "default")
    assert at.title[0].value == "Settings"  # en from the environment, not pt-BR from the secrets
    assert "Secr3t-only-in-secrets" not in json.dumps(app_rows)


@pytest.mark.browser
@pytest.mark.slow
def test_a_real_streamlit_run_and_the_cli_use_the_same_database(tmp_path: Path) -> None:
    executable = chromium_path()  # skips locally, fails in CI, when chromium or playwright is missing
    from playwright.sync_api import sync_playwright

    env, _, path = _inputs(tmp_path)
    process_env = clean_env({**env, "SCHEDULER_POLL_SECONDS": "1"})
    log = tmp_path / "server.log"
    with (
        streamlit_process("pages/2_Settings.py", process_env, log, extra_args=("--secrets.files", str(path))) as (
            _,
            url,
        ),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(url)
        page.locator("h1").first.wait_for(timeout=30_000)
        assert page.locator("h1").first.inner_text() == "Settings", tail(log)  # UI_LANGUAGE=en won
        assert page.locator('[data-testid="stException"]').count() == 0
        page.get_by_text("Data as of").or_(page.get_by_text("No data synced yet")).first.wait_for(timeout=30_000)
        browser.close()
    assert not (tmp_path / "a.db").exists(), "the app used the secrets' DATABASE_URL"
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        interval = conn.execute(text("SELECT period_seconds FROM jobs WHERE name = 'incremental_sync'")).scalar()
    engine.dispose()
    assert interval == 7 * 60  # SYNC_INTERVAL_MINUTES from the environment, not 1 from the secrets
    # The CLI, given the same environment, names the same database and interval.
    cli = subprocess.run(
        [sys.executable, "-m", "app", "--json", "config"], env=process_env, cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    rows = {r["key"]: r for r in json.loads(cli.stdout)["settings"]}
    assert rows["DATABASE_URL"]["value"] == env["DATABASE_URL"] and rows["DATABASE_URL"]["origin"] == "environment"
    assert rows["SYNC_INTERVAL_MINUTES"]["value"] == "7"
