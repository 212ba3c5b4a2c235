"""A signatory's credential: the certificate and the key wrapped under their PIN."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def _new_credential_id() -> str:
    return uuid.uuid4().hex


class SignerCredential(models.Model):
    """One signing credential of one person (keiin.custody's record, plus its lifecycle).

    ``record`` is :meth:`keiin.custody.CredentialRecord.to_dict` — ciphertext, salt, KDF
    parameters; never a usable key. ``pin_failures`` is counted *before* each decryption in
    the same transaction that locks the row (see :mod:`keiin.custody`).
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        LOCKED = "locked", _("Locked (too many wrong PINs)")
        REVOKED = "revoked", _("Revoked")

    credential_id = models.CharField(max_length=64, unique=True, default=_new_credential_id)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credentials"
    )
    tenant = models.CharField(max_length=64)
    purpose = models.CharField(max_length=16, default="signer")  # "signer" or "seal"
    certificate = models.OneToOneField(
        "ca.IssuedCertificate", on_delete=models.PROTECT, related_name="credential"
    )
    record = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    pin_failures = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Receipt acknowledgement (seed 2-⑨): setting the PIN is taking delivery of the key.
    receipt_at = models.DateTimeField()
    receipt_ip = models.GenericIPAddressField(null=True, blank=True)
    receipt_user_agent = models.CharField(max_length=400, blank=True)
    terms_version = models.CharField(max_length=32)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=32, blank=True)
    revocation_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "purpose"],
                condition=~models.Q(status="revoked"),
                name="one_live_credential_per_user_and_purpose",
            )
        ]

    def __str__(self) -> str:
        return f"credential {self.credential_id} of {self.user} ({self.status})"

    @property
    def usable(self) -> bool:
        """Active: may be unlocked with the PIN."""
        return self.status == self.Status.ACTIVE
