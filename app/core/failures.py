"""What a database failure really was: the driver's own message (secrets masked) and a hint that fits.

One place for the classification, used by the store (DATABASE_URL) and by the SQL source (SOURCE_URL ...),
so an "Access denied" never turns into "cannot reach ... : StoreError". Never imports Streamlit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from app.redaction import redact_url, scrub


class Cause(str, Enum):
    AUTHENTICATION = "authentication"
    UNKNOWN_DATABASE = "unknown database"
    UNKNOWN_TABLE = "unknown table"
    UNKNOWN_COLUMN = "unknown column"
    NETWORK = "network"
    PERMISSION = "permission"
    OTHER = "other"


# Checked in order against "<driver exception type>: <message>"; PostgreSQL (psycopg), MySQL/MariaDB
# (PyMySQL error numbers) and SQLite wordings.
_PATTERNS: tuple[tuple[Cause, re.Pattern[str]], ...] = tuple(
    (cause, re.compile(pattern, re.IGNORECASE))
    for cause, pattern in (
        (Cause.AUTHENTICATION, r"password authentication failed|authentication failed|no password supplied|"
         r"\(1045,|access denied for user|\(1698,"),
        (Cause.UNKNOWN_DATABASE, r"database \S+ does not exist|\(1049,|unknown database"),
        (Cause.UNKNOWN_TABLE, r"NoSuchTableError|UndefinedTable|relation \S+ does not exist|\(1146,|no such table"),
        (Cause.UNKNOWN_COLUMN, r"UndefinedColumn|column \S+ does not exist|\(1054,|unknown column|no such column"),
        (Cause.NETWORK, r"connection refused|could not translate host name|name or service not known|"
         r"could not connect|can't connect|\(2003,|\(2005,|\(2013,|timeout expired|timed out|"
         r"server closed the connection|connection reset|no route to host|network is unreachable|"
         r"temporary failure in name resolution"),
        (Cause.PERMISSION, r"permission denied|\(1142,|\(1044,|command denied|unable to open database file|"
         r"readonly database|read-only file system|PermissionError"),
    )
)  # fmt: skip


@dataclass(frozen=True)
class Failure:
    cause: Cause
    detail: str  # "<DriverError>: <first line of its message>", secrets masked

    def hint(self, role: Role) -> str:
        return role.hints.get(self.cause, role.hints[Cause.OTHER])


@dataclass(frozen=True)
class Role:
    """Which settings a failure points at: the store's DATABASE_URL or a source's keys."""

    what: str
    hints: dict[Cause, str]


def store_role() -> Role:
    return Role(
        "the database",
        {
            Cause.AUTHENTICATION: "check the user and password in DATABASE_URL",
            Cause.UNKNOWN_DATABASE: "check the database name in DATABASE_URL (create it first)",
            Cause.NETWORK: "check the host and port in DATABASE_URL and that the server is running",
            Cause.PERMISSION: "check that the folder of the SQLite file in DATABASE_URL exists and is writable, "
            "or that the user in DATABASE_URL may create tables",
            Cause.OTHER: "check DATABASE_URL",
        },
    )


def source_role(url_key: str = "SOURCE_URL", table_key: str = "SOURCE_TABLE") -> Role:
    return Role(
        "the source",
        {
            Cause.AUTHENTICATION: f"check the user and password in {url_key}",
            Cause.UNKNOWN_DATABASE: f"check the database name in {url_key}",
            Cause.UNKNOWN_TABLE: f"check {table_key} (and the schema the user of {url_key} sees)",
            Cause.UNKNOWN_COLUMN: "check SOURCE_KEY and SOURCE_CURSOR_FIELD against the source table's columns",
            Cause.NETWORK: f"check the host and port in {url_key} and that the source server is running",
            Cause.PERMISSION: f"grant the user of {url_key} SELECT on {table_key}",
            Cause.OTHER: f"the source server's own message above says what failed; check {url_key} and {table_key}",
        },
    )


def driver_error(exc: BaseException) -> BaseException:
    """The innermost driver exception behind a SQLAlchemy or wrapped error (its message is the real cause)."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "orig", None) or current.__cause__ or current.__context__
        if not isinstance(inner, BaseException):
            break
        current = inner
    return current


def classify(exc: BaseException, secrets: tuple[str, ...] = ()) -> Failure:
    cause_exc = driver_error(exc)
    lines = str(cause_exc).strip().splitlines()
    message = lines[0][:300] if lines else ""
    message = scrub(message, secrets)
    detail = f"{type(cause_exc).__name__}: {message}" if message else type(cause_exc).__name__
    probe = f"{type(exc).__name__} {type(cause_exc).__name__}: {message}"
    cause = next((c for c, pattern in _PATTERNS if pattern.search(probe)), Cause.OTHER)
    return Failure(cause, detail)


def describe(action: str, exc: BaseException, url: Any, role: Role) -> str:
    """'<action> <url, password masked>: <driver's message> (<cause>); <hint>'."""
    where = redact_url(url.render_as_string(hide_password=False)) if hasattr(url, "render_as_string") else str(url)
    password = getattr(url, "password", None)
    failure = classify(exc, (str(password),) if password else ())
    label = "" if failure.cause is Cause.OTHER else f" ({failure.cause.value})"
    return f"{action} {where}: {failure.detail}{label}; {failure.hint(role)}"
