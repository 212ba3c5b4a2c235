"""Partner login (terms clause 10): login URL → ID + password → e-mailed one-time password.

Step 1, :func:`check_password`, runs on the partner's own login URL. It succeeds only for an
active person of that active partner with the right password; every other case gives the
same answer and counts as a failure for the typed login ID and for the client address. On
success a :class:`LoginAttempt` is stored with an HMAC of (attempt id, code) and the 6-digit
code is e-mailed; any older open attempt of that person is closed.

Step 2, :func:`check_code`, takes the attempt id kept in the session and the typed code. The
code is compared in constant time; the attempt is closed atomically on success (single use),
and refused once expired (``KEIIN_OTP_TTL`` seconds) or closed. Wrong codes count per person
and per client address. Lock counts: :mod:`keiin.web.partners.throttle`.
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record
from keiin.web.partners import mail, throttle
from keiin.web.partners.models import LoginAttempt, Partner

CODE_DIGITS = 6


class Result(enum.Enum):
    OK = "ok"
    INVALID = "invalid"  # wrong ID/password/code, other partner, inactive, restricted, expired
    LOCKED = "locked"
    MAIL_FAILED = "mail_failed"


@dataclass(frozen=True)
class Outcome:
    result: Result
    attempt: LoginAttempt | None = None
    user: User | None = None

    @property
    def ok(self) -> bool:
        return self.result is Result.OK


def code_hash(attempt_id: str, code: str) -> str:
    """HMAC-SHA256 (keyed by the secret key) of a code bound to its attempt."""
    return salted_hmac("keiin.partners.otp", f"{attempt_id}:{code}", algorithm="sha256").hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _may_log_in(user: User | None, partner: Partner) -> bool:
    return bool(
        user is not None
        and user.is_active
        and user.partner_id == partner.pk
        and user.role in (Role.PARTNER_USER, Role.SIGNATORY)
        and partner.can_log_in
    )


def _fail(scope_account: str, scope_address: str, account: str, address: str) -> bool:
    locked = throttle.record_failure(scope_account, account)
    return throttle.record_failure(scope_address, address) or locked


def check_password(
    request: HttpRequest,
    partner: Partner,
    login_id: str,
    password: str,
    *,
    address: str | None,
    language: str,
) -> Outcome:
    """Step 1. On success the code is e-mailed and the open attempt returned."""
    account = throttle.account_key(login_id)
    where = throttle.address_key(address)
    actor = f"address:{address or 'unknown'}"
    if throttle.is_locked(throttle.PASSWORD_ACCOUNT, account) or throttle.is_locked(
        throttle.PASSWORD_ADDRESS, where
    ):
        record(
            "partner.login.refused_locked",
            actor=actor,
            target=f"partner:{partner.pk}",
            data={"login_id": login_id[:150], "step": "password"},
        )
        return Outcome(Result.LOCKED)
    user = authenticate(request, username=login_id.strip().lower(), password=password)
    if not _may_log_in(user, partner):
        locked = _fail(throttle.PASSWORD_ACCOUNT, throttle.PASSWORD_ADDRESS, account, where)
        record(
            "partner.login.password_failed",
            actor=actor,
            target=f"partner:{partner.pk}",
            data={"login_id": login_id[:150], "locked": locked},
        )
        return Outcome(Result.LOCKED if locked else Result.INVALID)
    throttle.record_success(throttle.PASSWORD_ACCOUNT, account)
    code = new_code()
    now = timezone.now()
    with transaction.atomic():
        LoginAttempt.objects.filter(user=user, closed_at__isnull=True).update(
            closed_at=now, outcome=LoginAttempt.Outcome.SUPERSEDED
        )
        attempt_id = secrets.token_hex(16)
        attempt = LoginAttempt.objects.create(
            id=attempt_id,
            user=user,
            partner=partner,
            code_hash=code_hash(attempt_id, code),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=settings.KEIIN_OTP_TTL),
            client_address=address,
        )
        record(
            "partner.login.password_ok",
            actor=actor,
            target=f"user:{user.login_id}",
            data={"attempt": attempt_id[:8]},
        )
    try:
        mail.send(
            "otp",
            user.email,
            {
                "user": user,
                "company": partner.company_name(language),
                "code": code,
                "valid_minutes": max(1, settings.KEIIN_OTP_TTL // 60),
                "address": address or "",
            },
            language,
        )
    except Exception:
        LoginAttempt.objects.filter(pk=attempt.pk).update(
            closed_at=timezone.now(), outcome=LoginAttempt.Outcome.CANCELLED
        )
        return Outcome(Result.MAIL_FAILED)
    return Outcome(Result.OK, attempt=attempt, user=user)


def open_attempt(attempt_id: str | None, partner: Partner) -> LoginAttempt | None:
    """The session's attempt if it belongs to ``partner`` and still accepts a code."""
    if not attempt_id:
        return None
    attempt = (
        LoginAttempt.objects.select_related("user")
        .filter(pk=attempt_id, partner=partner, closed_at__isnull=True)
        .first()
    )
    if attempt is None or attempt.expires_at <= timezone.now():
        return None
    return attempt


def check_code(
    attempt_id: str | None, partner: Partner, code: str, *, address: str | None
) -> Outcome:
    """Step 2. On success the attempt is closed (used) and the user returned for login()."""
    where = throttle.address_key(address)
    actor = f"address:{address or 'unknown'}"
    attempt = (
        LoginAttempt.objects.select_related("user").filter(pk=attempt_id).first()
        if attempt_id
        else None
    )
    account = str(attempt.user_id) if attempt else ""
    if throttle.is_locked(throttle.OTP_ADDRESS, where) or (
        attempt and throttle.is_locked(throttle.OTP_ACCOUNT, account)
    ):
        record(
            "partner.login.refused_locked",
            actor=actor,
            target=f"partner:{partner.pk}",
            data={"step": "otp"},
        )
        return Outcome(Result.LOCKED)
    now = timezone.now()
    typed = "".join(code.split())
    valid = (
        attempt is not None
        and attempt.partner_id == partner.pk
        and attempt.closed_at is None
        and attempt.expires_at > now
        and hmac.compare_digest(code_hash(attempt.pk, typed), attempt.code_hash)
        and _may_log_in(attempt.user, partner)
    )
    if valid:
        # Single use even under concurrency: only one request can close the open attempt.
        used = LoginAttempt.objects.filter(pk=attempt.pk, closed_at__isnull=True).update(
            closed_at=now, outcome=LoginAttempt.Outcome.USED
        )
        valid = used == 1
    if not valid:
        locked = throttle.record_failure(throttle.OTP_ADDRESS, where)
        if attempt is not None:
            locked = throttle.record_failure(throttle.OTP_ACCOUNT, account) or locked
        if locked and attempt is not None:
            LoginAttempt.objects.filter(pk=attempt.pk, closed_at__isnull=True).update(
                closed_at=now, outcome=LoginAttempt.Outcome.LOCKED
            )
        record(
            "partner.login.otp_failed",
            actor=actor,
            target=f"user:{attempt.user.login_id}" if attempt else f"partner:{partner.pk}",
            data={"locked": locked},
        )
        return Outcome(Result.LOCKED if locked else Result.INVALID)
    throttle.record_success(throttle.OTP_ACCOUNT, account)
    record(
        "partner.login.succeeded",
        actor=actor,
        target=f"user:{attempt.user.login_id}",
        data={"partner": partner.pk},
    )
    return Outcome(Result.OK, attempt=attempt, user=attempt.user)
