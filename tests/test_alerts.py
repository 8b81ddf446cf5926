"""Alerts once per episode: failures in a row and stale data, e-mailed to a real SMTP server; injected clock."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.clock import FrozenClock
from app.core.alerts import (
    FAILING,
    STALE,
    Alerter,
    Condition,
    failure_streak,
    is_too_old,
    open_alerts,
    plan,
    stale_limit,
)
from app.core.runner import RunContext
from tests.browser_support import free_port
from tests.smtp_support import SmtpServer
from tests.support import job, scheduler

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


class Switch:
    """A job that fails while `failing` is set."""

    def __init__(self) -> None:
        self.failing = True

    def __call__(self, ctx: RunContext) -> dict[str, Any]:
        if self.failing:
            raise RuntimeError("source unreachable")
        return {"rows": 1}


# -- pure decisions ---------------------------------------------------------------------------------------


def test_failure_streak_counts_the_newest_failures_only() -> None:
    assert failure_streak([]) == 0
    assert failure_streak(["failed", "timeout", "abandoned", "success", "failed"]) == 3
    assert failure_streak(["running", "failed", "skipped", "failed"]) == 2  # neither breaks a streak
    assert failure_streak(["success", "failed", "failed"]) == 0


def test_stale_limit_defaults_to_three_intervals() -> None:
    assert stale_limit(900, 0) == timedelta(minutes=45)
    assert stale_limit(900, 10) == timedelta(minutes=10)
    assert is_too_old(T0, T0 + timedelta(minutes=45, seconds=1), timedelta(minutes=45))
    assert not is_too_old(T0, T0 + timedelta(minutes=45), timedelta(minutes=45))
    assert not is_too_old(None, T0, timedelta(minutes=45))  # never ran: nothing is late yet


def test_plan_opens_new_episodes_and_resolves_cleared_ones_but_not_unknown_ones() -> None:
    failing, stale = Condition("a", FAILING, "x"), Condition("b", STALE, "y")
    assert plan([failing, stale], {"a:failing"}, set()) == ([stale], set())
    assert plan([], {"a:failing", "b:stale"}, {"b:stale"}) == ([], {"a:failing"})


# -- against the database and a real SMTP server --------------------------------------------------------


def test_failures_in_a_row_raise_one_alert_and_a_success_closes_the_episode(
    db_url: str, make_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clock, work = FrozenClock(T0), Switch()
    with SmtpServer() as server:
        env = server.settings_env() | {"ALERT_RECIPIENTS": "ops@example.com", "ALERT_STALE_MINUTES": "60"}
        settings = make_settings(db_url, **env)
        s = scheduler(settings, clock, job("sync", work, interval=60))
        alerter = Alerter(s.engine, settings, clock)
        raised: list[list[Any]] = []
        with caplog.at_level(logging.ERROR, logger="app.core.alerts"):
            for _ in range(6):  # six failed slots in a row
                s.tick()
                raised.append(alerter.check())
                clock.advance(60)
        assert [len(r) for r in raised] == [0, 0, 1, 0, 0, 0]  # once per episode, not on every check
        [alert] = raised[2]
        assert alert.kind == FAILING and alert.job_name == "sync" and alert.notified_at == T0 + timedelta(minutes=2)
        assert "failed 3 times in a row; last: RuntimeError: source unreachable" in alert.detail
        errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "app.core.alerts"]
        assert len(errors) == 1 and "alert: job 'sync' failed 3 times in a row" in errors[0].getMessage()
        [message] = server.inbox.messages
        assert message["Subject"] == "[Freshdash] failing: sync"
        assert server.inbox.envelopes[0][1] == ["ops@example.com"]
        assert "failed 3 times in a row" in message.get_content()
        assert message["Message-ID"] == alert.message_id
        assert [a["kind"] for a in open_alerts(s.engine)] == [FAILING]

        work.failing = False
        s.tick()
        assert alerter.check() == []
        assert open_alerts(s.engine) == []  # the success closed the episode

        work.failing = True  # a new streak is a new episode: a second e-mail
        for _ in range(3):
            clock.advance(60)
            s.tick()
            alerter.check()
        assert len(server.inbox.messages) == 2


def test_stale_data_raises_an_alert_until_the_next_success(db_url: str, make_settings: Any) -> None:
    clock, work = FrozenClock(T0), Switch()
    work.failing = False
    with SmtpServer() as server:
        settings = make_settings(db_url, **server.settings_env(), REPORT_RECIPIENTS="boss@example.com")
        s = scheduler(settings, clock, job("sync", work, interval=60))
        alerter = Alerter(s.engine, settings, clock)
        s.tick()  # one success at T0, then the timer stops ticking (no run is claimed below)
        clock.advance(180)
        assert alerter.check() == []  # exactly 3 intervals old: not yet
        clock.advance(1)
        [alert] = alerter.check()
        assert alert.kind == STALE and "data of job 'sync' is 3 min old (limit 3 min" in alert.detail
        assert "last success 2026-01-05 09:00" in alert.detail  # shown in SCHEDULER_TIMEZONE
        clock.advance(600)
        assert alerter.check() == []
        [message] = server.inbox.messages
        assert message["Subject"] == "[Freshdash] stale: sync"
        assert server.inbox.envelopes[0][1] == ["boss@example.com"]  # ALERT_RECIPIENTS defaults to these

        s.store.set_paused("sync", True, clock.now())  # hibernation: age is not judged, the episode stays
        assert alerter.check() == [] and len(open_alerts(s.engine)) == 1
        s.store.set_paused("sync", False, clock.now())
        s.tick()
        assert alerter.check() == [] and open_alerts(s.engine) == []


def test_alert_stale_minutes_overrides_three_intervals(sqlite_url: str, make_settings: Any) -> None:
    clock, work = FrozenClock(T0), Switch()
    work.failing = False
    settings = make_settings(sqlite_url, ALERT_STALE_MINUTES=10)
    s = scheduler(settings, clock, job("sync", work, interval=60))
    s.tick()
    alerter = Alerter(s.engine, settings, clock)
    clock.advance(599)
    assert alerter.check() == []
    clock.advance(2)
    [alert] = alerter.check()
    assert "limit 10 min" in alert.detail
    assert alert.notified_at is None and alert.recipients == ""  # no SMTP configured: logged only


def test_an_alert_e_mail_that_failed_is_retried_later_once(sqlite_url: str, make_settings: Any) -> None:
    clock, port = FrozenClock(T0), free_port()
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_TLS": "none", "ALERT_RECIPIENTS": "ops@example.com"}
    settings = make_settings(sqlite_url, ALERT_AFTER_FAILURES=1, **env)
    s = scheduler(settings, clock, job("sync", Switch(), interval=3600))
    alerter = Alerter(s.engine, settings, clock)
    s.tick()
    [alert] = alerter.check()  # SMTP down: the alert is open and logged, the e-mail failed
    assert alert.notified_at is None and "connection refused" in (alert.notify_error or "")
    with SmtpServer(port=port) as server:
        clock.advance(60)
        assert alerter.check() == []  # retried only after NOTIFY_RETRY
        clock.advance(240)
        [retried] = alerter.check()
        assert retried.id == alert.id and retried.notified_at == clock.now()
        clock.advance(600)
        assert alerter.check() == []
        assert len(server.inbox.messages) == 1


def test_only_one_replica_opens_an_episode(db_url: str, make_settings: Any) -> None:
    clock, sent = FrozenClock(T0), []

    def send(*args: Any) -> str:
        sent.append(args)
        return "<id@test>"

    settings = make_settings(db_url, ALERT_AFTER_FAILURES=1, SMTP_HOST="smtp.example.com", ALERT_RECIPIENTS="o@x.com")
    s = scheduler(settings, clock, job("sync", Switch(), interval=3600))
    s.tick()
    first, second = Alerter(s.engine, settings, clock, send=send), Alerter(s.engine, settings, clock, send=send)
    condition = Condition("sync", FAILING, "job 'sync' failed")
    assert first._open(condition, clock.now()) is not None
    assert second._open(condition, clock.now()) is None  # the unique open key turned the second one away
    assert second.check() == [] and first.check() == []
    assert len(sent) == 1


def test_an_unexpected_mail_error_is_not_swallowed(sqlite_url: str, make_settings: Any) -> None:
    def broken(*args: Any) -> str:
        raise ValueError("a bug, not a delivery problem")

    settings = make_settings(
        sqlite_url, ALERT_AFTER_FAILURES=1, SMTP_HOST="smtp.example.com", ALERT_RECIPIENTS="o@x.com"
    )
    clock = FrozenClock(T0)
    s = scheduler(settings, clock, job("sync", Switch(), interval=3600))
    s.tick()
    with pytest.raises(ValueError):
        Alerter(s.engine, settings, clock, send=broken).check()


def test_a_datasets_max_age_is_its_stale_alert_limit(sqlite_url: str, tmp_path: Any) -> None:
    from app.config import load_settings

    settings = load_settings(
        env={"DATABASE_URL": sqlite_url, "ALERT_STALE_MINUTES": "60"},
        secrets={"datasets": {"events": {"source": "demo", "max_age_minutes": 2, "destination": "ev"}}},
    )
    clock, work = FrozenClock(T0), Switch()
    work.failing = False
    s = scheduler(settings, clock, job("sync_events", work, interval=60), job("other", work, interval=60))
    alerter = Alerter(s.engine, settings, clock)
    s.tick()
    clock.advance(121)  # past the dataset's 2 minutes, far from ALERT_STALE_MINUTES for the other job
    [alert] = alerter.check()
    assert (alert.job_name, alert.kind) == ("sync_events", STALE) and "limit 2 min" in alert.detail
