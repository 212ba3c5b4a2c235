"""API keys, webhooks and webhook deliveries of the operator's REST API (``/api/v1/``).

An :class:`ApiKey` acts as its owner (an operator staff member) and may be limited to some
partners; only the SHA-256 of its 256-bit random secret is stored. A :class:`Webhook`'s signing
secret must be usable to sign each delivery, so it is kept encrypted
(:mod:`keiin.web.api.secretbox`), never in clear. Deliveries name the contract by its public ID,
not by a foreign key: they are a log of what was sent, kept apart from the contract tables.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _new_uid() -> str:
    return uuid.uuid4().hex


class ApiKey(models.Model):
    """A key for one of the operator's systems (``Bearer keiin_<prefix>_<secret>``)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    #: The public part of the key (12 hex digits), used to find the row; not a secret.
    prefix = models.CharField(max_length=16, unique=True)
    #: SHA-256 (hex) of the whole key text.
    secret_sha256 = models.CharField(max_length=64)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acts as"),
        on_delete=models.PROTECT,
        related_name="api_keys",
    )
    #: Partners this key is limited to; none = every partner.
    partners = models.ManyToManyField(
        "partners.Partner", verbose_name=_("partners"), blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} (keiin_{self.prefix}_…)"

    @property
    def is_revoked(self) -> bool:
        """Revoked keys are refused (401) and never come back."""
        return self.revoked_at is not None

    @property
    def actor(self) -> str:
        """How this key appears in the audit log."""
        return f"api:{self.name}"


class Webhook(models.Model):
    """An HTTP(S) endpoint told about contract changes, each delivery signed with its secret."""

    uid = models.CharField(max_length=32, unique=True, default=_new_uid)
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    #: The signing secret, AES-256-GCM encrypted (keiin.web.api.secretbox).
    secret_sealed = models.TextField()
    #: Event names to deliver; empty = every event.
    events = models.JSONField(default=list, blank=True)
    #: Partners whose contracts are reported; none = every partner.
    partners = models.ManyToManyField(
        "partners.Partner", verbose_name=_("partners"), blank=True, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="webhooks",
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"

    def wants(self, event: str) -> bool:
        """Whether ``event`` passes this webhook's event filter."""
        return not self.events or event in self.events


class WebhookDelivery(models.Model):
    """One event for one webhook: its payload, and how sending it went so far."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    uid = models.CharField(max_length=32, unique=True, default=_new_uid)
    webhook = models.ForeignKey(Webhook, on_delete=models.PROTECT, related_name="deliveries")
    event = models.CharField(max_length=64)
    contract_public_id = models.CharField(max_length=32, db_index=True)
    #: The body sent (as a JSON object; serialised the same way on every attempt).
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    #: When the next attempt is due (while pending); also the lease of an attempt under way.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="api_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook.name} ({self.status})"
