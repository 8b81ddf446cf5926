"""SMTP delivery of one message with attachments (smtplib, TLS modes starttls | ssl | none, a timeout).

Every failure becomes a DeliveryError naming host:port and what failed; the password never appears.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from app.config import Settings, secret_values
from app.errors import DeliveryError
from app.redaction import scrub

logger = logging.getLogger(__name__)
Attachment = tuple[str, bytes, str]  # (file name, content, MIME type such as "text/csv")


def smtp_is_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def sender_of(settings: Settings) -> str:
    """SMTP_FROM, else the login when it is an address, else freshdash@<SMTP_HOST>."""
    if settings.smtp_from:
        return settings.smtp_from
    if "@" in settings.smtp_user:
        return settings.smtp_user
    return f"freshdash@{settings.smtp_host or 'localhost'}"


def build_message(
    settings: Settings, subject: str, body: str, recipients: Sequence[str], attachments: Iterable[Attachment] = ()
) -> EmailMessage:
    sender = sender_of(settings)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    for filename, content, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return message


def send_mail(
    settings: Settings,
    subject: str,
    body: str,
    recipients: Sequence[str],
    attachments: Iterable[Attachment] = (),
) -> str:
    """Hand one message to SMTP_HOST and return its Message-ID; raise DeliveryError when it cannot."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if not settings.smtp_host:
        raise DeliveryError("no SMTP server configured: set SMTP_HOST (and SMTP_PORT, SMTP_TLS, SMTP_USER)")
    if not recipients:
        raise DeliveryError(f"no recipients for the e-mail {subject!r} to send through {where}")
    message = build_message(settings, subject, body, recipients, attachments)
    try:
        with _connect(settings) as smtp:
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            refused = smtp.send_message(message, to_addrs=list(recipients))
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        detail = _explain(exc, settings)
        raise DeliveryError(scrub(f"cannot send e-mail through {where}: {detail}", secret_values(settings))) from None
    if refused:
        # Some recipients got it: raising now would make a retry send it to them twice.
        logger.warning("SMTP server %s refused some recipients: %s", where, ", ".join(sorted(refused)))
    logger.info("e-mail %r sent through %s to %d recipient(s)", subject, where, len(recipients) - len(refused))
    return str(message["Message-ID"])


def _connect(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    if settings.smtp_tls == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if settings.smtp_tls == "starttls":
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise DeliveryError(
                    f"SMTP server {host}:{port} does not offer STARTTLS; "
                    'set SMTP_TLS = "ssl" (usually port 465) or "none" (trusted networks only)'
                )
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
    except BaseException:
        smtp.close()
        raise
    return smtp


def _explain(exc: BaseException, settings: Settings) -> str:
    """What failed, in the words of someone who has to fix SMTP_* settings."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"authentication failed for user {settings.smtp_user!r} ({exc.smtp_code} {_text(exc.smtp_error)}); "
            "check SMTP_USER and SMTP_PASSWORD"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the server does not support this ({exc}); check SMTP_TLS and whether it needs SMTP_USER"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{addr} ({code} {_text(msg)})" for addr, (code, msg) in exc.recipients.items())
        return f"every recipient was refused: {refused}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"sender {exc.sender} refused ({exc.smtp_code} {_text(exc.smtp_error)}); check SMTP_FROM"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listening there); check SMTP_HOST, SMTP_PORT and that the server runs"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {settings.smtp_timeout_seconds:g} s (SMTP_TIMEOUT_SECONDS)"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror}); check SMTP_HOST"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc}); check SMTP_TLS (ssl for port 465, starttls for 587)"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({exc}); check SMTP_PORT and SMTP_TLS"
    return f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
