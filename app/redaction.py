"""Hiding secrets: the one place that decides how a secret looks when shown and what is removed from text.

Three kinds of secret value (``Secrecy``): a whole value (a password, a token) shows as ``••••••``; a
SQLAlchemy URL shows with its password as ``***``; an http(s) URL shows with its user info and query values
as ``***``. ``secrets_in`` lists the parts of a value that must never appear in free text (error messages,
log lines), and ``scrub`` replaces them there by ``***``. Settings (app/config.py), datasets
(app/dataset_config.py), the runner, the CLI, the HTTP source and mail all go through these functions.
The lowest layer: imports nothing of the application, and never Streamlit.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MASK = "••••••"  # a secret value, shown
HIDDEN = "***"  # a secret inside a URL or a message
# Parts of an http(s) URL (user name, query values) shorter than this are not removed from free text:
# a value such as "1" or "en" would scrub every message. Passwords and tokens are always removed.
MIN_URL_PART = 4


class Secrecy(enum.Enum):
    """What of a setting's value is secret, and so how it is shown."""

    VALUE = "value"  # the whole value (a password, a token)
    DATABASE_URL = "SQLAlchemy URL"  # the password in the URL
    HTTP_URL = "http URL"  # user info and query values of the URL


def shown(value: object, secrecy: Secrecy) -> str:
    """A secret setting's value as the UI, the CLI and messages show it ("" stays "")."""
    if value in ("", None):
        return ""
    if secrecy is Secrecy.DATABASE_URL:
        return redact_url(str(value))
    if secrecy is Secrecy.HTTP_URL:
        return redact_http_url(str(value))
    return MASK


def secrets_in(value: object, secrecy: Secrecy) -> list[str]:
    """The parts of a secret value that must never appear in a message or a log line."""
    if value in ("", None) or not isinstance(value, str):
        return []
    if secrecy is Secrecy.DATABASE_URL:
        return [password] if (password := url_password(value)) else []
    if secrecy is Secrecy.HTTP_URL:
        return http_url_secrets(value)
    return [value]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ***; longest first, so a secret containing another goes whole."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def url_password(url: str) -> str:
    """The password of a SQLAlchemy (or any scheme://user:password@host) URL; "" when it has none."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        try:
            password = urlsplit(url).password if "://" in url else None
        except ValueError:
            password = None
    return str(password) if password else ""


def http_url_secrets(url: str) -> list[str]:
    """What an http(s) URL must not show: its password, and its user name and query values when not tiny."""
    try:
        parts = urlsplit(url)
        password, found = parts.password or "", [parts.username or ""]
        found += [value for _, value in parse_qsl(parts.query)]
    except ValueError:
        return []
    return ([password] if password else []) + [s for s in found if len(s) >= MIN_URL_PART]


_USERINFO = re.compile(r"(?P<scheme>[^/]*://)(?P<user>[^:/@]*):[^@/]*@")


def redact_url(url: str) -> str:
    """A URL safe to show: its password becomes ***, even when the URL cannot be parsed."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # Still name the value the user typed, password masked, so they can find and fix it.
        return _USERINFO.sub(r"\g<scheme>\g<user>:***@", str(url).strip())


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
    query = "&".join(f"{name}={value if name in keep else HIDDEN}" for name, value in pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
