"""Notices in the reader's language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone, translation

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
    #: ``Notice.Kind`` value and its label in the page's language.
    kind: str = Notice.Kind.GENERAL
    kind_label: str = ""
    #: The period a service notice announces (maintenance, suspension, end of service).
    effective_from: dt.datetime | None = None
    effective_until: dt.datetime | None = None

    @property
    def is_service_notice(self) -> bool:
        """Maintenance, suspension or end of service."""
        return self.kind != Notice.Kind.GENERAL


def _kind_label(notice: Notice, language: str) -> str:
    with translation.override(language):
        return str(notice.get_kind_display())


def localize(notice: Notice, language: str) -> LocalizedNotice:
    """One notice in ``language`` (Japanese when not translated)."""
    return LocalizedNotice(
        pk=notice.pk,
        title=notice.title(language),
        body=notice.body(language),
        published_at=notice.published_at,
        translated=notice.is_translated(language),
        kind=notice.kind,
        kind_label=_kind_label(notice, language),
        effective_from=notice.effective_from,
        effective_until=notice.effective_until,
    )


def published_notices(
    language: str, *, limit: int | None = None, now: dt.datetime | None = None
) -> list[LocalizedNotice]:
    """Published notices whose time has come, newest first, in ``language``."""
    rows = Notice.objects.filter(
        is_published=True, published_at__lte=now or timezone.now()
    ).order_by("-published_at", "-id")
    if limit is not None:
        rows = rows[:limit]
    return [localize(n, language) for n in rows]
