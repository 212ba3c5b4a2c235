"""Applications, registration and changes of partners and their people.

Each function does its writes and its audit events in one transaction, then sends its e-mail
after the commit (a failed send never leaves half-written rows; it is reported to the caller,
who can send again). Signals (:mod:`keiin.web.partners.signals`) are sent after the commit too.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify
from django.utils.translation import gettext as _

from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record
from keiin.web.partners import mail, signals
from keiin.web.partners.models import Application, ApplicationPerson, LoginAttempt, Partner
from keiin.web.partners.tokens import invitation_tokens, reset_tokens

log = logging.getLogger(__name__)

#: Fields an application states about the company (copied into the partner on approval).
COMPANY_FIELDS = (
    "name_ja",
    "name_en",
    "address",
    "representative_name",
    "representative_title",
    "contact_name",
    "contact_email",
    "contact_phone",
)
PARTNER_EDIT_FIELDS = (*COMPANY_FIELDS, "language", "login_slug")
PARTNER_ROLE_VALUES = (Role.PARTNER_USER.value, Role.SIGNATORY.value)

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


class PartnerServiceError(Exception):
    """A request the rules refuse; the message is for the operator or the applicant."""


@dataclass
class MailReport:
    """Which recipients a step could not e-mail (the rows are written regardless)."""

    failed: list[str] = field(default_factory=list)

    def send(self, name: str, to: str, context: Mapping[str, Any], language: str) -> bool:
        try:
            mail.send(name, to, context, language)
        except Exception:  # SMTP down, refused, timed out: report, do not undo the change
            log.exception("could not send %s mail to %s", name, to)
            self.failed.append(to)
            return False
        return True


# --------------------------------------------------------------------------- applications


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_reference() -> str:
    """A fresh application reference such as ``AP-7K3M9Q2X``."""
    while True:
        reference = f"AP-{_random(_REFERENCE_ALPHABET, 8)}"
        if not Application.objects.filter(reference=reference).exists():
            return reference


def submit_application(
    company: Mapping[str, Any],
    people: Sequence[Mapping[str, Any]],
    *,
    language: str,
    client_address: str | None,
) -> tuple[Application, MailReport]:
    """Store a validated application with its people (all or nothing) and acknowledge it.

    ``company`` has :data:`COMPANY_FIELDS`; each person ``name``, ``email``, ``role``.
    """
    if not people:
        raise PartnerServiceError(_("Name at least one user or signatory."))
    if client_address and settings.KEIIN_APPLICATIONS_PER_ADDRESS_HOUR > 0:
        since = timezone.now() - dt.timedelta(hours=1)
        recent = Application.objects.filter(
            submitted_from=client_address, submitted_at__gte=since
        ).count()
        if recent >= settings.KEIIN_APPLICATIONS_PER_ADDRESS_HOUR:
            raise PartnerServiceError(
                _("Too many applications from your network. Please try again later.")
            )
    now = timezone.now()
    with transaction.atomic():
        application = Application.objects.create(
            reference=new_reference(),
            submitted_from=client_address,
            submitted_at=now,
            language=language,
            terms_version=settings.KEIIN_TERMS_VERSION,
            terms_accepted_at=now,
            **{name: company.get(name, "") for name in COMPANY_FIELDS},
        )
        for position, person in enumerate(people):
            ApplicationPerson.objects.create(
                application=application,
                position=position,
                name=person["name"],
                email=User.objects.normalize_email(person["email"]),
                role=person["role"],
            )
        record(
            "partner.application.submitted",
            actor=f"applicant:{client_address or 'unknown'}",
            target=f"application:{application.reference}",
            data={
                "company": application.name_ja,
                "people": len(people),
                "terms_version": application.terms_version,
            },
        )
    report = MailReport()
    report.send(
        "application_received",
        application.contact_email,
        {"application": application, "people": list(application.people.all())},
        application.language,
    )
    return application, report


def _decide(application: Application, status: str, note: str, *, actor: str) -> None:
    if not application.is_open:
        raise PartnerServiceError(_("This application has already been decided."))
    application.status = status
    application.status_note = note
    application.decided_at = timezone.now()
    application.decided_by = actor
    application.save(update_fields=["status", "status_note", "decided_at", "decided_by"])


def reject_application(application: Application, reason: str, *, actor: str) -> MailReport:
    """Reject an open application with a reason, and tell the applicant."""
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        _decide(application, Application.Status.REJECTED, reason, actor=actor)
        record(
            "partner.application.rejected",
            actor=actor,
            target=f"application:{application.reference}",
            data={"reason": reason},
        )
    report = MailReport()
    report.send(
        "application_rejected",
        application.contact_email,
        {"application": application, "reason": reason},
        application.language,
    )
    return report


def request_documents(application: Application, message: str, *, actor: str) -> MailReport:
    """Ask the applicant for missing documents; the application stays open."""
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        if not application.is_open:
            raise PartnerServiceError(_("This application has already been decided."))
        application.status = Application.Status.DOCUMENTS_REQUESTED
        application.status_note = message
        application.save(update_fields=["status", "status_note"])
        record(
            "partner.application.documents_requested",
            actor=actor,
            target=f"application:{application.reference}",
            data={"message": message},
        )
    report = MailReport()
    report.send(
        "documents_requested",
        application.contact_email,
        {"application": application, "message": message},
        application.language,
    )
    return report


# --------------------------------------------------------------------------- registration


def _slug_base(name_en: str) -> str:
    return slugify(name_en)[:24].strip("-") or "partner"


def new_login_slug(name_en: str) -> str:
    """A fresh login URL name: the English name plus a random part (``acme-k7m2q9``)."""
    base = _slug_base(name_en)
    while True:
        slug = f"{base}-{_random(_SLUG_ALPHABET, 6)}"
        if not Partner.objects.filter(login_slug=slug).exists():
            return slug


def check_login_slug(slug: str, partner: Partner | None = None) -> str:
    """Validate an operator-chosen login URL name; returns it lower-cased."""
    slug = slug.strip().lower()
    if len(slug) < 4 or slugify(slug) != slug:
        raise PartnerServiceError(_("A login URL name has at least 4 letters, digits or hyphens."))
    taken = Partner.objects.filter(login_slug=slug)
    if partner is not None:
        taken = taken.exclude(pk=partner.pk)
    if taken.exists():
        raise PartnerServiceError(_("Another partner already uses this login URL name."))
    return slug


def new_login_id(partner: Partner) -> str:
    """The next free login ID of a partner's person: ``<english-name>-01``, ``-02`` …"""
    base = _slug_base(partner.name_en)[:20].strip("-") or "partner"
    number = User.objects.filter(partner=partner).count() + 1
    while User.objects.filter(login_id=f"{base}-{number:02d}").exists():
        number += 1
    return f"{base}-{number:02d}"


