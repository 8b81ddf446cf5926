"""One typed, immutable Settings object read from environment, secrets and defaults.

Order of precedence, the same for the app, the CLI, workers and tests: environment variables, then the
secrets mapping (``st.secrets`` under Streamlit, ``.streamlit/secrets.toml`` otherwise), then defaults;
``Settings.origins`` says where each value came from. A bad value never raises here: most keys fall back to
their default and are reported in ``Settings.issues``; a key that decides where data lives (PLACEMENT_KEYS)
never falls back and lands in ``Settings.fatal``; unreadable secrets or a bad guard key lock the controls
(``Settings.locked_reason``). Reading the environment and the secrets is app/config_sources.py's. Must not
import Streamlit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from app.config_sources import DEFAULT, ConfigInput, read_config_input
from app.redaction import Secrecy, secrets_in, shown
from app.redaction import redact_url as redact_url  # re-exported: the name callers knew
from app.setting_values import (
    PROJECT_ROOT,
    addresses,
    boolean,
    choice,
    host,
    http_url,
    identifier,
    identities,
    integer,
    local_path,
    names,
    number,
    optional_address,
    optional_url,
    password,
    plain_text,
    store_url,
    time_of_day,
    time_zone,
)

if TYPE_CHECKING:
    from app.dataset_config import DatasetConfig, ReportConfig

DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'freshdash.db'}"
DEFAULT_DEMO_SOURCE_PATH = str(PROJECT_ROOT / "data" / "demo_source.db")
# The application's built-in jobs, imported by the core's catalogue the way a user's JOB_MODULES are.
APPLICATION_JOBS = "app.jobs.builtin"
LANGUAGES = ("en", "pt-BR")
SOURCE_KINDS = ("demo", "sql", "http")
SMTP_TLS_MODES = ("starttls", "ssl", "none")
SCHEDULER_ROLES = ("all", "web")  # web: pages and requests only; runs happen in `python -m app worker`


# -- the settings: each key declared once, with its parser, default and what it decides ---------------


@dataclass(frozen=True)
class Setting:
    """What one key is: how its value is parsed, whether it is secret, and what a bad value does.

    Declared once, on its Settings field (``setting(...)``); PARSERS, SECRET_KEYS, PLACEMENT_KEYS,
    GUARD_KEYS, the Settings page and ``python -m app config`` rows and the redaction all derive from it.
    """

    parse: Callable[[Any], Any]
    secret: Secrecy | None = None  # how its value is hidden (None: shown as is)
    placement: bool = False  # decides where data lives: a bad value stops everything (never falls back)
    guard: bool = False  # guards the state-changing controls: a bad value keeps them locked
    key: str = ""  # filled in from the field name (SETTINGS)
    default: Any = None


def setting(
    default: Any,
    parse: Callable[[Any], Any],
    *,
    secret: Secrecy | None = None,
    placement: bool = False,
    guard: bool = False,
) -> Any:
    """A Settings field for the key named like it (upper case): its default, its parser and its nature."""
    declared = Setting(parse, secret, placement, guard)
    return field(default=default, repr=secret is None, metadata={"setting": declared})


@dataclass(frozen=True)
class ConfigIssue:
    key: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}: {self.message}"


_MINUTES_IN_A_WEEK = 7 * 24 * 60


@dataclass(frozen=True)
class Settings:
    sync_interval_minutes: float = setting(15.0, number(0.01, _MINUTES_IN_A_WEEK))
    scheduler_timezone: str = setting("America/Sao_Paulo", time_zone)
    autorefresh_interval_minutes: float = setting(30.0, number(0.1, 24 * 60))
    enable_autorefresh_fallback: bool = setting(True, boolean)
    database_url: str = setting(DEFAULT_DATABASE_URL, store_url, secret=Secrecy.DATABASE_URL, placement=True)
    scheduler_enabled: bool = setting(True, boolean)
    scheduler_role: str = setting("all", choice(*SCHEDULER_ROLES))
    scheduler_idle_minutes: float = setting(30.0, number(0.01, _MINUTES_IN_A_WEEK))
    scheduler_poll_seconds: float = setting(5.0, number(0.05, 3600))
    run_timeout_minutes: float = setting(10.0, number(0.001, 24 * 60))
    # each run in a child process that a timeout can stop, or "thread"
    run_isolation: str = setting("process", choice("process", "thread"))
    run_kill_grace_seconds: float = setting(10.0, number(0, 3600))
    run_max_retries: int = setting(2, integer(0, 20))
    retry_backoff_seconds: float = setting(30.0, number(0, 86400))
    lease_seconds: float = setting(60.0, number(0.5, 3600))
    manual_sync_cooldown_seconds: float = setting(60.0, number(0, 86400))
    history_retention_days: int = setting(30, integer(1, 3650))
    max_concurrent_runs: int = setting(4, integer(1, 64))
    job_modules: tuple[str, ...] = setting((), names)
    sync_source: str = setting("demo", choice(*SOURCE_KINDS))
    sync_batch_size: int = setting(5000, integer(1, 1_000_000))
    demo_source_path: str = setting(DEFAULT_DEMO_SOURCE_PATH, local_path)
    demo_orders_per_minute: int = setting(20, integer(0, 100_000))
    source_url: str = setting("", optional_url, secret=Secrecy.DATABASE_URL, placement=True)
    source_table: str = setting("orders", identifier)
    source_key: str = setting("id", identifier)
    source_cursor_field: str = setting("updated_at", identifier)
    source_endpoint: str = setting("", http_url, secret=Secrecy.HTTP_URL, placement=True)
    source_token: str = setting("", plain_text, secret=Secrecy.VALUE)
    source_rate_limit_per_second: float = setting(5.0, number(0, 10_000))
    source_timeout_seconds: float = setting(30.0, number(0.1, 3600))
    source_max_retries: int = setting(4, integer(0, 20))
    admin_password: str = setting("", password, secret=Secrecy.VALUE, guard=True)
    admin_users: tuple[str, ...] = setting((), identities, guard=True)
    ui_language: str = setting("en", choice(*LANGUAGES))
    reread_during_sync_seconds: float = setting(5.0, number(0, 3600))
    smtp_host: str = setting("", host)
    smtp_port: int = setting(587, integer(1, 65535))
    smtp_tls: str = setting("starttls", choice(*SMTP_TLS_MODES))
    smtp_user: str = setting("", plain_text)
    smtp_password: str = setting("", plain_text, secret=Secrecy.VALUE)
    smtp_from: str = setting("", optional_address)
    smtp_timeout_seconds: float = setting(30.0, number(0.1, 3600))
    report_recipients: tuple[str, ...] = setting((), addresses)
    report_period_days: int = setting(1, integer(1, 366))
    report_time: str = setting("07:00", time_of_day)
    metrics_port: int = setting(0, integer(0, 65535))
    alert_after_failures: int = setting(3, integer(1, 1000))
    alert_stale_minutes: float = setting(0.0, number(0, 366 * 24 * 60))
    alert_recipients: tuple[str, ...] = setting((), addresses)
    # -- not keys: what the loader derived (_DERIVED_FIELDS) --
    # [datasets.NAME] tables / DATASETS__NAME__KEY variables, parsed by app/dataset_config.py
    declared_datasets: tuple[DatasetConfig, ...] = ()
    seed_dataset: bool = True  # the seed's keys (SYNC_SOURCE, SOURCE_*) define a dataset too
    reports: tuple[ReportConfig, ...] = ()  # [reports.NAME]: e-mailed reports of datasets
    issues: tuple[ConfigIssue, ...] = field(default=(), compare=False)
    # Where each key's value came from: ENVIRONMENT, SECRETS or DEFAULT (a rejected value says so).
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    # Keys that must not fall back (PLACEMENT_KEYS) with a value we cannot use: nothing may run.
    fatal: tuple[ConfigIssue, ...] = field(default=(), compare=False)
    # Why the guarded controls stay locked for everyone ("" when the guard keys could be read).
    locked_reason: str = field(default="", compare=False)

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
        # The composition root caches the scheduler by this text: a change of lock or fatal state must show here.
        flags = f"issues={len(self.issues)}, fatal={len(self.fatal)}, locked={bool(self.locked_reason)}"
        datasets = f"datasets={self.declared_datasets!r}, seed_dataset={self.seed_dataset}, reports={self.reports!r}"
        return f"Settings({shown}, {datasets}, {flags})"

    def redacted(self) -> dict[str, str]:
        """Every setting as the user would type it, secrets masked (safe for the UI and logs)."""
        return {key: mask(key, getattr(self, key.lower())) for key in SETTINGS}

    def origin(self, key: str) -> str:
        return self.origins.get(key, DEFAULT)


# Fields of Settings that are not keys: what the loader derived from the keys and the tables.
_DERIVED_FIELDS = frozenset(
    {"issues", "origins", "fatal", "locked_reason", "declared_datasets", "seed_dataset", "reports"}
)


def declared_settings(
    cls: type, derived: frozenset[str] = _DERIVED_FIELDS, key_of: Callable[[str], str] = str.upper
) -> dict[str, Setting]:
    """KEY -> its Setting, for every field of `cls` but the `derived` ones; a field declared without
    ``setting(...)`` is refused here (at import), so no key can lack a parser or its secrecy.
    (app/dataset_config.py declares the keys of a ``[datasets.NAME]`` table the same way.)"""
    found: dict[str, Setting] = {}
    for f in dataclasses.fields(cls):
        if f.name in derived:
            continue
        declared = f.metadata.get("setting")
        if not isinstance(declared, Setting):
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting(default, parser, ...)")
        if f.name != f.name.lower():
            raise TypeError(f"{cls.__name__}.{f.name}: a field is named like its key, in lower case")
        key = key_of(f.name)
        found[key] = dataclasses.replace(declared, key=key, default=f.default)
    return found


SETTINGS: dict[str, Setting] = declared_settings(Settings)
PARSERS: dict[str, Callable[[Any], Any]] = {key: s.parse for key, s in SETTINGS.items()}
SECRET_KEYS = frozenset(key for key, s in SETTINGS.items() if s.secret is not None)
# Keys that decide where data lives: an invalid value stops the app and the CLI instead of falling back.
PLACEMENT_KEYS = frozenset(key for key, s in SETTINGS.items() if s.placement)
# Keys that guard state-changing controls: an invalid value (or unreadable secrets) keeps them locked.
GUARD_KEYS = frozenset(key for key, s in SETTINGS.items() if s.guard)


def secret_values(settings: Settings) -> list[str]:
    """Every secret a message could carry (passwords, tokens, passwords in URLs, the datasets' too): scrub
    these before showing or logging any text."""
    values: list[str] = []
    for key in SECRET_KEYS:
        values += secrets_in(getattr(settings, key.lower()), _secrecy(key))
    for dataset in settings.declared_datasets:
        values += dataset.secret_values()
    return sorted(set(values), key=len, reverse=True)


def effective_rows(settings: Settings) -> list[dict[str, str]]:
    """One row per key: the value in use (secrets masked), where it came from, and the default.

    The Settings page and `python -m app config` show exactly these rows.
    """
    defaults = Settings().redacted()
    return [
        {"key": key, "value": value, "origin": settings.origin(key), "default": defaults[key]}
        for key, value in settings.redacted().items()
    ]


def _secrecy(key: str) -> Secrecy:
    secrecy = SETTINGS[key].secret
    assert secrecy is not None, key
    return secrecy


def mask(key: str, value: object) -> str:
    """Display form of one setting: passwords in URLs and secret values never appear."""
    declared = SETTINGS.get(key)
    if declared is not None and declared.secret is not None and value:
        return shown(value, declared.secret)
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"  # as one writes it in secrets.toml or the environment, not "True"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # "15" as the user typed it, not the loader's 15.0 (UI and CLI alike)
    return str(value)


def load_settings(
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, Any] | None = None,
    secrets_path: Path | None = None,
    *,
    secrets_problem: str = "",
) -> Settings:
    """Build Settings from env > secrets > defaults; `secrets` (e.g. st.secrets as a dict) wins over `secrets_path`."""
    return settings_from(read_config_input(env, secrets, secrets_path, secrets_problem))


def settings_from(given: ConfigInput) -> Settings:
    issues: list[ConfigIssue] = []
    fatal: list[ConfigIssue] = []
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for key, parse in PARSERS.items():
        found = given.lookup(key)
        origins[key] = DEFAULT
        if found is None:
            if key in PLACEMENT_KEYS and key in given.unreadable_keys:
                why = f"is set in secrets that cannot be read: {given.secrets_problem}"
                fatal.append(ConfigIssue(key, "<unreadable>", why))
            continue
        raw, origin = found
        try:
            values[key.lower()] = parse(raw)
            origins[key] = origin
        except ValueError as exc:
            origins[key] = f"{DEFAULT} ({origin} value rejected)"
            issue = ConfigIssue(key, shown_value(key, raw), f"{exc} (from {origin}); {_consequence(key)}")
            (fatal if key in PLACEMENT_KEYS else issues).append(issue)
    if given.secrets_problem:
        why = f"{given.secrets_problem}; keys only set there use their defaults"
        issues.insert(0, ConfigIssue("secrets", "<file>", why))
    settings = Settings(
        **values,
        issues=tuple(issues),
        origins=origins,
        fatal=tuple(fatal),
        locked_reason=_locked_reason(given, issues),
    )
    return _with_datasets(settings, given)


def _with_datasets(settings: Settings, given: ConfigInput) -> Settings:
    """Add the [datasets.NAME] and [reports.NAME] tables (same precedence: DATASETS__NAME__KEY wins)."""
    from app.dataset_config import load_datasets, load_reports

    declared, seed, dataset_issues = load_datasets(settings, given.env, given.secrets)
    settings = dataclasses.replace(settings, declared_datasets=declared, seed_dataset=seed)
    reports, report_issues = load_reports(given.env, given.secrets, settings.datasets)
    issues = settings.issues + tuple(dataset_issues + report_issues)
    return dataclasses.replace(settings, reports=reports, issues=issues)


def _consequence(key: str) -> str:
    if key in PLACEMENT_KEYS:
        return "Freshdash does not fall back to another database or source: nothing runs until it is fixed"
    if key in GUARD_KEYS:
        return "the controls stay locked until it is fixed"
    return f"using the default {mask(key, getattr(Settings, key.lower()))}"


def shown_value(key: str, raw: Any) -> str:
    """A rejected value as the message shows it: URLs with their password masked, secrets not at all."""
    secrecy = SETTINGS[key].secret if key in SETTINGS else None
    if secrecy in (Secrecy.DATABASE_URL, Secrecy.HTTP_URL):
        return shown(str(raw), secrecy)
    if secrecy is Secrecy.VALUE and raw not in ("", None):
        return shown(raw, secrecy)
    return repr(raw)


def _locked_reason(given: ConfigInput, issues: list[ConfigIssue]) -> str:
    """Fail closed: without readable secrets we cannot know whether a guard was meant, so nobody gets in."""
    if given.secrets_problem:
        return f"the secrets cannot be read ({given.secrets_problem}); fix the secrets file and reload the page"
    bad = [issue for issue in issues if issue.key in GUARD_KEYS]
    if bad:
        return "; ".join(f"{issue.key} {issue.message.split(' (from ')[0]}" for issue in bad) + (
            "; fix it in the environment or the secrets and reload the page"
        )
    return ""
