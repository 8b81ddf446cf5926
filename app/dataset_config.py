"""Datasets declared in configuration: ``[datasets.NAME]`` tables of secrets.toml / the Cloud secrets box, or
``DATASETS__NAME__KEY`` environment variables (which win, key by key), plus the one dataset the seed's
single-source keys (``SYNC_SOURCE``, ``SOURCE_*``) define; and the e-mailed reports of datasets
(``[reports.NAME]`` / ``REPORTS__NAME__KEY``).

Parsing only: a bad dataset is left out with one message per bad key (dataset, key, value, what is allowed)
and the other datasets go on. Triggers are checked where jobs are built (app/jobs/datasets.py). Must not
import Streamlit or the core.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.config import declared_settings, setting
from app.redaction import MASK, Secrecy, secrets_in, shown
from app.setting_values import addresses, http_url, normalize_url

if TYPE_CHECKING:
    from app.config import ConfigIssue, Settings

DATASET_KINDS = ("sql", "http", "demo")
DELETE_MODES = ("none", "reconcile")
DEFAULT_JOB = "incremental_sync"  # the seed's sync job (its name kept: existing stores keep history and cursor)
DEFAULT_RECONCILE_TRIGGER = "daily 03:30"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# -- one parser per key: returns the typed value or raises ValueError with what is allowed --------------


def _kind(raw: Any) -> str:
    text = str(raw).strip().lower()
    if text not in DATASET_KINDS:
        raise ValueError("must be one of " + ", ".join(DATASET_KINDS))
    return text


def _sql_url(raw: Any) -> str:
    text = normalize_url(str(raw).strip())  # the bundled drivers, as for SOURCE_URL
    try:
        make_url(text)
    except (ArgumentError, ValueError):
        raise ValueError("must be a SQLAlchemy URL such as postgresql+psycopg://user:password@host:5432/db") from None
    return text


def _http_url(raw: Any) -> str:
    text = http_url(raw)
    if not text:
        raise ValueError("must be an http:// or https:// URL of a JSON endpoint")
    return text


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be text")
    return raw


def _identifier(raw: Any) -> str:
    text = str(raw).strip()
    if not _IDENTIFIER.match(text):
        raise ValueError("must be a plain SQL name (letters, digits and _, not starting with a digit)")
    return text


def _table(raw: Any) -> str:
    text = str(raw).strip()
    parts = text.split(".")
    if len(parts) > 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ValueError("must be a table name, optionally schema-qualified (events or public.events)")
    return text


def _key(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not names:
        raise ValueError('must name the key column(s): "id" or a list such as ["tenant", "code"]')
    for name in names:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"column {name!r} is not a plain SQL name (letters, digits and _)")
    if len(set(names)) != len(names):
        raise ValueError("names a column twice")
    return names


def _optional_identifier(raw: Any) -> str | None:
    text = str(raw).strip()
    return _identifier(text) if text else None


def _trigger_text(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError('must be a trigger text such as "every 5m" or "daily 07:00"')
    return " ".join(raw.split())


def _minutes(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("must be a number of minutes between 0 and 527040")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError("must be a number of minutes between 0 and 527040") from None
    if not 0 <= value <= 366 * 24 * 60:
        raise ValueError("must be a number of minutes between 0 and 527040")
    return value


def _deletes(raw: Any) -> str:
    text = str(raw).strip().lower()
    if text not in DELETE_MODES:
        raise ValueError("must be one of " + ", ".join(DELETE_MODES))
    return text


@dataclass(frozen=True)
class DatasetConfig:
    """One table the user wants fresh. `job` syncs it; `reconcile_job` (deletes = "reconcile") removes from the
    store the keys the source no longer has."""

    name: str
    # Each key of a [datasets.NAME] table: its default, its parser and whether it is secret (KEY_SETTINGS).
    source: str = setting("demo", _kind)
    url: str = setting("", _sql_url, secret=Secrecy.DATABASE_URL)
    endpoint: str = setting("", _http_url, secret=Secrecy.HTTP_URL)
    token: str = setting("", _text, secret=Secrecy.VALUE)
    table: str = setting("", _table)
    key: tuple[str, ...] = setting(("id",), _key)
    cursor: str | None = setting("updated_at", _optional_identifier)
    trigger: str = setting("", _trigger_text)  # empty: every SYNC_INTERVAL_MINUTES
    destination: str = setting("", _identifier)
    max_age_minutes: float = setting(0.0, _minutes)  # 0: stale after one period of its trigger
    deletes: str = setting("none", _deletes)
    reconcile_trigger: str = setting(DEFAULT_RECONCILE_TRIGGER, _trigger_text)
    # a column that marks deleted rows (true / non-NULL); readers leave them out
    soft_delete: str = setting("", _identifier)
    description: str = setting("", _text)
    legacy: bool = False  # defined by SYNC_SOURCE / SOURCE_* (its job keeps the seed's name)

    @property
    def job(self) -> str:
        return DEFAULT_JOB if self.legacy else f"sync_{self.name}"

    @property
    def reconcile_job(self) -> str:
        return f"reconcile_{self.name}"

    @property
    def target(self) -> str:
        """The store table the rows land in."""
        return self.destination or self.name

    @property
    def source_table(self) -> str:
        return self.table or self.name

    def __repr__(self) -> str:
        where = self.where()
        return (
            f"DatasetConfig(name={self.name!r}, source={self.source!r}, where={where!r}, table={self.table!r}, "
            f"key={self.key!r}, cursor={self.cursor!r}, trigger={self.trigger!r}, destination={self.target!r}, "
            f"max_age_minutes={self.max_age_minutes!r}, deletes={self.deletes!r}, "
            f"reconcile_trigger={self.reconcile_trigger!r}, soft_delete={self.soft_delete!r}, legacy={self.legacy})"
        )

    def where(self) -> str:
        """The source's address safe to show (passwords and query values masked)."""
        if self.source == "sql" and self.url:
            return shown(self.url, Secrecy.DATABASE_URL)
        if self.source == "http" and self.endpoint:
            return shown(self.endpoint, Secrecy.HTTP_URL)
        return self.source

    def secret_values(self) -> list[str]:
        """What of its url, endpoint and token must never appear in a message or a log line."""
        return [value for key, how in DATASET_SECRECY.items() for value in secrets_in(getattr(self, key), how)]

    def shown(self) -> dict[str, str]:
        """Every key as the user would type it, secrets masked (Settings page, `python -m app config`)."""
        return {
            "source": self.source,
            "where": self.where(),
            "table": self.source_table if self.source == "sql" else "",
            "key": ", ".join(self.key),
            "cursor": self.cursor or "(none: copied whole and diffed)",
            "trigger": self.trigger or "every SYNC_INTERVAL_MINUTES",
            "destination": self.target,
            "max_age_minutes": f"{self.max_age_minutes:g}" if self.max_age_minutes else "(one period)",
            "deletes": self.deletes if self.deletes == "none" else f"{self.deletes} ({self.reconcile_trigger})",
            "soft_delete": self.soft_delete,
            "token": shown(self.token, Secrecy.VALUE),
        }


