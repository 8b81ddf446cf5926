"""What a look at every page in both languages found (2026-12 review), each under AppTest so it stays fixed:
no English words in pt-BR tables, origins in the reader's language, booleans as one writes them, and status
dots that need no emoji font."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import pytest

from app.config import effective_rows, load_settings
from app.core.models import RunReason
from app.core.scheduler import SyncScheduler
from app.ui import data
from app.ui.components.datasets import DOTS, LEVEL_ORDER
from app.ui.components.scheduler_status import badge_state
from app.ui.text import STRINGS, origin_word, reason_word, t
from tests.support import status_of
from tests.test_ui import Configure, configure, render, wait_for_first_sync

__all__ = ["configure"]  # the fixture, shared with test_ui.py


def table_with(at: Any, column: str) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_every_run_reason_has_its_word_in_both_languages() -> None:
    for reason in RunReason:
        assert f"reason.{reason.value}" in STRINGS["en"] and f"reason.{reason.value}" in STRINGS["pt-BR"]
    assert reason_word("pt-BR", "schedule") == "agendada"
    assert reason_word("pt-BR", "catch-up") == "recuperação"
    assert reason_word("en", "retry") == "retry"
    assert reason_word("en", None) == "—"


def test_setting_origins_are_translated_rejected_ones_included() -> None:
    assert origin_word("pt-BR", "environment") == "ambiente"
    assert origin_word("pt-BR", "default") == "padrão"
    assert origin_word("pt-BR", "default (environment value rejected)") == "padrão (valor de ambiente recusado)"
    assert origin_word("en", "default (secrets value rejected)") == "default (secrets value rejected)"


def test_the_scheduler_page_in_portuguese_has_no_english_run_reasons_or_job_origins(configure: Configure) -> None:
    configure(UI_LANGUAGE="pt-BR")
    render("scheduler")
    wait_for_first_sync()
    at = render("scheduler")
    runs = table_with(at, "tentativa")
    assert set(runs["motivo"]) == {"agendada"}, runs["motivo"].tolist()
    jobs = table_with(at, "descrição")
    described = dict(zip(jobs["job"], jobs["descrição"], strict=True))
    expected = "Mantém em dia o conjunto de dados orders (a fonte de demonstração embutida)"
    assert described["incremental_sync"] == expected


def test_the_settings_page_says_where_values_come_from_in_portuguese_and_writes_booleans_as_typed(
    configure: Configure,
) -> None:
    configure(UI_LANGUAGE="pt-BR", SYNC_INTERVAL_MINUTES="abc", SCHEDULER_ENABLED="true")
    at = render("settings")
    rows = {row["key"]: row for row in table_with(at, "key").to_dict("records")}
    assert rows["UI_LANGUAGE"]["origin"] == "ambiente"
    assert rows["SCHEDULER_TIMEZONE"]["origin"] == "padrão"
    assert rows["SYNC_INTERVAL_MINUTES"]["origin"] == "padrão (valor de ambiente recusado)"
    assert rows["SCHEDULER_ENABLED"]["value"] == "true"
    assert rows["ENABLE_AUTOREFRESH_FALLBACK"]["default"] == "true"


def test_booleans_read_as_one_writes_them_in_the_cli_and_on_the_settings_page() -> None:
    rows = {row["key"]: row for row in effective_rows(load_settings(env={"SCHEDULER_ENABLED": "false"}, secrets={}))}
    assert rows["SCHEDULER_ENABLED"]["value"] == "false" and rows["SCHEDULER_ENABLED"]["default"] == "true"


def test_the_sidebar_dataset_line_draws_its_dot_without_needing_an_emoji_font(configure: Configure) -> None:
    """An emoji dot is an empty box where no emoji font is installed (the line shows when no timer runs here)."""
    configure(SCHEDULER_ENABLED="false")
    at = render("dashboard")
    lines = [str(m.value) for m in at.sidebar.markdown if "orders" in str(m.value)]
    assert lines and all(line.startswith((":green[●]", ":orange[●]", ":red[●]", ":blue[●]")) for line in lines), lines
    assert not [c for line in lines for c in line if ord(c) > 0xFFFF], lines  # no emoji (astral plane)
    assert set(DOTS) == set(LEVEL_ORDER)  # every level, not only the one drawn here
    assert all(dot.endswith("[●]") for dot in DOTS.values()), DOTS  # U+25CF: in every common text font


def test_a_web_server_whose_worker_never_beat_says_so_instead_of_silent_since_a_dash() -> None:
    never = status_of(state="silent", silent_since=None, data_age_seconds=None, last_result=None, current_run=None)
    assert badge_state(never, "en") == ("No scheduler has run yet: start one (`python -m app worker`)", "error")
    assert badge_state(never, "pt-BR")[0] == "Nenhum agendador rodou ainda: inicie um (`python -m app worker`)"
    since = status_of(state="silent", silent_since="2026-01-05T10:42:00-03:00", timezone="America/Sao_Paulo")
    assert badge_state(since, "en")[0] == "Scheduler silent since 10:42 UTC-3"


def test_an_empty_dashboard_with_no_scheduler_running_does_not_promise_a_sync_by_itself(configure: Configure) -> None:
    configure(SCHEDULER_ROLE="web")  # no worker beside it
    at = render("dashboard")
    shown = " ".join(str(i.value) for i in at.info)
    assert "no scheduler is running to sync them" in shown and "starts by itself" not in shown, shown


# -- 2026-12 second look (screenshots of a real server, both languages, 1280 and 390 px) ---------------------


def test_the_settings_datasets_table_has_one_row_per_key_in_the_readers_language(configure: Configure) -> None:
    """A dozen keys side by side ran past a 1280 px page and explained their defaults in English."""
    configure(UI_LANGUAGE="pt-BR")
    at = render("settings")
    rows = [df.value for df in at.dataframe if "orders" in df.value.columns]
    assert len(rows) == 1, [list(df.value.columns) for df in at.dataframe]
    table = rows[0]
    assert list(table.columns) == ["key", "orders"]
    shown = dict(zip(table["key"], table["orders"], strict=True))
    assert shown["job"] == "incremental_sync" and shown["key"] == "id" and shown["cursor"] == "updated_at"
    assert shown["trigger"] == "a cada SYNC_INTERVAL_MINUTES"
    assert shown["max_age_minutes"] == "(um período)"
    assert shown["table"] == "—"  # a demo source has no table: a dash, not a blank cell
    assert all(shown.values()), shown


def test_the_settings_datasets_table_shows_every_key_without_inner_scrolling(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its default height (ten rows) hid soft_delete and token below an inner scroll bar."""
    import streamlit as st

    heights: dict[str, tuple[int, object]] = {}
    real = st.dataframe

    def recording(data: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, list) and data and "orders" in data[0]:
            heights["datasets"] = (len(data), kwargs.get("height"))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(st, "dataframe", recording)
    render("settings")
    rows, height = heights["datasets"]
    assert isinstance(height, int) and height >= 35 * (rows + 1), (rows, height)  # 35 px: st.dataframe's row


