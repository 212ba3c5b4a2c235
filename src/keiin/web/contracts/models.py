"""Contracts, their signatories in order, and every version of the file (seed clauses 11-13).

A contract's PDF never lives in the database: each version is a blob in the content-addressed
store (:mod:`keiin.blobs`), and :class:`ContractVersion` records its SHA-256 and size. Versions
only ever grow: upload (0) → operator's certification (1) → one per signatory → archive
renewals. The newest version of a completed contract is its *original* (seed 13(2)).

Nothing here can be deleted before the retention period ends: the model and queryset
``delete`` refuse, and :func:`keiin.web.contracts.retention.purge` is the only way out.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RetentionError(Exception):
    """Something tried to delete a contract (or a version) inside its retention period."""


def _new_public_id() -> str:
    return uuid.uuid4().hex


class _GuardedQuerySet(models.QuerySet):
    """Bulk deletes are refused: rows go only through the retention-checked purge."""

    def delete(self):  # type: ignore[no-untyped-def]
        raise RetentionError("contracts and their versions are deleted only by retention purge")


class Contract(models.Model):
    """One contract between the operator and one partner."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft (waiting for the operator's seal)")
        SIGNING = "signing", _("Waiting for signatures")
        COMPLETED = "completed", _("Completed")
        DECLINED = "declined", _("Declined")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")
        INVALID = "invalid", _("Signature did not validate")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Uploaded PDF")
        TEMPLATE = "template", _("Generated from the template")

    #: States in which nothing more will happen to the contract.
    CLOSED = (Status.COMPLETED, Status.DECLINED, Status.CANCELLED, Status.EXPIRED)

    public_id = models.CharField(max_length=32, unique=True, default=_new_public_id)
    reference = models.CharField(_("reference"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("counterparty"),
        on_delete=models.PROTECT,
        related_name="contracts",
    )
    # The search keys of the Electronic Books Preservation Act: date, amount, counterparty.
    contract_date = models.DateField(_("contract date"), db_index=True)
    amount = models.DecimalField(
        _("amount (yen)"), max_digits=15, decimal_places=0, null=True, blank=True, db_index=True
    )
    starts_on = models.DateField(_("start date"), null=True, blank=True)
    ends_on = models.DateField(_("end date"), null=True, blank=True)
    sign_by = models.DateTimeField(_("sign by"))
    retention_until = models.DateField(_("keep until"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UPLOAD)
    note = models.TextField(_("internal note"), blank=True)
    #: Where the seal and each signatory's visible signature go (keiin.web.contracts.layout).
    layout = models.JSONField(default=list)
    #: The uploaded PDF already carried signatures (checked intact at upload).
    allow_signed = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contracts_created"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.TextField(blank=True)
    #: SHA-256 of the original (the completed file); empty until completion.
    original_sha256 = models.CharField(max_length=64, blank=True)
    #: The operator's signing in progress (a claim; a crash leaves a stale one that expires).
    sealing_since = models.DateTimeField(null=True, blank=True)

    objects = _GuardedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_closed(self) -> bool:
        """Completed, declined, cancelled or expired: nothing more will happen."""
        return self.status in self.CLOSED

    def latest_version(self) -> ContractVersion | None:
        """The newest file (the original once completed)."""
        return self.versions.order_by("-number").first()

    def current_signer(self) -> ContractSigner | None:
        """The signatory whose turn it is, while the contract is being signed."""
        if self.status != self.Status.SIGNING:
            return None
        return (
            self.signers.filter(status=ContractSigner.Status.WAITING).order_by("position").first()
        )

    def retention_over(self, today: dt.date | None = None) -> bool:
        """Whether the retention period has ended (deletion is allowed after it)."""
        return (today or timezone.localdate()) > self.retention_until

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RetentionError("contracts are deleted only by retention purge")


class ContractSigner(models.Model):
    """One signatory of a contract, in signing order (seed 11(2)-(3))."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not yet their turn")
        WAITING = "waiting", _("Waiting for their signature")
        SIGNED = "signed", _("Signed")
        DECLINED = "declined", _("Declined")
        SKIPPED = "skipped", _("Not needed (contract closed)")

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="signers")
    position = models.PositiveSmallIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contract_signatures"
    )
    field_name = models.CharField(max_length=40)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    notified_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    #: When this person last opened the whole document (required before signing).
    viewed_at = models.DateTimeField(null=True, blank=True)
    viewed_version = models.PositiveIntegerField(null=True, blank=True)
    signing_since = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)

    objects = _GuardedQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "position"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "position"], name="signer_position"),
            models.UniqueConstraint(fields=["contract", "user"], name="signer_once"),
        ]

    def __str__(self) -> str:
        return f"{self.contract.reference} #{self.position} {self.user}"

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RetentionError("contract signatories are deleted only by retention purge")


class ContractVersion(models.Model):
    """One file of a contract: a blob, by SHA-256, and what made it."""

    class Kind(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        GENERATED = "generated", _("Generated")
        CERTIFIED = "certified", _("Sealed by the operator")
        SIGNED = "signed", _("Signed by a signatory")
        ARCHIVED = "archived", _("Archive time-stamp renewed")

    class Validation(models.TextChoices):
        NONE = "", _("Not validated")
        PASSED = "passed", _("All signatures valid")
        FAILED = "failed", _("A signature is not valid")
        INDETERMINATE = "indeterminate", _("Could not be decided")

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=200)
    signer = models.ForeignKey(
        ContractSigner, null=True, blank=True, on_delete=models.PROTECT, related_name="versions"
    )
    validation = models.CharField(
        max_length=16, choices=Validation.choices, blank=True, default=Validation.NONE
    )
    validated_at = models.DateTimeField(null=True, blank=True)
    #: keiin.pdf.validation's report (per signature: level, indication, reason).
    validation_report = models.JSONField(default=dict, blank=True)

    objects = _GuardedQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.contract.reference} v{self.number} ({self.kind})"

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RetentionError("contract versions are deleted only by retention purge")
