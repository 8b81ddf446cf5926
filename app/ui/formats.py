"""Dates, times, numbers and ages for the UI's language, through Babel (CLDR), with the time zone named.

Nothing here is hand-formatted: "1.234,56" and "1 de dez. 10:42 BRT" come from the locale's own data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_skeleton, get_day_names, get_month_names, get_timezone_name
from babel.numbers import format_decimal, format_percent, get_decimal_symbol, get_group_symbol

LOCALES = {"en": "en", "pt-BR": "pt_BR"}
DASH = "—"  # what a missing value reads as, never None/NaN/NaT


def locale_of(language: str) -> Locale:
    return Locale.parse(LOCALES.get(language, "en"))


def zone_label(zone: str, at: datetime, language: str) -> str:
    """The zone's short name ("BRT", "UTC", "CET"), else its UTC offset ("UTC-03:00"): every time shows it."""
    loc = locale_of(language)
    short = format_datetime(at, "z", tzinfo=ZoneInfo(zone), locale=loc)
    if short and short[0] not in "+-" and not short.startswith("GMT"):
        return short
    offset = format_datetime(at, "xxx", tzinfo=ZoneInfo(zone), locale=loc)
    if offset in {"+00:00", "Z"}:
        return "UTC"
    hours, minutes = offset[1:].split(":")
    return f"UTC{offset[0]}{int(hours)}" + (f":{minutes}" if minutes != "00" else "")  # "UTC-3", "UTC+5:30"


def zone_name(zone: str, language: str) -> str:
    """'Brasilia Time (America/Sao_Paulo)' / 'Horário de Brasília (America/Sao_Paulo)'."""
    name = get_timezone_name(ZoneInfo(zone), "long", locale=locale_of(language))
    return f"{name} ({zone})" if zone not in {"UTC", "Etc/UTC"} else "UTC"


def _parse(value: str | datetime) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def local_time(
    iso: str | datetime | None,
    zone: str,
    with_date: bool = False,
    language: str = "en",
    now: datetime | None = None,
    show_zone: bool = True,
) -> str:
    """'10:42 BRT'; with_date: 'Dec 1 10:42 BRT' / '1 de dez. 10:42 BRT' (the date left out when `now`
    is the same local day). Without `show_zone` the caller names the zone (a metric's label). A missing
    time reads '—'."""
    if iso is None or iso == "":
        return DASH
    value = _parse(iso)
    tz = ZoneInfo(zone)
    loc = locale_of(language)
    same_day = now is not None and value.astimezone(tz).date() == now.astimezone(tz).date()
    if with_date and not same_day:
        day = format_skeleton("MMMd", value, tzinfo=tz, locale=loc)
        text = f"{day} {format_datetime(value, 'HH:mm', tzinfo=tz, locale=loc)}"
    else:
        text = format_datetime(value, "HH:mm", tzinfo=tz, locale=loc)
    return f"{text} {zone_label(zone, value, language)}" if show_zone else text


def number(value: float | int | None, language: str, decimals: int = 0) -> str:
    """'1,234.56' / '1.234,56'; a missing or NaN value reads '—'."""
    if value is None or value != value:  # NaN
        return DASH
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=locale_of(language), decimal_quantization=True)


def percent(value: float | None, language: str) -> str:
    return DASH if value is None else format_percent(value, locale=locale_of(language))


def human_age(seconds: float | None) -> str:
    """'45 s', '3 min', '2 h 5 min', '3 d' — the age of data at a glance (SI units read the same in both)."""
    if seconds is None or seconds != seconds:
        return DASH
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 86400:
        hours, minutes = divmod(int(seconds // 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds / 86400:.0f} d"


def vega_locale(language: str) -> dict[str, Any]:
    """Vega's `config.locale` for the language: charts' axes and tooltips format numbers and dates like the
    rest of the page (d3-format and d3-time-format definitions, built from CLDR)."""
    loc = locale_of(language)
    days = get_day_names("wide", locale=loc)  # 0 = Monday; d3 starts on Sunday
    short_days = get_day_names("abbreviated", locale=loc)
    order = [6, 0, 1, 2, 3, 4, 5]
    months = get_month_names("wide", locale=loc)
    short_months = get_month_names("abbreviated", locale=loc)
    pt = language == "pt-BR"
    return {
        "number": {
            "decimal": get_decimal_symbol(loc),
            "thousands": get_group_symbol(loc),
            "grouping": [3],
            "currency": ["R$ ", ""] if pt else ["$", ""],
        },
        "time": {
            "dateTime": "%d/%m/%Y %H:%M:%S" if pt else "%x, %X",
            "date": "%d/%m/%Y" if pt else "%m/%d/%Y",
            "time": "%H:%M:%S",
            "periods": ["AM", "PM"],
            "days": [days[i] for i in order],
            "shortDays": [short_days[i] for i in order],
            "months": [months[i] for i in range(1, 13)],
            "shortMonths": [short_months[i] for i in range(1, 13)],
        },
    }
