"""One typed, immutable Settings object read from environment, secrets and defaults.

Order of precedence: environment variables, then the secrets mapping (``st.secrets`` under Streamlit,
``.streamlit/secrets.toml`` otherwise), then defaults. A bad value never raises here: it falls back to the
default and is reported in ``Settings.issues`` with the key, the value and what is allowed.
Must not import Streamlit.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

if TYPE_CHECKING:
    from app.dataset_config import DatasetConfig, ReportConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'freshdash.db'}"
DEFAULT_DEMO_SOURCE_PATH = str(PROJECT_ROOT / "data" / "demo_source.db")
SECRET_KEYS = frozenset(
    {"ADMIN_PASSWORD", "DATABASE_URL", "SOURCE_URL", "SOURCE_ENDPOINT", "SOURCE_TOKEN", "SMTP_PASSWORD"}
)
# The application's built-in jobs, imported by the core's catalogue the way a user's JOB_MODULES are.
APPLICATION_JOBS = "app.jobs.builtin"
LANGUAGES = ("en", "pt-BR")
SOURCE_KINDS = ("demo", "sql", "http")
SMTP_TLS_MODES = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class ConfigIssue:
    key: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}: {self.message}"


@dataclass(frozen=True)
class Settings:
    sync_interval_minutes: float = 15.0
    scheduler_timezone: str = "America/Sao_Paulo"
    autorefresh_interval_minutes: float = 30.0
    enable_autorefresh_fallback: bool = True
    database_url: str = DEFAULT_DATABASE_URL
    scheduler_enabled: bool = True
    scheduler_idle_minutes: float = 30.0
    scheduler_poll_seconds: float = 5.0
    run_timeout_minutes: float = 10.0
    run_max_retries: int = 2
    retry_backoff_seconds: float = 30.0
    lease_seconds: float = 60.0
    manual_sync_cooldown_seconds: float = 60.0
    history_retention_days: int = 30
    max_concurrent_runs: int = 4
    job_modules: tuple[str, ...] = ()
    sync_source: str = "demo"
    sync_batch_size: int = 5000
    demo_source_path: str = DEFAULT_DEMO_SOURCE_PATH
    demo_orders_per_minute: int = 20
    source_url: str = ""
    source_table: str = "orders"
    source_key: str = "id"
    source_cursor_field: str = "updated_at"
    source_endpoint: str = ""
    source_token: str = dataclasses.field(default="", repr=False)
    source_rate_limit_per_second: float = 5.0
    source_timeout_seconds: float = 30.0
    source_max_retries: int = 4
    admin_password: str = dataclasses.field(default="", repr=False)
    admin_users: tuple[str, ...] = ()
    ui_language: str = "en"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = dataclasses.field(default="", repr=False)
    smtp_from: str = ""
    smtp_timeout_seconds: float = 30.0
    report_recipients: tuple[str, ...] = ()
    report_period_days: int = 1
    report_time: str = "07:00"
    metrics_port: int = 0
    alert_after_failures: int = 3
    alert_stale_minutes: float = 0.0
    alert_recipients: tuple[str, ...] = ()
    # [datasets.NAME] tables / DATASETS__NAME__KEY variables, parsed by app/dataset_config.py
    declared_datasets: tuple[DatasetConfig, ...] = ()
    seed_dataset: bool = True  # the seed's keys (SYNC_SOURCE, SOURCE_*) define a dataset too
    reports: tuple[ReportConfig, ...] = ()  # [reports.NAME]: e-mailed reports of datasets
    issues: tuple[ConfigIssue, ...] = field(default=(), compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.scheduler_timezone)

    @property
    def interval_seconds(self) -> float:
        return self.sync_interval_minutes * 60.0

    @property
    def datasets(self) -> tuple[DatasetConfig, ...]:
        """Every dataset to keep fresh: the seed's one (from SYNC_SOURCE / SOURCE_*) first, then the declared."""
        from app.dataset_config import legacy_dataset

        return ((legacy_dataset(self),) if self.seed_dataset else ()) + self.declared_datasets

    def __repr__(self) -> str:
        shown = ", ".join(f"{key.lower()}={value!r}" for key, value in self.redacted().items())
        datasets = f"datasets={self.declared_datasets!r}, seed_dataset={self.seed_dataset}, reports={self.reports!r}"
        return f"Settings({shown}, {datasets}, issues={len(self.issues)})"

    def redacted(self) -> dict[str, str]:
        """Every setting as the user would type it, secrets masked (safe for the UI and logs)."""
        shown: dict[str, str] = {}
        for f in dataclasses.fields(self):
            if f.name in {"issues", "declared_datasets", "seed_dataset", "reports"}:
                continue
            key = f.name.upper()
            shown[key] = mask(key, getattr(self, f.name))
        return shown


