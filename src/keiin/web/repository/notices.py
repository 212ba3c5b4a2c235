"""Notices in the reader's language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from keiin.web.repository.models import Notice


@dataclass(frozen=True)
class LocalizedNotice:
    """A notice as one language's page shows it."""

    pk: int
    title: str
    body: str
    published_at: dt.datetime
    #: False when an English page shows the Japanese text because no translation exists.
    translated: bool


def published_notices(
    language: str, *, limit: int | None = None, now: dt.datetime | None = None
) -> list[LocalizedNotice]:
    """Published notices whose time has come, newest first, in ``language``."""
    rows = Notice.objects.filter(
        is_published=True, published_at__lte=now or timezone.now()
    ).order_by("-published_at", "-id")
    if limit is not None:
        rows = rows[:limit]
    return [
        LocalizedNotice(
            pk=n.pk,
            title=n.title(language),
            body=n.body(language),
            published_at=n.published_at,
            translated=n.is_translated(language),
        )
        for n in rows
    ]
