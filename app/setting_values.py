"""What a setting's value may be: one parser per kind of value (a number in a range, a time zone, a database
URL, e-mail addresses ...) that returns the typed value or raises ValueError saying what is allowed; the loader
(app/config.py) adds the key and the value. Must not import Streamlit or read any setting.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

# Relative paths in settings (a SQLite file, the demo source) mean relative to the project, not the cwd.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The bare scheme a user copies from a hosting panel -> the driver this project installs.
BUNDLED_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


def number(low: float, high: float) -> Callable[[Any], float]:
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


def integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.lstrip("-").isdigit():
            raise ValueError(f"must be a whole number between {low} and {high}")
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be a whole number between {low} and {high}")
        return value

    return parse


def boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def time_zone(raw: Any) -> str:
    text = str(raw).strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as America/Sao_Paulo or UTC") from None
    return text


def normalize_url(text: str) -> str:
    """postgres://, postgresql://, mysql:// and mariadb:// name the bundled drivers (psycopg 3, PyMySQL)."""
    scheme, sep, rest = text.partition("://")
    driver = BUNDLED_DRIVERS.get(scheme.lower()) if sep else None
    return f"{driver}://{rest}" if driver else text


def _sqlalchemy_url(text: str, example: str) -> Any:
    """A parsed URL whose dialect and driver are installed; ValueError naming what is wrong otherwise."""
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise ValueError(f"must be a SQLAlchemy URL such as {example}") from None
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        raise ValueError(
            f"names an unknown database or driver {url.drivername!r}; use a URL such as {example}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ValueError(f"needs the driver {exc.name or url.drivername!r}, which is not installed") from None
    return url


def store_url(raw: Any) -> str:
    text = normalize_url(str(raw).strip())
    example = "sqlite:///data/freshdash.db or postgresql://user:password@host:5432/db"
    if text.split("://", 1)[0].split("+", 1)[0].lower() not in {"sqlite", "postgresql"} and "://" in text:
        raise ValueError("must be a sqlite:// or postgresql:// URL")
    url = _sqlalchemy_url(text, example)
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


def local_path(raw: Any) -> str:
    path = Path(str(raw).strip()).expanduser()
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def optional_url(raw: Any) -> str:
    """Any SQLAlchemy URL (a source may be MySQL, SQLite ...), or empty."""
    text = normalize_url(str(raw).strip())
    if not text:
        return ""
    _sqlalchemy_url(text, "postgresql://user:password@host:5432/db or mysql://user:password@host:3306/db")
    return text


def http_url(raw: Any) -> str:
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


def choice(*allowed: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = str(raw).strip()
        if text not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return text

    return parse


def identifier(raw: Any) -> str:
    text = str(raw).strip()
    if not text or not all(c.isalnum() or c == "_" for c in text) or text[0].isdigit():
        raise ValueError("must be a plain SQL name (letters, digits and _, not starting with a digit)")
    return text


def plain_text(raw: Any) -> str:
    return str(raw)


def password(raw: Any) -> str:
    """A guard: present means "guard the controls", so a value that guards nothing is refused."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError("must be a text value (the password), not a table, a list or true/false")
    text = str(raw)
    if not text.strip():
        raise ValueError("is set but empty: set a password, or remove the key to leave the controls open")
    return text


def identities(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, (bool, dict)) or (not isinstance(raw, (str, list, tuple))):
        raise ValueError("must be e-mail addresses (st.user identities) such as ana@example.com, separated by commas")
    users = names(raw)
    if not users:
        raise ValueError("is set but lists nobody: name the e-mail addresses, or remove the key")
    try:
        return tuple(_address(user) for user in users)
    except ValueError:
        raise ValueError(
            "must be e-mail addresses (st.user identities) such as ana@example.com, separated by commas"
        ) from None


def names(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _address(text: str) -> str:
    """One plain e-mail address (``name@host``); display names and angle brackets are not accepted."""
    local, _, domain = text.rpartition("@")
    if not local or not domain or any(c.isspace() or c in '<>,;"' for c in text):
        raise ValueError("must be e-mail addresses such as ana@example.com, separated by commas")
    return text


def addresses(raw: Any) -> tuple[str, ...]:
    return tuple(_address(item) for item in names(raw))


def optional_address(raw: Any) -> str:
    text = str(raw).strip()
    return _address(text) if text else ""


def host(raw: Any) -> str:
    text = str(raw).strip()
    if any(c.isspace() or c in "/@:" for c in text) and not (text.startswith("[") and text.endswith("]")):
        raise ValueError("must be a host name or IP address such as smtp.example.com (the port goes in SMTP_PORT)")
    return text


def time_of_day(raw: Any) -> str:
    text = str(raw).strip()
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError("must be a local time of day as HH:MM, e.g. 07:00")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError("must be a local time of day as HH:MM, e.g. 07:00")
    return f"{int(hours):02d}:{minutes}"
