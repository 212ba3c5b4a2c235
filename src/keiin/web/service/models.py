"""Service hours, maintenance windows, who received which service notice, rate counters.

The notices themselves are :class:`keiin.web.repository.models.Notice` rows (with a
``kind``); this app adds the e-mail delivery record the terms (clause 17) rely on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ServiceSchedule(models.Model):
    """The weekly schedule: one row (``id`` 1). No row, or ``weekly`` null: always open.

    ``weekly`` is :meth:`keiin.service_hours.WeeklySchedule.to_json`: 7 entries, Monday first,
    each ``["HH:MM", "HH:MM"]`` (Asia/Tokyo) or null for a closed day.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    weekly = models.JSONField(_("weekly schedule"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return "service schedule"


class MaintenanceWindow(models.Model):
    """Partner pages are closed from ``start`` until ``end`` whatever the weekly schedule."""

    start = models.DateTimeField(_("start"), db_index=True)
    end = models.DateTimeField(_("end"), db_index=True)
    reason_ja = models.CharField(_("reason (Japanese)"), max_length=300)
    reason_en = models.CharField(_("reason (English)"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start", "end", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="service_window_ends_after"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} {self.reason_ja}"

    def reason(self, language: str) -> str:
        """The reason in ``language`` (Japanese when no English text is given)."""
        if language.startswith("en") and self.reason_en.strip():
            return self.reason_en
        return self.reason_ja


class NoticeDelivery(models.Model):
    """One service notice e-mailed to one person: when, and to which address."""

    notice = models.ForeignKey(
        "repository.Notice", on_delete=models.PROTECT, related_name="deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notice", "user"], name="service_delivery_once")
        ]

    def __str__(self) -> str:
        return f"notice {self.notice_id} → {self.email}"


class RateCounter(models.Model):
    """Requests counted for one key in one fixed window (see :mod:`.ratelimit`)."""

    key = models.CharField(max_length=200)
    #: Start of the fixed window, in seconds since the epoch.
    slot = models.BigIntegerField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "slot"], name="service_ratecounter_key")
        ]
        indexes = [models.Index(fields=["slot"], name="service_ratecounter_slot")]

    def __str__(self) -> str:
        return f"{self.key}@{self.slot}: {self.hits}"
