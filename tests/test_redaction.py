"""Each setting is declared once (parser, default, secrecy, placement), and every secret is hidden by one
redaction module everywhere it could show: the CLI `config`, the Settings page, a failed run's error, logs."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from app.clock import FrozenClock
from app.config import (
    GUARD_KEYS,
    PARSERS,
    PLACEMENT_KEYS,
    SECRET_KEYS,
    SETTINGS,
    Settings,
    declared_settings,
    effective_rows,
    load_settings,
    secret_values,
    setting,
    shown_value,
)
from app.dataset_config import KEY_SETTINGS, SECRET_DATASET_KEYS
from app.redaction import MASK, Secrecy, redact_http_url, redact_url, scrub, secrets_in, shown
from tests.support import job, scheduler
from tests.test_ui import Configure, configure, render, rendered_bytes  # noqa: F401 - `configure` is a fixture

ROOT = Path(__file__).resolve().parents[1]

# -- each key declared once ----------------------------------------------------------------------------------


def test_a_field_declared_without_its_parser_is_refused_at_import() -> None:
    @dataclasses.dataclass(frozen=True)
    class Partial:
        good_key: int = setting(1, int)
        new_key: int = 2  # added in the old style: no parser, no secrecy

    with pytest.raises(TypeError, match=r"Partial\.new_key is not declared with setting"):
        declared_settings(Partial)
    assert list(declared_settings(Settings)) == list(PARSERS)  # every Settings key has its parser


def test_the_key_lists_are_derived_from_the_declarations() -> None:
    assert set(SETTINGS) == {f.name.upper() for f in dataclasses.fields(Settings)} - {
        "ISSUES", "ORIGINS", "FATAL", "LOCKED_REASON", "DECLARED_DATASETS", "SEED_DATASET", "REPORTS",
    }  # fmt: skip
    assert PLACEMENT_KEYS == {"DATABASE_URL", "SOURCE_URL", "SOURCE_ENDPOINT"}
    assert GUARD_KEYS == {"ADMIN_PASSWORD", "ADMIN_USERS"}
    assert SECRET_KEYS == {
        "ADMIN_PASSWORD",
        "DATABASE_URL",
        "SOURCE_URL",
        "SOURCE_ENDPOINT",
        "SOURCE_TOKEN",
        "SMTP_PASSWORD",
    }
    for key, declared in SETTINGS.items():
        assert declared.key == key and declared.default == getattr(Settings(), key.lower()), key


def test_a_key_named_like_a_secret_is_declared_secret() -> None:
    """A new SOMETHING_PASSWORD / _TOKEN / _URL is masked everywhere by being declared secret, nothing else."""
    looks_secret = re.compile(r"PASSWORD|TOKEN|SECRET|API_KEY|_URL$|ENDPOINT")
    undeclared = [key for key in SETTINGS if looks_secret.search(key) and key not in SECRET_KEYS]
    assert not undeclared, f"declare these with setting(..., secret=Secrecy....): {undeclared}"
    dataset_keys = [key for key in KEY_SETTINGS if looks_secret.search(key.upper()) or key in {"url", "token"}]
    assert dataset_keys == ["url", "endpoint", "token"] and set(dataset_keys) == SECRET_DATASET_KEYS


def test_every_key_is_documented_in_the_example_secrets_and_the_readme() -> None:
    example = (ROOT / ".streamlit" / "secrets.toml.example").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for key in SETTINGS:
        assert re.search(rf"^#? ?{key} =", example, re.MULTILINE), f"{key} is missing in secrets.toml.example"
        assert f"`{key}`" in readme, f"{key} is missing in the README's configuration table"


# -- every secret key, whatever its kind, is hidden everywhere (samples derived from the declaration) ----------


def _sample(key: str, secrecy: Secrecy) -> tuple[str, list[str]]:
    """A value the key's parser accepts, and the parts of it that must never be shown."""
    secret = f"S3cret-{key.lower()}-Va1ue"
    if secrecy is Secrecy.DATABASE_URL:
        return f"postgresql+psycopg://reader:{secret}@db.example.com:5432/x", [secret]
    if secrecy is Secrecy.HTTP_URL:
        return f"https://svc:{secret}@api.example.com/orders?api_key=K3y-{key.lower()}", [secret, f"K3y-{key.lower()}"]
    return secret, [secret]


SAMPLES = {key: _sample(key, SETTINGS[key].secret or Secrecy.VALUE) for key in sorted(SECRET_KEYS)}


def test_every_secret_key_is_masked_in_rows_repr_messages_and_rejections() -> None:
    settings = load_settings(env={key: value for key, (value, _) in SAMPLES.items()}, secrets={})
    assert not settings.issues and not settings.fatal, settings.issues + settings.fatal
    shown_text = repr(settings) + json.dumps(effective_rows(settings)) + str(settings.redacted())
    secrets = secret_values(settings)
    for key, (value, parts) in SAMPLES.items():
        assert getattr(settings, key.lower()) == value, key  # the value in use is the real one
        for part in parts:
            assert part not in shown_text, key
            assert part in secrets, key  # ... and so is removed from free text
            assert part not in scrub(f"failed with {value}", secrets), key
            assert part not in shown_value(key, value), key
    rows = {row["key"]: row["value"] for row in effective_rows(settings)}
    assert rows["SOURCE_TOKEN"] == MASK and rows["SOURCE_URL"].startswith("postgresql+psycopg://reader:***@")


