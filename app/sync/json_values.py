"""JSON values of an API's items: their kinds, the kind of a column that holds them, ISO 8601 datetimes and
how values are shown in messages and query parameters. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

# What the JSON of a cursor datetime may look like: a date, optional time and fraction, optional offset.
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?")
EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "text": "a string",
    "datetime": "an ISO 8601 datetime without offset",
    "datetime_tz": "an ISO 8601 datetime with an offset",
}


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "text"
    return "json"


def merge(kinds: set[str]) -> str:
    """One column kind for the kinds seen in one field (JSON keeps anything when they disagree)."""
    if kinds == {"int", "float"}:
        return "float"
    return kinds.pop() if len(kinds) == 1 else "json"


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 string as a datetime (aware ones in UTC), or None."""
    if not isinstance(value, str) or not ISO_DATETIME.fullmatch(value.strip()):
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo is not None else parsed


def param(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:120] + "…"