KEY_SETTINGS = declared_settings(DatasetConfig, derived=frozenset({"name", "legacy"}), key_of=str)
KEY_PARSERS: dict[str, Callable[[Any], Any]] = {key: s.parse for key, s in KEY_SETTINGS.items()}
# The secret keys of a dataset and how each is hidden (a rejected value of any of them is not shown at all).
DATASET_SECRECY = {key: s.secret for key, s in KEY_SETTINGS.items() if s.secret is not None}
SECRET_DATASET_KEYS = frozenset(DATASET_SECRECY)


def raw_datasets(
    env: Mapping[str, str], secrets: Mapping[str, Any], section: str = "datasets"
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each entry's raw keys: the secrets' ``[datasets.NAME]`` tables (or another `section`), overridden key by
    key by ``DATASETS__NAME__KEY`` variables. Also returns the problems of the shape itself (not a table ...)."""
    found: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    prefix = section.upper() + "__"
    tables = secrets.get(section)
    if tables is not None:
        if not isinstance(tables, Mapping):
            problems.append(f"{section}: must be a table of tables ([{section}.NAME])")
        else:
            for name, keys in tables.items():
                if not isinstance(keys, Mapping):
                    problems.append(f"{section}.{name}: must be a table ([{section}.{name}] with its keys)")
                    continue
                found[str(name)] = dict(keys)
    for variable, value in env.items():
        if not variable.startswith(prefix):
            continue
        name, sep, key = variable[len(prefix) :].partition("__")
        if not sep or not name or not key:
            problems.append(f"{variable}: must be {prefix}<NAME>__<KEY>, e.g. {prefix}EVENTS__TRIGGER")
            continue
        found.setdefault(name.lower(), {})[key.lower()] = value
    return found, problems


def parse_dataset(name: str, raw: Mapping[str, Any]) -> tuple[DatasetConfig | None, list[tuple[str, str, str]]]:
    """One dataset, or None with (key, shown value, message) for each problem; secrets never shown."""
    problems: list[tuple[str, str, str]] = []
    where = f"datasets.{name}"
    if not _NAME.match(name):
        problems.append((where, name, "a dataset name must be lowercase letters, digits and _ (at most 63)"))
        return None, problems
    values: dict[str, Any] = {}
    for key, value in raw.items():
        parse = KEY_PARSERS.get(key)
        shown_as = MASK if key in SECRET_DATASET_KEYS else repr(value)
        if parse is None:
            allowed = ", ".join(KEY_PARSERS)
            problems.append((f"{where}.{key}", shown_as, f"unknown key; a dataset takes {allowed}"))
            continue
        try:
            values[key] = parse(value)
        except ValueError as exc:
            problems.append((f"{where}.{key}", shown_as, str(exc)))
    kind = values.get("source") or ("sql" if "url" in values else "http" if "endpoint" in values else None)
    if kind is None and "source" not in raw:
        problems.append((f"{where}.source", "(missing)", "must be one of " + ", ".join(DATASET_KINDS)))
    if kind == "sql" and "url" not in values and "url" not in raw:
        problems.append((f"{where}.url", "(missing)", 'a sql dataset needs url = "postgresql+psycopg://…"'))
    if kind == "http" and "endpoint" not in values and "endpoint" not in raw:
        problems.append((f"{where}.endpoint", "(missing)", 'an http dataset needs endpoint = "https://…"'))
    if problems:
        return None, problems
    values["source"] = kind
    if kind == "demo":  # the demo source is the orders table of the built-in demo database
        values.setdefault("key", ("id",))
        values.setdefault("cursor", "updated_at")
        values.setdefault("soft_delete", "deleted")
    elif "cursor" not in values:
        values["cursor"] = None  # without a cursor the table is copied whole and diffed
    return DatasetConfig(name=name, **values), []


def legacy_dataset(settings: Settings) -> DatasetConfig:
    """The dataset the seed's keys define: named after SOURCE_TABLE (the demo's is orders), job incremental_sync."""
    if settings.sync_source == "demo":
        return DatasetConfig(name="orders", source="demo", soft_delete="deleted", legacy=True)
    name = settings.source_table.lower()
    return DatasetConfig(
        name=name,
        source=settings.sync_source,
        url=settings.source_url if settings.sync_source == "sql" else "",
        endpoint=settings.source_endpoint if settings.sync_source == "http" else "",
        token=settings.source_token if settings.sync_source == "http" else "",
        table=settings.source_table,
        key=(settings.source_key,),
        cursor=settings.source_cursor_field,
        destination=settings.source_table,
        legacy=True,
    )


def load_datasets(
    settings: Settings, env: Mapping[str, str], secrets: Mapping[str, Any]
) -> tuple[tuple[DatasetConfig, ...], bool, list[ConfigIssue]]:
    """The declared datasets, whether the seed's keys define one too (when no ``[datasets]`` are declared or
    SYNC_SOURCE is set explicitly), and one issue per problem. Names and destinations are unique; a later
    clash is left out."""
    from app.config import ConfigIssue

    raw, shape_problems = raw_datasets(env, secrets)
    issues = [ConfigIssue(p.partition(":")[0], "<table>", p.partition(": ")[2]) for p in shape_problems]
    seed = not raw or "SYNC_SOURCE" in env or "SYNC_SOURCE" in secrets
    datasets: list[DatasetConfig] = [legacy_dataset(settings)] if seed else []
    for name in sorted(raw):
        dataset, problems = parse_dataset(name, raw[name])
        issues.extend(ConfigIssue(key, shown, f"{why}; dataset {name!r} left out") for key, shown, why in problems)
        if dataset is None:
            continue
        clash = next((d for d in datasets if d.name == dataset.name or d.target == dataset.target), None)
        if clash is not None:
            issues.append(
                ConfigIssue(
                    f"datasets.{name}.destination",
                    dataset.target,
                    f"dataset {clash.name!r} already writes to table {clash.target!r}; dataset {name!r} left out",
                )
            )
            continue
        datasets.append(dataset)
    return tuple(d for d in datasets if not d.legacy), seed, issues


# -- reports of datasets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportConfig:
    """An e-mailed report (CSV + Excel) of one dataset, or of a SQL query over datasets, on its own trigger.

    A query may use ``:start`` and ``:end``, the period's bounds as UTC text ("2026-11-30 00:00:00"); a dataset
    report with a `time_column` holds the rows whose column (UTC) falls in the period, else every row."""

    name: str
    dataset: str = ""
    query: str = ""
    datasets: tuple[str, ...] = ()  # what a query reads (named in the run record)
    trigger: str = ""  # empty: daily REPORT_TIME
    recipients: tuple[str, ...] = ()  # empty: REPORT_RECIPIENTS
    period_days: int = 0  # 0: REPORT_PERIOD_DAYS
    time_column: str = ""
    max_rows: int = 100_000
    subject: str = ""

    @property
    def job(self) -> str:
        return f"report_{self.name}"


def _positive(high: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.isdigit() or not 1 <= int(text) <= high:
            raise ValueError(f"must be a whole number between 1 and {high}")
        return int(text)

    return parse


def _select(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip().lower().startswith(("select", "with")):
        raise ValueError("must be a SELECT (or WITH … SELECT) over the datasets' tables")
    return raw.strip()


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(_dataset_name(n) for n in _key(raw))


def _dataset_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a dataset name (lowercase letters, digits and _)")
    return name


REPORT_PARSERS: dict[str, Callable[[Any], Any]] = {
    "dataset": lambda raw: _dataset_name(str(raw).strip()),
    "query": _select,
    "datasets": _names,
    "trigger": _trigger_text,
    "recipients": addresses,
    "period_days": _positive(366),
    "time_column": _identifier,
    "max_rows": _positive(1_000_000),
    "subject": _text,
}


def load_reports(
    env: Mapping[str, str], secrets: Mapping[str, Any], datasets: tuple[DatasetConfig, ...]
) -> tuple[tuple[ReportConfig, ...], list[ConfigIssue]]:
    """Every ``[reports.NAME]``; a report of an unknown dataset, or with neither or both of `dataset` and
    `query`, is left out with a message."""
    from app.config import ConfigIssue

    raw, shape_problems = raw_datasets(env, secrets, "reports")
    issues = [ConfigIssue(p.partition(":")[0], "<table>", p.partition(": ")[2]) for p in shape_problems]
    known = {d.name for d in datasets}
    reports: list[ReportConfig] = []
    for name in sorted(raw):
        where, values, problems = f"reports.{name}", {}, []
        if not _NAME.match(name):
            problems.append((where, name, "a report name must be lowercase letters, digits and _"))
        for key, value in raw[name].items():
            parse = REPORT_PARSERS.get(key)
            if parse is None:
                problems.append(
                    (f"{where}.{key}", repr(value), "unknown key; a report takes " + ", ".join(REPORT_PARSERS))
                )
                continue
            try:
                values[key] = parse(value)
            except ValueError as exc:
                problems.append((f"{where}.{key}", repr(value), str(exc)))
        if not problems and bool(values.get("dataset")) == bool(values.get("query")):
            problems.append((where, "<table>", 'needs exactly one of dataset = "NAME" or query = "SELECT …"'))
        for dataset in (values.get("dataset"), *values.get("datasets", ())):
            if dataset and dataset not in known and not problems:
                problems.append(
                    (f"{where}.dataset", repr(dataset), f"no such dataset (configured: {', '.join(sorted(known))})")
                )
        if problems:
            issues.extend(ConfigIssue(k, v, f"{why}; report {name!r} left out") for k, v, why in problems)
            continue
        reports.append(ReportConfig(name=name, **values))
    return tuple(reports), issues
