"""Lockouts with backoff for partner logins, shared by every worker through the database.

A (scope, key) pair counts consecutive failures. When the count reaches the scope's threshold
the key is locked for ``KEIIN_LOGIN_LOCK_MINUTES`` × 2^level (capped at
``KEIIN_LOGIN_LOCK_MAX_MINUTES``) and its level goes up by one, so every further lock lasts
twice as long. A success forgets an account's failures and level; address keys forget only
after ``KEIIN_LOGIN_FORGET_HOURS`` without a failure (so one good account cannot clear an
address that is guessing others). Defaults: 5 failures per account, 20 per address, 15 minutes,
doubling, at most 24 hours.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from keiin.web.partners.models import LoginLock

PASSWORD_ACCOUNT = "password-account"  # noqa: S105 - a scope name
PASSWORD_ADDRESS = "password-address"  # noqa: S105 - a scope name
OTP_ACCOUNT = "otp-account"
OTP_ADDRESS = "otp-address"
RESET_ACCOUNT = "reset-account"

_ACCOUNT_SCOPES = {PASSWORD_ACCOUNT, OTP_ACCOUNT, RESET_ACCOUNT}


@dataclass(frozen=True)
class Policy:
    """How many failures lock a key, and the first lock's length."""

    threshold: int
    first_lock: dt.timedelta
    max_lock: dt.timedelta
    forget_after: dt.timedelta


def policy(scope: str) -> Policy:
    """The lockout policy of ``scope`` from the settings."""
    threshold = (
        settings.KEIIN_LOGIN_ACCOUNT_FAILURES
        if scope in _ACCOUNT_SCOPES
        else settings.KEIIN_LOGIN_ADDRESS_FAILURES
    )
    return Policy(
        threshold=max(1, threshold),
        first_lock=dt.timedelta(minutes=settings.KEIIN_LOGIN_LOCK_MINUTES),
        max_lock=dt.timedelta(minutes=settings.KEIIN_LOGIN_LOCK_MAX_MINUTES),
        forget_after=dt.timedelta(hours=settings.KEIIN_LOGIN_FORGET_HOURS),
    )


def lock_duration(scope: str, level: int) -> dt.timedelta:
    """How long the lock number ``level + 1`` of ``scope`` lasts (15, 30, 60 … minutes)."""
    rules = policy(scope)
    return min(rules.first_lock * (2 ** min(level, 30)), rules.max_lock)


def account_key(login_id: str) -> str:
    """The key of a login ID as typed (case and surrounding spaces ignored)."""
    return login_id.strip().casefold()[:200]


def address_key(address: str | None) -> str:
    """The key of a client address: IPv4 as is, IPv6 by its /64 network (one host's range)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def locked_until(scope: str, key: str) -> dt.datetime | None:
    """When the lock on (scope, key) ends, or None if it is not locked now."""
    row = LoginLock.objects.filter(scope=scope, key=key).first()
    if row and row.locked_until and row.locked_until > timezone.now():
        return row.locked_until
    return None


def is_locked(scope: str, key: str) -> bool:
    return locked_until(scope, key) is not None


def record_failure(scope: str, key: str) -> bool:
    """Count one failure; returns True when this failure locks the key."""
    rules = policy(scope)
    now = timezone.now()
    with transaction.atomic():
        row, _created = LoginLock.objects.select_for_update().get_or_create(scope=scope, key=key)
        if row.locked_until and row.locked_until > now:
            row.last_failure_at = now  # a failure during a lock only keeps the lock's level
            row.save(update_fields=["last_failure_at"])
            return False
        if row.last_failure_at and now - row.last_failure_at > rules.forget_after:
            row.failures = 0
            row.level = 0
        row.locked_until = None
        row.failures += 1
        row.last_failure_at = now
        locked = row.failures >= rules.threshold
        if locked:
            row.locked_until = now + lock_duration(scope, row.level)
            row.level += 1
            row.failures = 0
        row.save()
        return locked


def record_success(scope: str, key: str) -> None:
    """Forget an account's failures and backoff level after it logged in."""
    LoginLock.objects.filter(scope=scope, key=key).delete()
