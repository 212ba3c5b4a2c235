"""Failed console logins per login ID (a lockout shared by every worker process)."""

from __future__ import annotations

import datetime as dt

from django.db import models, transaction
from django.utils import timezone

#: Failures in a row that lock a login ID, and for how long.
MAX_FAILURES = 5
LOCK_DURATION = dt.timedelta(minutes=15)


class LoginThrottle(models.Model):
    """Consecutive failed logins for one login ID (whether or not such a user exists)."""

    login_key = models.CharField(max_length=150, unique=True)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.login_key}: {self.failures} failures"


def login_key(login_id: str) -> str:
    """The throttle key of a login ID as typed (case and surrounding spaces ignored)."""
    return login_id.strip().casefold()[:150]


def is_locked(login_id: str) -> bool:
    """Whether logins for ``login_id`` are refused right now."""
    row = LoginThrottle.objects.filter(login_key=login_key(login_id)).first()
    return bool(row and row.locked_until and row.locked_until > timezone.now())


def record_failure(login_id: str) -> bool:
    """Count a failed login; returns True when it locks the login ID."""
    now = timezone.now()
    with transaction.atomic():
        row, _ = LoginThrottle.objects.select_for_update().get_or_create(
            login_key=login_key(login_id)
        )
        if row.locked_until and row.locked_until <= now:
            row.locked_until = None
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        locked = row.failures >= MAX_FAILURES
        if locked:
            row.locked_until = now + LOCK_DURATION
            row.failures = 0
        row.save()
        return locked


def record_success(login_id: str) -> None:
    """Forget earlier failures after a successful login."""
    LoginThrottle.objects.filter(login_key=login_key(login_id)).delete()
