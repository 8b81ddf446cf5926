"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, optionally with AUTH."""

from __future__ import annotations

import email
import threading
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.browser_support import free_port


class Inbox:
    """aiosmtpd handler that keeps every received message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.received = threading.Event()
        self.refuse: set[str] = set()  # recipients answered with 550

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        self.received.set()
        return "250 Message accepted for delivery"


class SmtpServer:
    """Start with `with SmtpServer(...) as server:`; `server.inbox.messages` holds what arrived."""

    def __init__(self, user: str | None = None, password: str | None = None, port: int | None = None) -> None:
        self.inbox = Inbox()
        self.port = port or free_port()
        self.user, self.password = user, password
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=False)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == self.user
        ok = ok and data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)

    def settings_env(self) -> dict[str, str]:
        """SMTP_* keys pointing at this server (plain SMTP on a loopback port)."""
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_TLS": "none", "SMTP_TIMEOUT_SECONDS": "10"}
        if self.user is not None:
            env.update(SMTP_USER=self.user, SMTP_PASSWORD=self.password or "")
        return env

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
