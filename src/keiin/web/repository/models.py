"""Notices published in the public repository (Japanese first, English optional)."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notice(models.Model):
    """A public announcement: CA key changes, maintenance, policy revisions, incidents.

    The Japanese text is required; the English text is optional and falls back to Japanese.
    A notice is shown once ``is_published`` is set and ``published_at`` has passed, so an
    operator can prepare one in advance.

    Service notices (terms clauses 6 and 17; :mod:`keiin.web.service`) also have a ``kind``
    and the period they announce: maintenance from ``effective_from`` until
    ``effective_until``, a suspension of the service (open-ended without an end), or the end
    of the service at ``effective_from``. They are shown on the partner login pages while
    they are current and e-mailed to the partners' people.
    """

    class Kind(models.TextChoices):
        GENERAL = "general", _("General")
        MAINTENANCE = "maintenance", _("Maintenance")
        SUSPENSION = "suspension", _("Suspension of the service")
        END_OF_SERVICE = "end_of_service", _("End of the service")

    #: Kinds the terms (clause 17) require to be announced this long in advance.
    ADVANCE_NOTICE = dt.timedelta(days=90)
    ADVANCE_NOTICE_KINDS = (Kind.SUSPENSION, Kind.END_OF_SERVICE)

    title_ja = models.CharField(_("title (Japanese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    body_ja = models.TextField(_("body (Japanese)"))
    body_en = models.TextField(_("body (English)"), blank=True)
    published_at = models.DateTimeField(_("published at"), default=timezone.now, db_index=True)
    is_published = models.BooleanField(_("published"), default=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.GENERAL)
    effective_from = models.DateTimeField(_("effective from"), null=True, blank=True)
    effective_until = models.DateTimeField(_("effective until"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self) -> str:
        return self.title_ja

    def title(self, language: str) -> str:
        """The title in ``language`` (``en`` falls back to Japanese when not translated)."""
        if language.startswith("en") and self.title_en.strip():
            return self.title_en
        return self.title_ja

    def body(self, language: str) -> str:
        """The body in ``language`` (``en`` falls back to Japanese when not translated)."""
        if language.startswith("en") and self.body_en.strip():
            return self.body_en
        return self.body_ja

    def is_translated(self, language: str) -> bool:
        """Whether both title and body exist in ``language``."""
        if language.startswith("en"):
            return bool(self.title_en.strip() and self.body_en.strip())
        return True

    @property
    def is_service_notice(self) -> bool:
        """Maintenance, suspension or end of service (not a general announcement)."""
        return self.kind != self.Kind.GENERAL
