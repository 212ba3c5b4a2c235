"""Operator actions on TSA accounts and tokens; each is audited and takes effect at once."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from keiin.pki.serials import parse_serial, serial_to_hex
from keiin.web.audit.log import record
from keiin.web.timestamping import terms
from keiin.web.timestamping.auth import accounts_generation, parse_networks
from keiin.web.timestamping.models import (
    IssuedToken,
    TokenRevocation,
    TsaAccount,
    TsaApiToken,
    TsaPlan,
)
from keiin.web.timestamping.serials import find_token

#: Names the operator console uses as paths beside account IDs.
RESERVED_USER_IDS = frozenset({"new", "revocations"})


class TsaServiceError(Exception):
    """An operation refused, with a message for the operator."""


def _changed() -> None:
    transaction.on_commit(accounts_generation().bump)


def _account(user_id: str) -> TsaAccount:
    account = TsaAccount.objects.select_for_update().filter(user_id=user_id).first()
    if account is None:
        raise TsaServiceError(f"no TSA account {user_id!r}")
    return account


def ensure_plan(name: str, yearly_quota: int, description: str = "") -> TsaPlan:
    """Create or update a plan."""
    plan, _ = TsaPlan.objects.update_or_create(
        name=name, defaults={"yearly_quota": yearly_quota, "description": description}
    )
    return plan


def create_account(
    user_id: str,
    password: str,
    *,
    actor: str,
    plan: str | None = None,
    quota: int | None = None,
    organization: str = "",
    email: str = "",
    start: dt.date | None = None,
    ip_allowlist: str = "",
) -> TsaAccount:
    """Register a customer; the first contract year starts on ``start`` (default today)."""
    if not user_id or len(user_id) > 64 or not user_id.isprintable() or ":" in user_id:
        raise TsaServiceError("the user ID must be 1-64 printable characters without ':'")
    if user_id.lower() in RESERVED_USER_IDS:
        raise TsaServiceError(f"the user ID {user_id!r} is reserved")
    if len(password) < 12:
        raise TsaServiceError("the password must have at least 12 characters")
    if quota is not None and quota < 0:
        raise TsaServiceError("the quota cannot be negative")
    try:
        parse_networks(ip_allowlist)
    except ValueError as exc:
        raise TsaServiceError(f"bad IP allow-list: {exc}") from None
    start = start or timezone.localdate()
    with transaction.atomic():
        if TsaAccount.objects.filter(user_id=user_id).exists():
            raise TsaServiceError(f"TSA account {user_id!r} already exists")
        plan_row = None
        if plan:
            plan_row = TsaPlan.objects.filter(name=plan).first()
            if plan_row is None:
                raise TsaServiceError(f"no plan {plan!r}")
        account = TsaAccount(
            user_id=user_id,
            organization=organization,
            email=email,
            plan=plan_row,
            quota=quota,
            contract_start=start,
            term_end=terms.year_end(start),
            ip_allowlist=ip_allowlist,
        )
        account.set_password(password)
        account.save()
        record(
            "tsa.account.created",
            actor=actor,
            target=user_id,
            data={"plan": plan, "quota": quota, "start": start.isoformat()},
        )
        _changed()
        return account


def set_status(user_id: str, status: str, *, actor: str, reason: str = "") -> TsaAccount:
    """Suspend, resume (active) or terminate an account."""
    if status not in TsaAccount.Status.values:
        raise TsaServiceError(f"unknown status {status!r}")
    with transaction.atomic():
        account = _account(user_id)
        if account.status == TsaAccount.Status.TERMINATED and status != account.status:
            raise TsaServiceError("a terminated account cannot be reopened")
        account.status = status
        account.status_reason = reason
        account.save(update_fields=["status", "status_reason"])
        record(f"tsa.account.{status}", actor=actor, target=user_id, data={"reason": reason})
        _changed()
        return account


def set_password(user_id: str, password: str, *, actor: str) -> None:
    """Change an account's password (every worker forgets the old one at once)."""
    if len(password) < 12:
        raise TsaServiceError("the password must have at least 12 characters")
    with transaction.atomic():
        account = _account(user_id)
        account.set_password(password)
        account.save(update_fields=["password"])
        record("tsa.account.password_changed", actor=actor, target=user_id)
        _changed()


