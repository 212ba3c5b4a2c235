"""The user model: one table for operator staff and partner users."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a person may do. Operator roles first, then partner roles."""

    OPERATOR_ADMIN = "operator_admin", _("Operator administrator")
    CONTRACT_MANAGER = "contract_manager", _("Contract manager")
    PARTNER_USER = "partner_user", _("Partner user")
    SIGNATORY = "signatory", _("Signatory")


class UserManager(BaseUserManager["User"]):
    """Creates users with Argon2-hashed passwords."""

    def create_user(
        self, login_id: str, email: str, password: str | None = None, **extra: object
    ) -> User:
        if not login_id:
            raise ValueError("a login ID is required")
        user = self.model(login_id=login_id, email=self.normalize_email(email), **extra)
        user.set_password(password)  # None makes an unusable password
        user.save(using=self._db)
        return user

    def create_superuser(
        self, login_id: str, email: str, password: str | None = None, **extra: object
    ) -> User:
        extra.setdefault("role", Role.OPERATOR_ADMIN)
        extra.setdefault("is_superuser", True)
        return self.create_user(login_id, email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in to Keiin."""

    login_id = models.CharField(_("login ID"), max_length=150, unique=True)
    email = models.EmailField(_("e-mail address"))
    display_name = models.CharField(_("name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    must_change_password = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    #: The partner company a partner user or signatory belongs to (one only); operator staff
    #: have none. See keiin.web.partners.
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="people",
    )

    objects = UserManager()

    USERNAME_FIELD = "login_id"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    @property
    def is_staff(self) -> bool:
        """Operator staff (administrators and contract managers)."""
        return self.role in (Role.OPERATOR_ADMIN, Role.CONTRACT_MANAGER)

    def __str__(self) -> str:
        return self.display_name or self.login_id
