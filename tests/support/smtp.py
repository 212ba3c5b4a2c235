"""A real SMTP server (aiosmtpd) on loopback for tests, and Django settings pointing at it.

Django's SMTP backend talks to it over TCP exactly as to a production relay; the handler
stores each message as received (parsed with the standard library), so tests read
one-time passwords and links from what actually went over the wire.

Use the ``smtp_server`` fixture (a module lists ``pytest_plugins = ["tests.support.smtp"]``)::

    def test_x(smtp_server):
        ...  # code that sends mail
        message = smtp_server.last_to("taro@example.jp")
        assert "123456" in smtp_server.body(message)
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

from tests.support.server import free_port


@dataclass
class Received:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """The running server: ``messages`` in arrival order and a few readers."""

    def __init__(self, controller: Controller, handler: _Handler) -> None:
        self.controller = controller
        self._handler = handler
        self.host = controller.hostname
        self.port = controller.port

    @property
    def messages(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    def clear(self) -> None:
        with self._handler.lock:
            self._handler.received.clear()

    def to(self, address: str) -> list[Received]:
        """Messages whose envelope recipients include ``address``."""
        return [m for m in self.messages if address in m.rcpt_tos]

    def last_to(self, address: str) -> Received:
        found = self.to(address)
        assert found, f"no mail to {address}; got {[m.rcpt_tos for m in self.messages]}"
        return found[-1]

    def otp_for(self, address: str) -> str:
        """The 6-digit one-time password in the newest mail to ``address``."""
        found = re.search(r"^\s+(\d{6})\s*$", self.last_to(address).body, re.MULTILINE)
        assert found, "no one-time password in the mail"
        return found.group(1)

    def link_to(self, address: str, fragment: str) -> str:
        """The path (without scheme and host) of the first link containing ``fragment``."""
        for url in re.findall(r"https?://\S+", self.last_to(address).body):
            if fragment in url:
                return re.sub(r"^https?://[^/]+", "", url)
        raise AssertionError(f"no link with {fragment!r} in the mail to {address}")


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    """Start aiosmtpd on 127.0.0.1 (a free port) and point Django's mail settings at it."""
    handler = _Handler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), server_hostname="localhost"
    )
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=controller.hostname,
            EMAIL_PORT=controller.port,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
            EMAIL_TIMEOUT=10,
        ):
            yield SmtpServer(controller, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A fresh loopback SMTP server for one test; Django sends all mail to it."""
    with running_smtp_server() as server:
        yield server