def mask(key: str, value: object) -> str:
    """Display form of one setting: passwords in URLs and secret values never appear."""
    if key in {"DATABASE_URL", "SOURCE_URL"} and value:
        return redact_url(str(value))
    if key == "SOURCE_ENDPOINT" and value:
        return redact_http_url(str(value))
    if key in SECRET_KEYS and value:
        return "••••••"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def redact_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparsable URL hidden>"


def redact_http_url(url: str, keep: tuple[str, ...] = ()) -> str:
    """An http(s) URL safe to show: user info and query values (except the parameters in `keep`) masked."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "<unparsable URL hidden>"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None or parts.password is not None:
        netloc = "***@" + netloc  # a token is often passed as the user name
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(f"{name}={value if name in keep else '***'}" for name, value in pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


# -- parsers: each returns the typed value or raises ValueError with what is allowed --------------------


def _number(low: float, high: float) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError(f"must be a number between {low:g} and {high:g}")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number between {low:g} and {high:g}") from None
        if not (low <= value <= high) or value != value:
            raise ValueError(f"must be a number between {low:g} and {high:g}")
        return value

    return parse


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.lstrip("-").isdigit():
            raise ValueError(f"must be a whole number between {low} and {high}")
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be a whole number between {low} and {high}")
        return value

    return parse


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _timezone(raw: Any) -> str:
    text = str(raw).strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as America/Sao_Paulo or UTC") from None
    return text


def _database_url(raw: Any) -> str:
    text = str(raw).strip()
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise ValueError(
            "must be a SQLAlchemy URL such as sqlite:///data/freshdash.db or "
            "postgresql+psycopg://user:password@host:5432/db"
        ) from None
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ValueError("must be a sqlite:// or postgresql:// URL")
    return _anchor_sqlite(url, text)


def _anchor_sqlite(url: Any, text: str) -> str:
    """A relative SQLite path means relative to the project, whatever folder the app was started from."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return text
    if Path(database).is_absolute():
        return text
    return str(url.set(database=str(PROJECT_ROOT / database)).render_as_string(hide_password=False))


def _path(raw: Any) -> str:
    path = Path(str(raw).strip()).expanduser()
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def _optional_url(raw: Any) -> str:
    """Any SQLAlchemy URL (a source may be MySQL, SQLite ...), or empty."""
    text = str(raw).strip()
    if not text:
        return ""
    try:
        make_url(text)
    except (ArgumentError, ValueError):
        raise ValueError("must be a SQLAlchemy URL such as postgresql+psycopg://user@host/db") from None
    return text


def _http_url(raw: Any) -> str:
    text = str(raw).strip()
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        valid = parts.scheme in {"http", "https"} and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # a port that is not a number
        valid = False
    if not valid or any(c.isspace() for c in text):
        raise ValueError("must be an http:// or https:// URL of a JSON endpoint, e.g. https://api.example.com/orders")
    return text


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = str(raw).strip()
        if text not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return text

    return parse


def _identifier(raw: Any) -> str:
    text = str(raw).strip()
    if not text or not all(c.isalnum() or c == "_" for c in text) or text[0].isdigit():
        raise ValueError("must be a plain SQL name (letters, digits and _, not starting with a digit)")
    return text


def _text(raw: Any) -> str:
    return str(raw)