def test_the_scheduler_page_in_portuguese_names_its_columns_as_they_are_shown(configure: Configure) -> None:
    configure(UI_LANGUAGE="pt-BR", SCHEDULER_ENABLED="false")
    at = render("scheduler")
    captions = [str(c.value) for c in at.caption]
    assert "Execuções por job e situação" in captions, captions
    priority = next(c for c in captions if "maior prioridade" in c)
    assert "'depois de'" in priority and "'after'" not in priority, priority  # the column says "depois de"
    assert "página Agendador" in t("pt-BR", "dash.empty") and "Scheduler" not in t("pt-BR", "dash.empty")


def test_no_lone_dash_under_the_last_run_before_any_run(configure: Configure) -> None:
    configure(SCHEDULER_ENABLED="false")  # nothing runs: no last run, no result
    at = render("scheduler")
    assert "—" not in [str(c.value) for c in at.caption], [str(c.value) for c in at.caption]


def test_the_sidebar_says_syncing_once_while_a_run_is_in_progress(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The badge and the spinner box said "Syncing…" one above the other."""
    configure(SCHEDULER_ENABLED="false")
    real = SyncScheduler.get_status
    running = status_of(current_run={"rows": 0}).current_run

    def in_progress(self: SyncScheduler, job: str, *args: Any, **kwargs: Any) -> Any:
        return dataclasses.replace(real(self, job, *args, **kwargs), current_run=running)

    monkeypatch.setattr(SyncScheduler, "get_status", in_progress)
    at = render("dashboard")
    said = [str(e.value) for e in at.sidebar.info] + [str(box.label) for box in at.sidebar.expander]
    assert said.count("Syncing…") == 1, said
    assert [str(box.label) for box in at.sidebar.expander] == ["Syncing…"], said  # the spinner box stays
    inside = [str(c.value) for c in at.sidebar.expander[0].caption]  # it opens onto which run, why, since when
    assert inside == ["Run 1 of incremental_sync (manual), started 09:00 UTC-3."], inside


def test_a_version_kept_from_another_database_is_never_held_over_this_ones() -> None:
    """A page read during the first sync kept the previous database's version 1 while this one had 0: its caches
    were keyed on 1, so after the sync committed version 1 they served what was read before it (Rows: —)."""
    pace = data.Pace()
    assert pace.version(status_of(data_version=1, current_run={"rows": 40}), 5.0, now=10.0) == 1
    assert pace.version(status_of(data_version=0, current_run={"rows": 0}), 5.0, now=11.0) == 0
    assert pace.version(status_of(data_version=1, current_run=None), 5.0, now=11.5) == 1


def test_the_waiting_box_says_which_job_was_requested_and_when() -> None:
    """The Scheduler page's box before a scheduler claims a requested run opened onto nothing."""
    from datetime import datetime, timezone

    from app.core.store import RunRequest
    from app.ui.components.scheduler_status import _request_detail

    class Handle:
        job_name = "incremental_sync"
        request = RunRequest("incremental_sync", None, datetime(2026, 1, 5, 12, 42, tzinfo=timezone.utc), False)

    said = _request_detail(Handle(), "en", "America/Sao_Paulo")  # type: ignore[arg-type]
    assert said == "incremental_sync: requested at 09:42 UTC-3; a scheduler starts it at its next look at the queue."
    pt = _request_detail(Handle(), "pt-BR", "America/Sao_Paulo")  # type: ignore[arg-type]
    assert pt.startswith("incremental_sync: pedida às 09:42 BRT")
