"""The translation table and the locale formats: no key missing in a language, every time with its zone."""

from __future__ import annotations

import string
from datetime import datetime, timezone

import pytest

from app.ui.formats import local_time, number, vega_locale, zone_label
from app.ui.text import STRINGS, status_word, t


def test_every_key_exists_in_every_language_with_the_same_placeholders() -> None:
    english = STRINGS["en"]
    for language, table in STRINGS.items():
        assert set(table) == set(english), (language, sorted(set(table) ^ set(english)))
        for key, text in table.items():
            names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            wanted = {f for _, f, _, _ in string.Formatter().parse(english[key]) if f}
            assert names == wanted, (language, key, names, wanted)


AT = datetime(2026, 12, 1, 13, 42, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("language", "with_date", "expected"),
    [
        ("en", False, "10:42 UTC-3"),
        ("pt-BR", False, "10:42 BRT"),
        ("en", True, "Dec 1 10:42 UTC-3"),
        ("pt-BR", True, "1 de dez. 10:42 BRT"),
    ],
)
def test_times_are_local_and_name_their_zone(language: str, with_date: bool, expected: str) -> None:
    assert local_time(AT.isoformat(), "America/Sao_Paulo", with_date, language) == expected


def test_the_date_is_left_out_on_the_same_local_day_and_a_missing_time_is_a_dash() -> None:
    assert local_time(AT, "UTC", True, "en", now=AT) == "13:42 UTC"
    assert local_time(None, "UTC") == "—"


@pytest.mark.parametrize(("language", "expected"), [("en", "2,557,322.46"), ("pt-BR", "2.557.322,46")])
def test_numbers_follow_the_language(language: str, expected: str) -> None:
    assert number(2557322.456, language, 2) == expected
    assert number(float("nan"), language) == "—"


def test_charts_get_the_languages_month_names_and_separators() -> None:
    pt = vega_locale("pt-BR")
    assert pt["number"]["decimal"] == "," and pt["number"]["thousands"] == "."
    assert pt["time"]["shortMonths"][11] == "dez."
    assert zone_label("Europe/Berlin", AT, "en") == "UTC+1"


def test_status_words_are_translated_and_none_reads_as_a_dash() -> None:
    assert status_word("pt-BR", "success") == "sucesso"
    assert status_word("pt-BR", "missed") == "perdida"
    assert status_word("en", None) == "—"
    assert t("pt-BR", "state.scheduler_stopped") != t("pt-BR", "state.job_paused")
