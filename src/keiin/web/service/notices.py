"""Service notices: which are current, and e-mailing them to the partners' people.

A service notice is a :class:`~keiin.web.repository.models.Notice` of kind maintenance,
suspension or end of service. It is *current* — shown on the partner login pages, on the
service-unavailable page and at the top of the repository — from its publication until the
period it announces is over (for the end of the service: from then on).

E-mail goes to every active person of every partner that is not refused, each in the
partner's language, over Django's mail backend (SMTP in production). Each successful delivery
is recorded in :class:`~keiin.web.service.models.NoticeDelivery` — clause 17 of the terms
deems a notice received when it is sent to the registered address — and sending again only
reaches people without such a record (after a mail failure, or people added since).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record
from keiin.web.repository.models import Notice
from keiin.web.repository.notices import LocalizedNotice, localize
from keiin.web.service.models import NoticeDelivery

logger = logging.getLogger(__name__)

#: Partner statuses whose people receive service notices (refused partners are gone).
RECIPIENT_PARTNER_STATUSES = ("active", "restricted")


def current_notice_rows(now: dt.datetime | None = None) -> QuerySet[Notice]:
    """Published service notices whose announced period is not over, soonest first."""
    now = now or timezone.now()
    return (
        Notice.objects.filter(is_published=True, published_at__lte=now)
        .exclude(kind=Notice.Kind.GENERAL)
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gt=now))
        .order_by("effective_from", "published_at", "id")
    )


def current_notices(language: str, *, now: dt.datetime | None = None) -> list[LocalizedNotice]:
    """:func:`current_notice_rows` in ``language``."""
    return [localize(notice, language) for notice in current_notice_rows(now)]


def recipients() -> QuerySet[User]:
    """Every active partner user and signatory of a partner that is not refused."""
    return (
        User.objects.filter(
            is_active=True,
            role__in=(Role.PARTNER_USER, Role.SIGNATORY),
            partner__status__in=RECIPIENT_PARTNER_STATUSES,
        )
        .exclude(email="")
        .select_related("partner")
        .order_by("id")
    )


@dataclass
class MailReport:
    """What one sending did: people reached, addresses that failed, people already reached."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    already: int = 0


def render_mail(notice: Notice, language: str) -> tuple[str, str]:
    """(subject, body) of the notice e-mail in ``language``."""
    with translation.override(language):
        text = render_to_string(
            "service/mail/notice.txt",
            {
                "notice": localize(notice, language),
                "operator": settings.KEIIN_ORGANIZATION,
                "url": settings.KEIIN_BASE_URL
                + reverse("repository:notices")
                + f"#notice-{notice.pk}",
            },
        )
    subject, _sep, body = text.lstrip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def _language(user: User) -> str:
    language = getattr(user.partner, "language", "") or "ja"
    return "en" if language.startswith("en") else "ja"


def send_notice(notice: Notice, *, actor: str) -> MailReport:
    """E-mail ``notice`` to every recipient who has not received it yet; audited.

    SMTP errors for one address are reported and do not stop the others; a server that
    cannot be reached fails every address. Nothing is recorded for a failed address, so
    sending again retries exactly those.
    """
    report = MailReport()
    done = set(NoticeDelivery.objects.filter(notice=notice).values_list("user_id", flat=True))
    people = [user for user in recipients() if user.pk not in done]
    report.already = len(done)
    rendered: dict[str, tuple[str, str]] = {}
    if people:
        try:
            connection = get_connection(fail_silently=False)
            connection.open()
        except (OSError, smtplib.SMTPException):
            logger.exception("cannot open the mail connection for notice %s", notice.pk)
            report.failed = [user.email for user in people]
            connection = None
        if connection is not None:
            try:
                for user in people:
                    language = _language(user)
                    if language not in rendered:
                        rendered[language] = render_mail(notice, language)
                    subject, body = rendered[language]
                    message = EmailMessage(
                        subject,
                        body,
                        settings.DEFAULT_FROM_EMAIL,
                        [user.email],
                        connection=connection,
                    )
                    try:
                        message.send(fail_silently=False)
                    except (OSError, smtplib.SMTPException):
                        logger.exception("notice %s not sent to user %s", notice.pk, user.pk)
                        report.failed.append(user.email)
                    else:
                        NoticeDelivery.objects.create(notice=notice, user=user, email=user.email)
                        report.sent.append(user.email)
            finally:
                connection.close()
    record(
        "service.notice.mailed",
        actor=actor,
        target=f"notice:{notice.pk}",
        data={
            "kind": notice.kind,
            "sent": len(report.sent),
            "failed": len(report.failed),
            "already": report.already,
        },
    )
    return report