def test_secrets_in_matches_what_is_shown() -> None:
    assert secrets_in("postgresql://u:pw@h/x", Secrecy.DATABASE_URL) == ["pw"]
    assert secrets_in("not a url", Secrecy.DATABASE_URL) == []
    assert secrets_in("https://token1234@h/x?page=2&key=abcd", Secrecy.HTTP_URL) == ["token1234", "abcd"]
    assert secrets_in("", Secrecy.VALUE) == [] and secrets_in("x", Secrecy.VALUE) == ["x"]
    assert shown("", Secrecy.VALUE) == "" and shown("x", Secrecy.VALUE) == MASK
    assert shown("mysql://u:pw@h/x", Secrecy.DATABASE_URL) == redact_url("mysql://u:pw@h/x") == "mysql://u:***@h/x"
    assert redact_http_url("https://u:p@h:8/a?k=v&own=1", keep=("own",)) == "https://***@h:8/a?k=***&own=1"
    assert scrub("a-long and a-long-er", ["a-long", "a-long-er", ""]) == "*** and ***"


# -- end to end: six secrets, four places -------------------------------------------------------------------

SECRETS = {  # key -> (value, the secret in it); the dataset's url is a [datasets.NAME] key
    "SOURCE_URL": ("postgresql+psycopg://reader:S0urce-Pa55@127.0.0.1:1/shop", "S0urce-Pa55"),
    "DATASETS__EVENTS__URL": ("postgresql+psycopg://reader:Datas3t-Pa55@127.0.0.1:1/ev", "Datas3t-Pa55"),
    "SOURCE_TOKEN": ("T0ken-Secr3t-value", "T0ken-Secr3t-value"),
    "SMTP_PASSWORD": ("Smtp-Pa55-w0rd", "Smtp-Pa55-w0rd"),
    "ADMIN_PASSWORD": ("Adm1n-Pa55-word", "Adm1n-Pa55-word"),
}
DB_PASSWORD = "Db-Pa55-w0rd"


def _with_password(url: str) -> str:
    return make_url(url).set(password=DB_PASSWORD).render_as_string(hide_password=False)


def _secret_env(database_url: str) -> dict[str, str]:
    env = {key: value for key, (value, _) in SECRETS.items()}
    return env | {"DATABASE_URL": _with_password(database_url), "DATASETS__EVENTS__TRIGGER": "every 1h"}


def _hidden_everywhere(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in [DB_PASSWORD] + [secret for _, secret in SECRETS.values()]:
        assert secret.encode() not in data, f"{secret} shown in {where}"


def test_secrets_never_appear_in_the_cli_config_output(tmp_path: Path, pg_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in PARSERS and not k.startswith("DATASETS__")}
    env |= _secret_env(pg_url) | {"DEMO_SOURCE_PATH": str(tmp_path / "demo.db"), "RUN_MAX_RETRIES": "x"}
    for args in (["config"], ["--json", "config"]):
        done = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        _hidden_everywhere(done.stdout + done.stderr, " ".join(args))
        assert "reader:***@127.0.0.1:1/ev" in done.stdout  # the dataset is listed, its password masked
        shown_json = args[0] == "--json" and json.loads(done.stdout)["settings"]
        token = [row["value"] for row in shown_json if row["key"] == "SOURCE_TOKEN"] if shown_json else None
        assert token == [MASK] if token is not None else MASK in done.stdout
    # A command that fails on an unusable database, with every cause shown (--verbose).
    env["DATABASE_URL"] = f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:1/x"
    done = subprocess.run(
        [sys.executable, "-m", "app", "--verbose", "status"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 4 and "u:***@127.0.0.1:1/x" in done.stderr, done.stderr
    _hidden_everywhere(done.stdout + done.stderr, "status --verbose")


def test_secrets_never_appear_on_the_settings_page(configure: Configure, pg_url: str) -> None:  # noqa: F811
    configure(**_secret_env(pg_url), RUN_MAX_RETRIES="not-a-number", ADMIN_USERS="not an address")
    at = render("settings")
    shown_bytes = rendered_bytes(at)
    _hidden_everywhere(shown_bytes, "the Settings page")
    assert b"reader:***@127.0.0.1:1/ev" in shown_bytes and MASK.encode() in shown_bytes


def test_secrets_never_appear_in_a_failed_run_or_the_log(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(env=_secret_env(pg_url), secrets={})
    assert not settings.issues, settings.issues
    everything = " ".join([DB_PASSWORD] + [value for value, _ in SECRETS.values()])

    def leaky(ctx: Any) -> None:
        logging.getLogger("tests.leaky").debug("about to fail")
        raise ConnectionError(f"login failed with {everything}")

    caplog.set_level(logging.DEBUG)
    s = scheduler(settings, FrozenClock(), job("leaky", leaky))
    s.tick()
    error = s.get_status("leaky").last_error
    assert error is not None
    assert error.startswith("ConnectionError: login failed with") and "***" in error
    _hidden_everywhere(error, "the run's error")
    _hidden_everywhere("\n".join(line.message for line in s.run_logs()), "the stored log")
    assert any("run" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    _hidden_everywhere(caplog.text, "the log")


def test_the_redaction_module_is_the_lowest_layer() -> None:
    """Config, datasets, the core, the sync engine and mail all import it: it imports none of them."""
    import ast

    tree = ast.parse((ROOT / "app" / "redaction.py").read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not [name for name in names if name == "app" or name.startswith(("app.", "streamlit"))], names