def _create_person(partner: Partner, name: str, email: str, role: str, *, actor: str) -> User:
    if role not in PARTNER_ROLE_VALUES:
        raise PartnerServiceError(_("A partner's person is a user or a signatory."))
    user = User.objects.create_user(
        new_login_id(partner),
        email,
        None,  # unusable password until the person sets one from the invitation
        display_name=name,
        role=role,
        partner=partner,
    )
    record(
        "partner.user.created",
        actor=actor,
        target=f"user:{user.login_id}",
        data={"partner": partner.pk, "role": role, "email": user.email, "name": name},
    )
    return user


def invitation_url(user: User, language: str) -> str:
    """The single-use link with which an invited person sets their first password."""
    return mail.absolute_url(
        "partners:invitation",
        language,
        slug=user.partner.login_slug,
        uidb64=urlsafe_base64_encode(str(user.pk).encode()),
        token=invitation_tokens.make_token(user),
    )


def login_url(partner: Partner, language: str) -> str:
    return mail.absolute_url("partners:login", language, slug=partner.login_slug)


def send_invitation(user: User, *, actor: str, report: MailReport | None = None) -> MailReport:
    """E-mail a person their login URL, login ID and a link to set their password."""
    report = report or MailReport()
    partner = user.partner
    language = partner.language
    sent = report.send(
        "invitation",
        user.email,
        {
            "user": user,
            "partner": partner,
            "company": partner.company_name(language),
            "login_url": login_url(partner, language),
            "set_password_url": invitation_url(user, language),
            "valid_days": max(1, settings.KEIIN_INVITATION_TTL // 86400),
        },
        language,
    )
    if sent:
        record("partner.user.invited", actor=actor, target=f"user:{user.login_id}")
    return report


@dataclass
class Approval:
    partner: Partner
    users: list[User]
    mail: MailReport


def approve_application(application: Application, *, actor: str, login_slug: str = "") -> Approval:
    """Register the partner and its people, then invite each person and tell the applicant."""
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        slug = check_login_slug(login_slug) if login_slug else new_login_slug(application.name_en)
        _decide(application, Application.Status.APPROVED, "", actor=actor)
        partner = Partner.objects.create(
            login_slug=slug,
            language=application.language,
            terms_version=application.terms_version,
            terms_accepted_at=application.terms_accepted_at,
            **{name: getattr(application, name) for name in COMPANY_FIELDS},
        )
        application.partner = partner
        application.save(update_fields=["partner"])
        users = []
        for person in application.people.all():
            user = _create_person(partner, person.name, person.email, person.role, actor=actor)
            person.user = user
            person.save(update_fields=["user"])
            users.append(user)
        record(
            "partner.application.approved",
            actor=actor,
            target=f"application:{application.reference}",
            data={"partner": partner.pk},
        )
        record(
            "partner.registered",
            actor=actor,
            target=f"partner:{partner.pk}",
            data={
                "name": partner.name_ja,
                "login_slug": partner.login_slug,
                "terms_version": partner.terms_version,
                "users": [u.login_id for u in users],
            },
        )
    report = MailReport()
    report.send(
        "application_approved",
        application.contact_email,
        {
            "application": application,
            "partner": partner,
            "users": users,
            "login_url": login_url(partner, partner.language),
        },
        partner.language,
    )
    for user in users:
        send_invitation(user, actor=actor, report=report)
    return Approval(partner, users, report)


# --------------------------------------------------------------------------- changes


def add_user(
    partner: Partner, name: str, email: str, role: str, *, actor: str
) -> tuple[User, MailReport]:
    """Register one more person for a partner (a new application form was received)."""
    with transaction.atomic():
        user = _create_person(partner, name, User.objects.normalize_email(email), role, actor=actor)
    return user, send_invitation(user, actor=actor)


def edit_partner(
    partner: Partner, changes: Mapping[str, Any], *, actor: str
) -> dict[str, list[Any]]:
    """Change a partner's registered details and return what changed (``{field: [old, new]}``).

    A new company name sends ``signatory_identity_changed`` for each active signatory: their
    certificates name the company."""
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        if "login_slug" in changes:
            changes = {**changes, "login_slug": check_login_slug(changes["login_slug"], partner)}
        diff = {}
        for name in PARTNER_EDIT_FIELDS:
            if name in changes and getattr(partner, name) != changes[name]:
                diff[name] = [getattr(partner, name), changes[name]]
                setattr(partner, name, changes[name])
        if not diff:
            return {}
        partner.save()
        record("partner.changed", actor=actor, target=f"partner:{partner.pk}", data=diff)
    renamed = {k: v for k, v in diff.items() if k in ("name_ja", "name_en")}
    if renamed:
        signatories = partner.people.filter(role=Role.SIGNATORY, is_active=True)
        for user in signatories:
            signals.signatory_identity_changed.send(
                sender=User, user=user, actor=actor, changes={"partner_name": renamed}
            )
    return diff


def edit_user(user: User, *, display_name: str, email: str, role: str, actor: str) -> MailReport:
    """Change a partner person's name, e-mail address or role (audited).

    For a signatory (before or after) a change of any of them sends
    ``signatory_identity_changed``: the certificate names the person and their address.
    """
    if role not in PARTNER_ROLE_VALUES:
        raise PartnerServiceError(_("A partner's person is a user or a signatory."))
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.partner_id is None:
            raise PartnerServiceError(_("This person does not belong to a partner."))
        if not user.is_active:
            raise PartnerServiceError(_("This person has been removed."))
        new = {
            "display_name": display_name,
            "email": User.objects.normalize_email(email),
            "role": role,
        }
        diff = {k: [getattr(user, k), v] for k, v in new.items() if getattr(user, k) != v}
        if not diff:
            return MailReport()
        was_signatory = user.role == Role.SIGNATORY
        for name, (_old, value) in diff.items():
            setattr(user, name, value)
        user.save(update_fields=list(diff))
        record("partner.user.changed", actor=actor, target=f"user:{user.login_id}", data=diff)
    if was_signatory or user.role == Role.SIGNATORY:
        signals.signatory_identity_changed.send(sender=User, user=user, actor=actor, changes=diff)
    report = MailReport()
    partner = user.partner
    report.send(
        "user_changed",
        user.email,
        {
            "user": user,
            "company": partner.company_name(partner.language),
            "changes": [
                (User._meta.get_field(name).verbose_name, _shown(name, old), _shown(name, value))
                for name, (old, value) in diff.items()
            ],
        },
        partner.language,
    )
    return report


def _shown(name: str, value: str) -> Any:
    """A user field's value as a person reads it (role labels are translated lazily)."""
    return Role(value).label if name == "role" and value in Role.values else value


def remove_user(user: User, reason: str, *, actor: str) -> MailReport:
    """A person left the partner: disable their login (the row and its history are kept),
    end pending logins, and send ``user_removed``."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.partner_id is None:
            raise PartnerServiceError(_("This person does not belong to a partner."))
        if not user.is_active:
            raise PartnerServiceError(_("This person has been removed."))
        user.is_active = False
        user.save(update_fields=["is_active"])
        LoginAttempt.objects.filter(user=user, closed_at__isnull=True).update(
            closed_at=timezone.now(), outcome=LoginAttempt.Outcome.CANCELLED
        )
        record(
            "partner.user.removed",
            actor=actor,
            target=f"user:{user.login_id}",
            data={"partner": user.partner_id, "role": user.role, "reason": reason},
        )
    signals.user_removed.send(sender=User, user=user, actor=actor, reason=reason)
    report = MailReport()
    partner = user.partner
    report.send(
        "user_removed",
        user.email,
        {"user": user, "company": partner.company_name(partner.language)},
        partner.language,
    )
    return report


def set_partner_status(partner: Partner, status: str, reason: str, *, actor: str) -> MailReport:
    """Restrict, refuse or reactivate a partner with a recorded reason, and notify it.

    Restricted and refused partners' people cannot log in; nothing is deleted.
    """
    if status not in Partner.Status.values:
        raise PartnerServiceError(_("Unknown status."))
    if status != Partner.Status.ACTIVE and not reason.strip():
        raise PartnerServiceError(_("Give the reason."))
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        old = partner.status
        if old == status:
            raise PartnerServiceError(_("The partner already has this status."))
        partner.status = status
        partner.status_reason = reason
        partner.status_changed_at = timezone.now()
        partner.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
        if status != Partner.Status.ACTIVE:
            LoginAttempt.objects.filter(partner=partner, closed_at__isnull=True).update(
                closed_at=timezone.now(), outcome=LoginAttempt.Outcome.CANCELLED
            )
        record(
            "partner.status_changed",
            actor=actor,
            target=f"partner:{partner.pk}",
            data={"old": old, "new": status, "reason": reason},
        )
    signals.partner_status_changed.send(
        sender=Partner, partner=partner, actor=actor, old=old, new=status, reason=reason
    )
    report = MailReport()
    report.send(
        f"partner_{status}",
        partner.contact_email,
        {"partner": partner, "company": partner.company_name(partner.language), "reason": reason},
        partner.language,
    )
    return report


# --------------------------------------------------------------------------- password reset


def password_reset_url(user: User, language: str) -> str:
    return mail.absolute_url(
        "partners:password-reset-confirm",
        language,
        slug=user.partner.login_slug,
        uidb64=urlsafe_base64_encode(str(user.pk).encode()),
        token=reset_tokens.make_token(user),
    )


def request_password_reset(
    partner: Partner, email: str, *, language: str, client_address: str | None
) -> None:
    """E-mail a reset link to the partner's active people with this address, if any.

    The caller answers the same whatever happens (no enumeration). At most
    ``KEIIN_LOGIN_ACCOUNT_FAILURES`` requests per address pass before the lockout's backoff.
    """
    from keiin.web.partners import throttle

    key = throttle.account_key(f"{partner.pk}:{email}")
    if throttle.is_locked(throttle.RESET_ACCOUNT, key) or not partner.can_log_in:
        return
    throttle.record_failure(throttle.RESET_ACCOUNT, key)
    users = User.objects.filter(
        partner=partner, email__iexact=email.strip(), is_active=True
    ).select_related("partner")
    report = MailReport()
    for user in users:
        record(
            "partner.password.reset_requested",
            actor=f"address:{client_address or 'unknown'}",
            target=f"user:{user.login_id}",
        )
        report.send(
            "password_reset",
            user.email,
            {
                "user": user,
                "company": partner.company_name(language),
                "reset_url": password_reset_url(user, language),
                "valid_minutes": max(1, settings.PASSWORD_RESET_TIMEOUT // 60),
            },
            language,
        )