def _names(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _address(text: str) -> str:
    """One plain e-mail address (``name@host``); display names and angle brackets are not accepted."""
    local, _, domain = text.rpartition("@")
    if not local or not domain or any(c.isspace() or c in '<>,;"' for c in text):
        raise ValueError("must be e-mail addresses such as ana@example.com, separated by commas")
    return text


def _addresses(raw: Any) -> tuple[str, ...]:
    return tuple(_address(item) for item in _names(raw))


def _optional_address(raw: Any) -> str:
    text = str(raw).strip()
    return _address(text) if text else ""


def _host(raw: Any) -> str:
    text = str(raw).strip()
    if any(c.isspace() or c in "/@:" for c in text) and not (text.startswith("[") and text.endswith("]")):
        raise ValueError("must be a host name or IP address such as smtp.example.com (the port goes in SMTP_PORT)")
    return text


def _time_of_day(raw: Any) -> str:
    text = str(raw).strip()
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError("must be a local time of day as HH:MM, e.g. 07:00")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError("must be a local time of day as HH:MM, e.g. 07:00")
    return f"{int(hours):02d}:{minutes}"


PARSERS: dict[str, Callable[[Any], Any]] = {
    "SYNC_INTERVAL_MINUTES": _number(0.01, 7 * 24 * 60),
    "SCHEDULER_TIMEZONE": _timezone,
    "AUTOREFRESH_INTERVAL_MINUTES": _number(0.1, 24 * 60),
    "ENABLE_AUTOREFRESH_FALLBACK": _boolean,
    "DATABASE_URL": _database_url,
    "SCHEDULER_ENABLED": _boolean,
    "SCHEDULER_IDLE_MINUTES": _number(0.01, 7 * 24 * 60),
    "SCHEDULER_POLL_SECONDS": _number(0.05, 3600),
    "RUN_TIMEOUT_MINUTES": _number(0.001, 24 * 60),
    "RUN_MAX_RETRIES": _integer(0, 20),
    "RETRY_BACKOFF_SECONDS": _number(0, 86400),
    "LEASE_SECONDS": _number(0.5, 3600),
    "MANUAL_SYNC_COOLDOWN_SECONDS": _number(0, 86400),
    "HISTORY_RETENTION_DAYS": _integer(1, 3650),
    "MAX_CONCURRENT_RUNS": _integer(1, 64),
    "JOB_MODULES": _names,
    "SYNC_SOURCE": _choice(*SOURCE_KINDS),
    "SYNC_BATCH_SIZE": _integer(1, 1_000_000),
    "DEMO_SOURCE_PATH": _path,
    "DEMO_ORDERS_PER_MINUTE": _integer(0, 100_000),
    "SOURCE_URL": _optional_url,
    "SOURCE_TABLE": _identifier,
    "SOURCE_KEY": _identifier,
    "SOURCE_CURSOR_FIELD": _identifier,
    "SOURCE_ENDPOINT": _http_url,
    "SOURCE_TOKEN": _text,
    "SOURCE_RATE_LIMIT_PER_SECOND": _number(0, 10_000),
    "SOURCE_TIMEOUT_SECONDS": _number(0.1, 3600),
    "SOURCE_MAX_RETRIES": _integer(0, 20),
    "ADMIN_PASSWORD": _text,
    "ADMIN_USERS": _names,
    "UI_LANGUAGE": _choice(*LANGUAGES),
    "SMTP_HOST": _host,
    "SMTP_PORT": _integer(1, 65535),
    "SMTP_TLS": _choice(*SMTP_TLS_MODES),
    "SMTP_USER": _text,
    "SMTP_PASSWORD": _text,
    "SMTP_FROM": _optional_address,
    "SMTP_TIMEOUT_SECONDS": _number(0.1, 3600),
    "REPORT_RECIPIENTS": _addresses,
    "REPORT_PERIOD_DAYS": _integer(1, 366),
    "REPORT_TIME": _time_of_day,
    "METRICS_PORT": _integer(0, 65535),
    "ALERT_AFTER_FAILURES": _integer(1, 1000),
    "ALERT_STALE_MINUTES": _number(0, 366 * 24 * 60),
    "ALERT_RECIPIENTS": _addresses,
}


def read_secrets_file(path: Path) -> tuple[dict[str, Any], ConfigIssue | None]:
    """Parse a secrets.toml; a missing file is empty, a broken one is reported, never raised."""
    if not path.exists():
        return {}, None
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle), None
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        return {}, ConfigIssue(str(path.name), "<file>", f"cannot be read as TOML ({exc}); using defaults")


def load_settings(
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, Any] | None = None,
    secrets_path: Path | None = None,
) -> Settings:
    """Build Settings; `secrets` (e.g. st.secrets as a dict) wins over reading `secrets_path`."""
    env = os.environ if env is None else env
    issues: list[ConfigIssue] = []
    if secrets is None:
        secrets, issue = read_secrets_file(secrets_path or DEFAULT_SECRETS_PATH)
        if issue:
            issues.append(issue)
    values: dict[str, Any] = {}
    for key, parse in PARSERS.items():
        raw: Any = env.get(key) if key in env else secrets.get(key)
        if raw is None:
            continue
        try:
            values[key.lower()] = parse(raw)
        except ValueError as exc:
            shown = mask(key, raw) if key in SECRET_KEYS else repr(raw)
            default = mask(key, getattr(Settings, key.lower()))
            issues.append(ConfigIssue(key, shown, f"{exc}; using the default {default}"))
    from app.dataset_config import load_datasets, load_reports

    settings = Settings(**values)
    declared, seed, dataset_issues = load_datasets(settings, env, secrets)
    settings = dataclasses.replace(settings, declared_datasets=declared, seed_dataset=seed)
    reports, report_issues = load_reports(env, secrets, settings.datasets)
    return dataclasses.replace(settings, reports=reports, issues=tuple(issues + dataset_issues + report_issues))
