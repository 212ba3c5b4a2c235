"""Partners, their applications, login attempts (e-mailed one-time passwords) and lockouts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from keiin.web.accounts.models import Role

#: The roles a partner's people can have (operator roles never belong to a partner).
PARTNER_ROLES = [
    (Role.PARTNER_USER.value, Role.PARTNER_USER.label),
    (Role.SIGNATORY.value, Role.SIGNATORY.label),
]


class CompanyDetails(models.Model):
    """What an application states about the company; copied into the partner on approval."""

    name_ja = models.CharField(_("company name (Japanese)"), max_length=200)
    name_en = models.CharField(_("company name (English)"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300)
    representative_name = models.CharField(_("representative"), max_length=150)
    representative_title = models.CharField(_("representative's title"), max_length=100)
    contact_name = models.CharField(_("contact person"), max_length=150)
    contact_email = models.EmailField(_("contact e-mail address"))
    contact_phone = models.CharField(_("contact telephone"), max_length=40, blank=True)
    language = models.CharField(
        _("language for e-mail"), max_length=8, choices=settings.LANGUAGES, default="ja"
    )
    terms_version = models.CharField(_("accepted terms version"), max_length=40)
    terms_accepted_at = models.DateTimeField(_("terms accepted at"))

    class Meta:
        abstract = True

    def company_name(self, language: str | None = None) -> str:
        """The name in ``language`` (default: the active one), Japanese as fallback."""
        if (language or get_language() or "ja").startswith("en") and self.name_en:
            return self.name_en
        return self.name_ja


class Partner(CompanyDetails):
    """A registered partner company (お取引先様) with its own login URL."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RESTRICTED = "restricted", _("Restricted")
        REFUSED = "refused", _("Refused")

    login_slug = models.SlugField(_("login URL name"), max_length=50, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    status_reason = models.TextField(_("reason"), blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name_ja", "id"]

    def __str__(self) -> str:
        return self.name_ja

    @property
    def can_log_in(self) -> bool:
        """Only active partners' people may log in (restricted/refused: data kept, no access)."""
        return self.status == self.Status.ACTIVE


class Application(CompanyDetails):
    """An application to use the service (利用申込), reviewed in the operator console."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        DOCUMENTS_REQUESTED = "documents_requested", _("Documents requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    #: Statuses the operator can still decide on.
    OPEN = (Status.SUBMITTED, Status.DOCUMENTS_REQUESTED)

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    submitted_from = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.SUBMITTED
    )
    status_note = models.TextField(_("reason or request"), blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=200, blank=True)
    partner = models.OneToOneField(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="application"
    )

    class Meta:
        ordering = ["-submitted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.reference} {self.name_ja}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class ApplicationPerson(models.Model):
    """A user or signatory named in an application."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="people")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=32, choices=PARTNER_ROLES)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class LoginAttempt(models.Model):
    """One login after a correct password: waits for the e-mailed one-time password.

    Only an HMAC of (attempt id, code) is stored, never the code. ``closed_at`` is set when the
    attempt is used, superseded by a newer one, or ended by a lockout: it then accepts nothing.
    """

    class Outcome(models.TextChoices):
        OPEN = "", _("Waiting for the code")
        USED = "used", _("Logged in")
        SUPERSEDED = "superseded", _("Superseded by a newer attempt")
        LOCKED = "locked", _("Ended by a lockout")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.CharField(primary_key=True, max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_attempts"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="login_attempts")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default="")
    client_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "closed_at"])]

    def __str__(self) -> str:
        return f"login attempt {self.id[:8]}… for {self.user_id}"


class LoginLock(models.Model):
    """Consecutive failures for one (scope, key), with a backoff level for repeated locks.

    Scopes: ``password-account``, ``password-address``, ``otp-account``, ``otp-address``,
    ``reset-account`` (see :mod:`keiin.web.partners.throttle`).
    """

    scope = models.CharField(max_length=24)
    key = models.CharField(max_length=200)
    failures = models.PositiveIntegerField(default=0)
    level = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="partners_loginlock_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}: {self.failures} failures, level {self.level}"
