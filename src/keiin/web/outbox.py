"""The local mail outbox page (``/outbox/``): the demo's mail, readable in the browser.

``keiin demo`` sends mail to files in ``HOME/outbox`` (Django's file backend) instead of an
SMTP server, so that a newcomer can follow invitation links and read one-time passwords
without a mail server. This page lists those messages, newest first. It exists only when
``KEIIN_MAIL=outbox``; anyone who can reach the server can read it, which is why the demo
listens on 127.0.0.1 and why production never uses the outbox.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

#: Django's file backend writes each message followed by a line of 79 dashes.
_SEPARATOR = b"\n" + b"-" * 79 + b"\n"
MAX_MESSAGES = 200


@dataclass(frozen=True)
class OutboxMessage:
    """One message as the page shows it."""

    to: str
    subject: str
    date: str
    body: str


def _parse(raw: bytes) -> OutboxMessage | None:
    raw = raw.strip()
    if not raw:
        return None
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    return OutboxMessage(
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        date=str(message.get("Date", "")),
        body=body,
    )


def read_outbox(folder: Path, limit: int = MAX_MESSAGES) -> list[OutboxMessage]:
    """The newest ``limit`` messages in ``folder`` (unreadable ones skipped)."""
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    found: list[OutboxMessage] = []
    for path in files:
        try:
            chunks = path.read_bytes().split(_SEPARATOR)
        except OSError:
            continue
        for chunk in reversed(chunks):
            try:
                parsed = _parse(chunk)
            except (ValueError, LookupError):
                continue
            if parsed is not None:
                found.append(parsed)
            if len(found) >= limit:
                return found
    return found


@never_cache
def outbox(request: HttpRequest) -> HttpResponse:
    """The page (only routed when the outbox backend is in use)."""
    messages = read_outbox(Path(settings.EMAIL_FILE_PATH))
    return render(request, "outbox/outbox.html", {"messages": messages})


def outbox_enabled() -> bool:
    """True when mail goes to the local outbox (``KEIIN_MAIL=outbox``)."""
    return settings.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend"
