"""The e-mailed report, received by a real SMTP server (aiosmtpd), on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select

from app.clock import FrozenClock
from app.config import load_settings
from app.core.database import get_engine
from app.demo.source import metadata as demo_metadata
from app.demo.source import orders as demo_orders
from app.errors import DeliveryError
from app.jobs.report import make_report_job, report_is_configured, report_period
from app.mail import send_mail
from tests.browser_support import free_port
from tests.smtp_support import SmtpServer
from tests.support import job, scheduler

UTC = timezone.utc
# 07:00 in São Paulo (UTC-3) on 2026-01-05: the report covers the local day 2026-01-04.
REPORT_AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
DAY_START, DAY_END = datetime(2026, 1, 4, 3, 0, tzinfo=UTC), datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def order(order_id: int, created_at: datetime, amount: float, region: str = "South", **extra: Any) -> dict[str, Any]:
    naive = created_at.astimezone(UTC).replace(tzinfo=None)
    row = {
        "id": order_id,
        "created_at": naive,
        "updated_at": naive,
        "customer": f"cliente-{order_id:04d} São João",
        "region": region,
        "channel": "web",
        "product": "Grinder",
        "quantity": 2,
        "amount": amount,
        "status": "paid",
        "deleted": False,
    }
    row.update(extra)
    return row


def seed_orders(database_url: str) -> list[dict[str, Any]]:
    """Orders around the report day; returns the ones the report must contain, in order."""
    rows = [
        order(1, DAY_START - timedelta(seconds=1), 10.0),  # 23:59:59 the day before: out
        order(2, DAY_START, 100.5, "North"),  # local midnight: in
        order(3, DAY_START + timedelta(hours=5), 200.25),
        order(4, DAY_START + timedelta(hours=6), 999.0, deleted=True, status="cancelled"),  # soft-deleted: out
        order(5, DAY_END - timedelta(seconds=1), 50.0, "North"),  # 23:59:59 local: in
        order(6, DAY_END, 70.0),  # the next local day: out
    ]
    engine = get_engine(database_url)
    demo_metadata.create_all(engine, tables=[demo_orders])
    with engine.begin() as conn:
        conn.execute(insert(demo_orders), rows)
    return [r for r in rows if r["id"] in {2, 3, 5}]


def run_report(settings: Any, clock: FrozenClock) -> Any:
    s = scheduler(settings, clock, job("report", make_report_job(settings), interval=86400))
    [outcome] = s.tick()
    return outcome


def test_report_is_received_with_intact_csv_and_excel(db_url: str, make_settings: Any) -> None:
    expected = seed_orders(db_url)
    with SmtpServer() as server:
        settings = make_settings(db_url, **server.settings_env(), REPORT_RECIPIENTS="ana@example.com, bia@example.com")
        outcome = run_report(settings, FrozenClock(REPORT_AT))
        assert outcome.status == "success", outcome.error
        [message] = server.inbox.messages
    assert server.inbox.envelopes[0][1] == ["ana@example.com", "bia@example.com"]
    assert message["Subject"] == "Freshdash report 2026-01-04: 3 orders, 350.75 revenue"
    files = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    assert set(files) == {"orders_2026-01-04.csv", "orders_2026-01-04.xlsx"}

    lines = list(csv.DictReader(io.StringIO(files["orders_2026-01-04.csv"].decode("utf-8-sig"))))
    with get_engine(db_url).connect() as conn:
        stored = {r["id"]: r for r in conn.execute(select(demo_orders)).mappings()}
    assert [int(line["id"]) for line in lines] == [r["id"] for r in expected]
    for line in lines:
        row = stored[int(line["id"])]
        assert float(line["amount"]) == row["amount"]
        assert line["customer"] == row["customer"]  # accents survive
        assert datetime.fromisoformat(line["created_at"]) == row["created_at"].replace(tzinfo=UTC)
        assert line["created_at"].endswith("-03:00")  # shown in SCHEDULER_TIMEZONE

    book = load_workbook(io.BytesIO(files["orders_2026-01-04.xlsx"]))
    assert book.sheetnames == ["Summary", "Orders"]
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Orders"] == 3 and summary["Revenue"] == pytest.approx(350.75)
    sheet_rows = list(book["Orders"].iter_rows(values_only=True))
    assert sheet_rows[0][:2] == ("id", "created_at")
    assert [r[0] for r in sheet_rows[1:]] == [2, 3, 5]
    assert sheet_rows[1][1] == datetime(2026, 1, 4, 0, 0)  # local midnight, naive (Excel has no zones)

    result = outcome.result  # the run record shows the delivery
    assert result["rows"] == 3 and result["message_id"] == message["Message-ID"]
    assert result["recipients"] == ["ana@example.com", "bia@example.com"]
    assert {a["name"]: a["bytes"] for a in result["attachments"]} == {n: len(c) for n, c in files.items()}
    assert result["period_start"] == "2026-01-04T00:00:00-03:00"
    assert result["period_end"] == "2026-01-05T00:00:00-03:00"


def test_a_period_of_several_days_ends_yesterday(sqlite_url: str, make_settings: Any) -> None:
    seed_orders(sqlite_url)
    with SmtpServer() as server:
        settings = make_settings(sqlite_url, **server.settings_env(), REPORT_RECIPIENTS="a@x.com", REPORT_PERIOD_DAYS=7)
        outcome = run_report(settings, FrozenClock(REPORT_AT))
    assert outcome.result["rows"] == 4  # order 1 (the 3rd) is in; order 6 (today) is not
    assert [a["name"] for a in outcome.result["attachments"]][0] == "orders_2025-12-29_2026-01-04.csv"


def test_report_period_is_whole_local_days_even_across_daylight_saving() -> None:
    new_york = ZoneInfo("America/New_York")
    start, end = report_period(datetime(2026, 3, 9, 12, 0, tzinfo=UTC), new_york, 1)  # 2026-03-08 has 23 h
    assert start.astimezone(new_york).isoformat() == "2026-03-08T00:00:00-05:00"
    assert end.astimezone(new_york).isoformat() == "2026-03-09T00:00:00-04:00"
    assert end - start == timedelta(hours=23)


def test_wrong_smtp_password_is_a_clear_failed_run_without_the_password(sqlite_url: str, make_settings: Any) -> None:
    seed_orders(sqlite_url)
    with SmtpServer(user="reports", password="Right-Pa55") as server:
        env = server.settings_env() | {"SMTP_PASSWORD": "Wr0ng-Pa55-word"}
        settings = make_settings(sqlite_url, **env, REPORT_RECIPIENTS="ana@example.com")
        clock = FrozenClock(REPORT_AT)
        s = scheduler(settings, clock, job("report", make_report_job(settings), interval=86400))
        [outcome] = s.tick()
        assert outcome.status == "failed"
        assert outcome.error is not None
        assert outcome.error.startswith("DeliveryError: cannot send e-mail through 127.0.0.1:")
        assert "authentication failed for user 'reports'" in outcome.error and "SMTP_PASSWORD" in outcome.error
        assert "Wr0ng-Pa55-word" not in outcome.error
        assert server.inbox.messages == []
        clock.advance(86400)  # the scheduler goes on: the next slot runs (and fails the same way)
        assert [o.status for o in s.tick()] == ["failed"]
        right = load_settings(env=env | {"SMTP_PASSWORD": "Right-Pa55"}, secrets={})
        send_mail(right, "check", "the server works with the right password", ["ana@example.com"])
        assert len(server.inbox.messages) == 1


def test_smtp_down_gives_a_clear_error_naming_host_and_port() -> None:
    port = free_port()  # nothing listens there
    settings = load_settings(env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_TLS": "none"}, secrets={})
    with pytest.raises(DeliveryError, match=f"127.0.0.1:{port}: connection refused") as caught:
        send_mail(settings, "x", "y", ["ana@example.com"])
    assert "SMTP_HOST" in str(caught.value)


def test_refused_recipients_are_named_and_a_partial_refusal_still_delivers(caplog: pytest.LogCaptureFixture) -> None:
    with SmtpServer() as server:
        server.inbox.refuse = {"gone@example.com", "left@example.com"}
        settings = load_settings(env=server.settings_env(), secrets={})
        with pytest.raises(DeliveryError, match="every recipient was refused: gone@example.com \\(550 5.1.1 No such"):
            send_mail(settings, "x", "y", ["gone@example.com", "left@example.com"])
        assert server.inbox.messages == []
        send_mail(settings, "x", "y", ["gone@example.com", "ana@example.com"])
        assert server.inbox.envelopes == [("freshdash@127.0.0.1", ["ana@example.com"])]
    assert "refused some recipients: gone@example.com" in caplog.text


def test_starttls_required_but_not_offered_is_explained() -> None:
    with SmtpServer() as server:
        settings = load_settings(env=server.settings_env() | {"SMTP_TLS": "starttls"}, secrets={})
        with pytest.raises(DeliveryError, match='does not offer STARTTLS; set SMTP_TLS = "ssl"'):
            send_mail(settings, "x", "y", ["ana@example.com"])


def test_report_without_smtp_fails_naming_the_keys(sqlite_url: str, make_settings: Any) -> None:
    settings = make_settings(sqlite_url, REPORT_RECIPIENTS="ana@example.com")
    assert not report_is_configured(settings)
    assert not report_is_configured(make_settings(sqlite_url, SMTP_HOST="smtp.example.com"))
    assert report_is_configured(make_settings(sqlite_url, SMTP_HOST="smtp.example.com", REPORT_RECIPIENTS="a@x.com"))
    outcome = run_report(settings, FrozenClock(REPORT_AT))
    assert outcome.status == "failed"
    assert "ConfigError" in outcome.error and "SMTP_HOST" in outcome.error and "REPORT_RECIPIENTS" in outcome.error


def test_report_before_any_sync_is_sent_empty(sqlite_url: str, make_settings: Any) -> None:
    with SmtpServer() as server:
        settings = make_settings(sqlite_url, **server.settings_env(), REPORT_RECIPIENTS="ana@example.com")
        outcome = run_report(settings, FrozenClock(REPORT_AT))
        assert outcome.status == "success", outcome.error
        [message] = server.inbox.messages
    assert outcome.result["rows"] == 0
    assert "0 orders" in message["Subject"]


BAD_MAIL_VALUES = [
    ("SMTP_PORT", "smtp", "whole number between 1 and 65535"),
    ("SMTP_TLS", "tls", "one of starttls, ssl, none"),
    ("SMTP_HOST", "smtp.example.com:587", "the port goes in SMTP_PORT"),
    ("SMTP_FROM", "Freshdash <bot@example.com>", "e-mail addresses"),
    ("SMTP_TIMEOUT_SECONDS", "0", "between 0.1"),
    ("REPORT_RECIPIENTS", "ana@example.com; bia", "e-mail addresses"),
    ("REPORT_PERIOD_DAYS", "0", "whole number between 1"),
    ("REPORT_TIME", "7am", "HH:MM"),
    ("REPORT_TIME", "24:00", "HH:MM"),
    ("METRICS_PORT", "-1", "whole number between 0 and 65535"),
    ("ALERT_AFTER_FAILURES", "0", "whole number between 1"),
    ("ALERT_STALE_MINUTES", "-5", "between 0"),
    ("ALERT_RECIPIENTS", "ops", "e-mail addresses"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_MAIL_VALUES)
def test_bad_mail_setting_becomes_an_issue_and_the_default(key: str, value: str, allowed: str) -> None:
    settings = load_settings(env={key: value}, secrets={})
    [issue] = settings.issues
    assert issue.key == key and allowed in issue.message and "using the default" in issue.message
    assert getattr(settings, key.lower()) == getattr(load_settings(env={}, secrets={}), key.lower())


def test_mail_settings_parse_and_the_password_is_masked() -> None:
    settings = load_settings(
        env={"REPORT_RECIPIENTS": " ana@example.com,bia@example.com ", "REPORT_TIME": "7:30", "SMTP_PASSWORD": "Pw-1"},
        secrets={"ALERT_RECIPIENTS": ["ops@example.com"], "SMTP_PORT": 465, "SMTP_TLS": "ssl"},
    )
    assert settings.issues == ()
    assert settings.report_recipients == ("ana@example.com", "bia@example.com")
    assert settings.alert_recipients == ("ops@example.com",)
    assert (settings.report_time, settings.smtp_port, settings.smtp_tls) == ("07:30", 465, "ssl")
    assert "Pw-1" not in repr(settings) and settings.redacted()["SMTP_PASSWORD"] == "••••••"
    defaults = load_settings(env={}, secrets={})
    assert (defaults.smtp_port, defaults.smtp_tls, defaults.smtp_timeout_seconds) == (587, "starttls", 30.0)
    assert (defaults.report_period_days, defaults.report_time, defaults.metrics_port) == (1, "07:00", 0)
    assert (defaults.alert_after_failures, defaults.alert_stale_minutes) == (3, 0.0)