def give_non_renewal_notice(user_id: str, *, actor: str, on: dt.date | None = None) -> dt.date:
    """Record notice of non-renewal; returns the last day of service it leads to."""
    on = on or timezone.localdate()
    with transaction.atomic():
        account = _account(user_id)
        account.non_renewal_notice_on = on
        account.save(update_fields=["non_renewal_notice_on"])
        end = account.term_end
        if not terms.notice_is_timely(on, end):
            end = terms.year_end(end + dt.timedelta(days=1))
        record(
            "tsa.account.non_renewal_notice",
            actor=actor,
            target=user_id,
            data={"notice_on": on.isoformat(), "service_ends": end.isoformat()},
        )
        _changed()
        return end


@dataclass(frozen=True)
class NewApiToken:
    """A freshly created API token: ``secret`` is shown once and never stored."""

    row: TsaApiToken
    secret: str


def create_api_token(user_id: str, name: str, *, actor: str) -> NewApiToken:
    """Create a bearer token for an account."""
    secret = "kts_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        account = _account(user_id)
        row = TsaApiToken.objects.create(
            account=account,
            name=name,
            prefix=secret[:10],
            token_sha256=hashlib.sha256(secret.encode()).hexdigest(),
        )
        record("tsa.api_token.created", actor=actor, target=user_id, data={"name": name})
        _changed()
        return NewApiToken(row, secret)


def revoke_api_token(user_id: str, name: str, *, actor: str) -> int:
    """Revoke every live token of that name; returns how many."""
    with transaction.atomic():
        account = _account(user_id)
        count = TsaApiToken.objects.filter(
            account=account, name=name, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        record("tsa.api_token.revoked", actor=actor, target=user_id, data={"name": name})
        _changed()
        return count


def revoke_token_serial(serial_text: str, reason: str, *, actor: str) -> TokenRevocation:
    """Revoke one issued token by serial (it must be in the issuance log)."""
    try:
        serial_hex = serial_to_hex(parse_serial(serial_text))
    except ValueError as exc:
        raise TsaServiceError(str(exc)) from None
    if not reason:
        raise TsaServiceError("a reason is required")
    with transaction.atomic():
        if find_token(int(serial_hex, 16)) is None:
            raise TsaServiceError(f"no token with serial {serial_hex} in the issuance log")
        if TokenRevocation.objects.filter(serial_hex=serial_hex).exists():
            raise TsaServiceError(f"token {serial_hex} is already revoked")
        row = TokenRevocation.objects.create(serial_hex=serial_hex, reason=reason, actor=actor)
        record("tsa.token.revoked", actor=actor, target=serial_hex, data={"reason": reason})
        from keiin.web.timestamping import revocation_list

        revocation_list.publish_after_revocation(actor)
        return row


def revoke_token_window(
    start: dt.datetime, end: dt.datetime, reason: str, *, actor: str
) -> tuple[TokenRevocation, int]:
    """Revoke every token whose genTime is in [start, end); returns the row and how many."""
    if end <= start:
        raise TsaServiceError("the window must end after it starts")
    if not reason:
        raise TsaServiceError("a reason is required")
    with transaction.atomic():
        row = TokenRevocation.objects.create(
            window_start=start, window_end=end, reason=reason, actor=actor
        )
        affected = IssuedToken.objects.filter(gen_time__gte=start, gen_time__lt=end).count()
        record(
            "tsa.tokens.revoked_window",
            actor=actor,
            target=f"{start.isoformat()}/{end.isoformat()}",
            data={"reason": reason, "tokens": affected},
        )
        from keiin.web.timestamping import revocation_list

        revocation_list.publish_after_revocation(actor)
        return row, affected
