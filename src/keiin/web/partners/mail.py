"""E-mail to partners and their people, always through ``django.core.mail``.

Each message is one template ``partners/mail/<name>.txt`` rendered in the recipient's language:
its first line is the subject, the rest the body. Links are built from ``KEIIN_BASE_URL``
(never from the request's Host header).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation


def absolute_url(viewname: str, language: str, **kwargs: Any) -> str:
    """The public URL of a named page in ``language`` (Japanese unprefixed, ``/en/…``)."""
    with translation.override(language):
        return settings.KEIIN_BASE_URL + reverse(viewname, kwargs=kwargs)


def render(name: str, context: Mapping[str, Any], language: str) -> tuple[str, str]:
    """(subject, body) of mail template ``name`` in ``language`` (``partners/mail/<name>.txt``,
    or ``<name>.txt`` when ``name`` has a folder, e.g. ``contracts/mail/signed``)."""
    with translation.override(language):
        text = render_to_string(
            f"{name}.txt" if "/" in name else f"partners/mail/{name}.txt",
            {"operator": settings.KEIIN_ORGANIZATION, **context},
        )
    subject, _sep, body = text.lstrip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def send(name: str, to: str, context: Mapping[str, Any], language: str) -> None:
    """Render and send one message; SMTP errors propagate to the caller."""
    subject, body = render(name, context, language)
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to]).send(fail_silently=False)
