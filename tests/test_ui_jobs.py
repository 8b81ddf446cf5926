"""The Scheduler page's job catalogue under AppTest: triggers changed from the page (persisted, bad text
explained), pause/resume, per-job history, today's queue; viewers cannot change jobs when a guard is set."""

from __future__ import annotations

from typing import Any

from tests.test_ui import Configure, configure, render, rendered_text, scheduler, wait_for_first_sync

__all__ = ["configure"]  # the fixture, shared with test_ui.py


def jobs_table(at: Any) -> dict[str, dict[str, Any]]:
    frame = next(df.value for df in at.dataframe if "trigger" in df.value.columns and "priority" in df.value.columns)
    return {row["job"]: row for row in frame.to_dict("records")}


def test_every_built_in_job_is_listed_with_its_trigger(configure: Configure) -> None:
    at = render("scheduler")
    table = jobs_table(at)
    assert table["incremental_sync"]["trigger"] == "every 15m"
    assert table["daily_renewal"]["trigger"] == "daily 00:01"
    assert table["history_retention"]["trigger"] == "daily 03:00"
    assert "Today's queue" in rendered_text(at)
    assert "email_report" not in table
    assert any("joins this list once SMTP_HOST" in str(c.value) for c in at.caption)


def test_the_report_job_is_listed_once_smtp_is_configured(configure: Configure) -> None:
    configure(SMTP_HOST="smtp.example.com", REPORT_RECIPIENTS="ana@example.com", REPORT_TIME="06:30")
    at = render("scheduler")
    assert jobs_table(at)["email_report"]["trigger"] == "daily 06:30"
    assert not any("joins this list" in str(c.value) for c in at.caption)


def test_a_trigger_changed_on_the_page_is_stored_and_bad_text_is_explained(configure: Configure) -> None:
    at = render("scheduler")
    wait_for_first_sync()
    at.selectbox(key="fd_job_pick").select("history_retention").run()
    box = at.text_input(key="fd_job_trigger_history_retention")
    box.input("cron 0 8 * *").run()
    at.button(key="fd_job_save").click().run()
    assert any("has 4 fields" in str(e.value) for e in at.error), [e.value for e in at.error]
    assert scheduler().store.get_job("history_retention").trigger == "daily 03:00"  # unchanged

    at.text_input(key="fd_job_trigger_history_retention").input("daily 04:30 on weekends").run()
    at.button(key="fd_job_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert scheduler().store.get_job("history_retention").trigger == "daily 04:30 on weekends"
    assert jobs_table(at)["history_retention"]["trigger"] == "daily 04:30 on weekends"

    at.button(key="fd_job_pause").click().run()
    assert scheduler().store.get_job("history_retention").paused is True
    assert jobs_table(at)["history_retention"]["state"] == "paused (job)"  # not the scheduler's "held"


def test_history_can_be_filtered_by_job(configure: Configure) -> None:
    at = render("scheduler")
    wait_for_first_sync()
    at.selectbox(key="fd_hist_job").select("history_retention").run()
    assert any("No runs yet" in str(i.value) for i in at.info)
    at.selectbox(key="fd_hist_job").select("incremental_sync").run()
    history = next(df.value for df in at.dataframe if "attempt" in df.value.columns)
    assert set(history["job"]) == {"incremental_sync"}


def test_in_portuguese_a_configuration_problem_has_a_portuguese_headline_over_the_exact_english_detail(
    configure: Configure,
) -> None:
    configure(JOB_MODULES="no_such_jobs_module", UI_LANGUAGE="pt-BR")
    detail = (
        "JOB_MODULES: cannot import 'no_such_jobs_module' (ModuleNotFoundError: No module named 'no_such_jobs_module')"
    )
    for name in ("settings", "scheduler"):
        [warning] = [str(w.value) for w in render(name).warning if detail in str(w.value)]
        assert warning.startswith("1 problema(s) deixaram jobs fora do catálogo; os demais jobs rodam:"), warning
    configure(DATABASE_URL="notaurl")  # a placement key: nothing runs, the page says why
    errors = [str(e.value) for e in render("dashboard").error]
    assert "Configuração inutilizável · detalhes na página" in errors  # the sidebar badge
    headline = "O Freshdash não pode rodar com estas configurações: DATABASE_URL=notaurl: must be a SQLAlchemy URL"
    assert any(e.startswith(headline) for e in errors), errors


def test_viewers_cannot_change_jobs_when_an_admin_guard_is_set(configure: Configure) -> None:
    configure(ADMIN_PASSWORD="s3cret-admin")
    at = render("scheduler")
    assert not [w for w in at.text_input if w.key and w.key.startswith("fd_job_trigger")]
    assert any("needs the admin password" in str(c.value) for c in at.caption)


def test_a_job_module_that_fails_is_explained_on_the_settings_and_scheduler_pages(configure: Configure) -> None:
    configure(JOB_MODULES="no_such_jobs_module")
    for name in ("settings", "scheduler"):
        at = render(name)
        warnings = [str(w.value) for w in at.warning]
        assert any("cannot import 'no_such_jobs_module'" in w for w in warnings), (name, warnings)
        if name == "settings":  # not "every setting is valid" beside a job module that failed
            assert not at.success, [s.value for s in at.success]
