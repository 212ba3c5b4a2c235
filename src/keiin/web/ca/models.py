"""CA hierarchy, every certificate it issued, and every CRL it published."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from keiin.pki.profiles import Profile
from keiin.pki.revocation import RevocationReason


class CertificateAuthority(models.Model):
    """A CA whose key Keiin holds: the root or an issuing CA."""

    class Kind(models.TextChoices):
        ROOT = "root", _("Root CA")
        ISSUING = "issuing", _("Issuing CA")

    slug = models.SlugField(unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT)
    name = models.CharField(max_length=200)
    certificate_der = models.BinaryField()
    key_ref = models.CharField(max_length=64)
    key_algorithm = models.CharField(max_length=16)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    #: The last CRL number used; incremented under a row lock.
    crl_number = models.BigIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class IssuedCertificate(models.Model):
    """Every certificate a CA signed (except the root's self-signed one)."""

    class Status(models.TextChoices):
        VALID = "valid", _("Valid")
        REVOKED = "revoked", _("Revoked")

    issuer = models.ForeignKey(
        CertificateAuthority, on_delete=models.PROTECT, related_name="issued"
    )
    serial_hex = models.CharField(max_length=40)
    profile = models.CharField(max_length=16, choices=[(p.value, p.value) for p in Profile])
    subject = models.CharField(max_length=500)
    common_name = models.CharField(max_length=64)
    organization = models.CharField(max_length=64, blank=True)
    email = models.EmailField(blank=True)
    certificate_der = models.BinaryField()
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    #: For service certificates (OCSP, TSA) whose key Keiin keeps; empty otherwise.
    key_ref = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VALID)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(
        max_length=32, blank=True, choices=[(r.value, r.value) for r in RevocationReason]
    )
    invalidity_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "serial_hex"], name="unique_serial_per_ca")
        ]
        indexes = [models.Index(fields=["issuer", "profile", "status"])]

    def __str__(self) -> str:
        return f"{self.common_name} ({self.serial_hex})"


class Crl(models.Model):
    """A published full CRL. The newest by number is the current one."""

    ca = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="crls")
    number = models.BigIntegerField()
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    der = models.BinaryField()
    entries = models.IntegerField()

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["ca", "number"], name="unique_crl_number")]

    def __str__(self) -> str:
        return f"CRL {self.number} of {self.ca.slug}"
