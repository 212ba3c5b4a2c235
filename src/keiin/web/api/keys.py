"""API keys: creation (the key text shown once), revocation, and finding the key of a request.

A key reads ``keiin_<prefix>_<secret>``: ``prefix`` is 12 random hex digits that find the row,
``secret`` 32 random bytes (256 bits, base64url). Only SHA-256 of the whole text is stored.
A fast unsalted hash is enough because the secret is uniformly random and 256 bits long: no
dictionary or brute-force search can invert it, so a slow password hash (Argon2) would only
cost time on every request, and a server-side HMAC key would add nothing a database thief
could exploit. The stored digest is compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from keiin.web.accounts.models import Role, User
from keiin.web.api.models import ApiKey
from keiin.web.audit.log import record
from keiin.web.partners.models import Partner

PREFIX = "keiin"
_KEY = re.compile(r"^keiin_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
#: ``last_used_at`` is written at most this often per key (not on every request).
TOUCH_EVERY = dt.timedelta(minutes=1)


class ApiKeyError(Exception):
    """A refused key operation; the message can be shown to the person."""


@dataclass(frozen=True)
class NewKey:
    """A key just created: the row and the key text (never stored, shown once)."""

    row: ApiKey
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_create(user: User) -> bool:
    """Only contract managers create keys (and webhooks)."""
    return user.is_active and user.role == Role.CONTRACT_MANAGER


def create_key(name: str, owner: User, partners: Iterable[Partner] = (), *, actor: str) -> NewKey:
    """A new key acting as ``owner`` (a contract manager), limited to ``partners`` if any."""
    name = name.strip()
    if not name:
        raise ApiKeyError("a name is required")
    if not may_create(owner):
        raise ApiKeyError("only a contract manager can create API keys")
    prefix = secrets.token_hex(6)
    token = f"{PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    scope = sorted({p.pk for p in partners})
    with transaction.atomic():
        if ApiKey.objects.filter(name=name).exists():
            raise ApiKeyError("an API key with this name already exists")
        row = ApiKey.objects.create(
            name=name[:100], prefix=prefix, secret_sha256=_digest(token), owner=owner
        )
        if scope:
            row.partners.set(scope)
        record(
            "api.key.created",
            actor=actor,
            target=f"api-key:{row.prefix}",
            data={"name": row.name, "owner": owner.login_id, "partners": scope},
        )
    return NewKey(row, token)


def revoke_key(key: ApiKey, *, actor: str) -> bool:
    """Revoke ``key`` for good; False if it was already revoked."""
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor[:200]
        )
        if updated:
            record(
                "api.key.revoked",
                actor=actor,
                target=f"api-key:{key.prefix}",
                data={"name": key.name},
            )
    return bool(updated)


def authenticate(token: str) -> ApiKey | None:
    """The live key whose text is ``token``, its owner still active operator staff; or None."""
    found = _KEY.match(token)
    if found is None:
        return None
    row = (
        ApiKey.objects.select_related("owner")
        .filter(prefix=found.group(1), revoked_at__isnull=True)
        .first()
    )
    stored = row.secret_sha256 if row is not None else "0" * 64
    if not hmac.compare_digest(_digest(token).encode(), stored.encode()) or row is None:
        return None
    if not (row.owner.is_active and row.owner.is_staff):
        return None
    _touch(row)
    return row


def _touch(row: ApiKey) -> None:
    now = timezone.now()
    if row.last_used_at is not None and now - row.last_used_at < TOUCH_EVERY:
        return
    ApiKey.objects.filter(pk=row.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY)
    ).update(last_used_at=now)
    row.last_used_at = now


def partner_scope(key: ApiKey) -> set[int] | None:
    """The partner IDs ``key`` is limited to, or None when it may reach every partner."""
    ids = set(key.partners.values_list("pk", flat=True))
    return ids or None
