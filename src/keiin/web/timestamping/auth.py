"""Who is asking for a time-stamp: HTTP Basic (user ID + password) or a bearer API token.

Verifying an Argon2 password costs tens of milliseconds; doing it per request would cap the
TSA at a few dozen tokens per second. So a worker verifies a credential once and caches the
outcome under a keyed hash of the credential (keyed BLAKE2b, a per-process random key: the cache
holds no password and its keys are useless outside the process). The cache is dropped the
moment the shared accounts generation moves (suspension, password change, token revocation)
and entries also expire after :data:`CACHE_SECONDS`. Failed checks are not cached as
successes; repeated failures for one user ID are slowed down by a per-worker lockout.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from keiin.web.ca.generation import Generation
from keiin.web.timestamping import terms
from keiin.web.timestamping.models import TsaAccount, TsaApiToken

CACHE_SECONDS = 300.0
MAX_CACHE = 50_000
FAILURES_BEFORE_LOCK = 10
LOCK_SECONDS = 300.0

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated account as the TSA needs it on every request."""

    account_id: int
    user_id: str
    term_end: dt.date
    networks: tuple[IpNetwork, ...]
    refusal: str  # "" when the account may be served


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """The result of authenticating one request."""

    principal: Principal | None
    status: int  # 0: go ahead; 401 or 403: refuse with this HTTP status
    reason: str


ANONYMOUS = AuthOutcome(None, 0, "")


@cache
def accounts_generation() -> Generation:
    """Bumped whenever an account's credentials or standing change."""
    return Generation(settings.HOME.run / "tsa-accounts.generation")


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """Parse an allow-list (one CIDR or address per line / comma)."""
    items = [p.strip() for p in text.replace(",", "\n").splitlines() if p.strip()]
    return tuple(ipaddress.ip_network(p, strict=False) for p in items)


def _principal(account: TsaAccount) -> Principal:
    today = timezone.localdate()
    terms.renew_if_due(account, today)
    ok, why = terms.in_service(account, today)
    return Principal(
        account_id=account.pk,
        user_id=account.user_id,
        term_end=account.term_end,
        networks=parse_networks(account.ip_allowlist),
        refusal="" if ok else why,
    )


def lookup_basic(user_id: str, password: str) -> Principal | None:
    """Check a user ID and password against the database (slow: Argon2)."""
    close_old_connections()
    try:
        account = TsaAccount.objects.select_related("plan").filter(user_id=user_id).first()
        if account is None:
            # Same cost as a real check, so timing does not reveal which IDs exist.
            TsaAccount(password=_DUMMY_HASH()).check_password(password)
            return None
        if not account.check_password(password):
            return None
        return _principal(account)
    finally:
        close_old_connections()


def lookup_token(token: str) -> Principal | None:
    """Find the account of a bearer token (fast: tokens are random, a SHA-256 suffices)."""
    close_old_connections()
    try:
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = (
            TsaApiToken.objects.select_related("account", "account__plan")
            .filter(token_sha256=digest, revoked_at__isnull=True)
            .first()
        )
        return _principal(row.account) if row else None
    finally:
        close_old_connections()


@cache
def _DUMMY_HASH() -> str:  # noqa: N802 - a constant computed once
    from django.contrib.auth.hashers import make_password

    return make_password(secrets.token_urlsafe(16))


class Authenticator:
    """Per-worker credential cache in front of :func:`lookup_basic` / :func:`lookup_token`."""

    def __init__(self) -> None:
        # Keyed BLAKE2b (a MAC, RFC 7693 §2.9): a quarter of HMAC-SHA256's cost per request.
        self._mac = hashlib.blake2b(key=secrets.token_bytes(32), digest_size=32)
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._failures: dict[str, tuple[int, float]] = {}
        self._generation = -1

    def _check_generation(self) -> None:
        current = accounts_generation().value()
        if current != self._generation:
            self._cache.clear()
            self._generation = current

    def cached(self, authorization: bytes) -> Principal | None:
        """The principal for this exact Authorization header, if verified recently."""
        self._check_generation()
        hit = self._cache.get(self.cache_key(authorization))
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        return None

    def cache_key(self, authorization: bytes) -> bytes:
        """The keyed hash under which a credential's outcome is cached (holds no secret)."""
        mac = self._mac.copy()
        mac.update(authorization)
        return mac.digest()

    def remember(self, authorization: bytes, principal: Principal) -> None:
        if len(self._cache) >= MAX_CACHE:
            self._cache.clear()
        self._cache[self.cache_key(authorization)] = (
            principal,
            time.monotonic() + CACHE_SECONDS,
        )

    def locked(self, user_id: str) -> bool:
        entry = self._failures.get(user_id)
        return (
            entry is not None and entry[0] >= FAILURES_BEFORE_LOCK and entry[1] > time.monotonic()
        )

    def failed(self, user_id: str) -> None:
        count, _until = self._failures.get(user_id, (0, 0.0))
        if len(self._failures) > MAX_CACHE:
            self._failures.clear()
        self._failures[user_id] = (count + 1, time.monotonic() + LOCK_SECONDS)

    def succeeded(self, user_id: str) -> None:
        self._failures.pop(user_id, None)


def parse_authorization(header: bytes) -> tuple[str, str, str] | None:
    """``("basic", user, password)`` or ``("bearer", token, "")``; None if malformed."""
    scheme, _, value = header.strip().partition(b" ")
    scheme_l = scheme.lower()
    value = value.strip()
    if scheme_l == b"basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep or not user:
            return None
        return "basic", user, password
    if scheme_l == b"bearer" and value:
        try:
            return "bearer", value.decode("ascii"), ""
        except UnicodeDecodeError:
            return None
    return None


def check_principal(principal: Principal, client_ip: str | None, today: dt.date) -> AuthOutcome:
    """Apply standing, contract dates and the IP allow-list to a cached principal."""
    if principal.refusal:
        return AuthOutcome(principal, 403, principal.refusal)
    if today > principal.term_end:
        return AuthOutcome(principal, 403, "contract expired")
    if principal.networks:
        try:
            address = ipaddress.ip_address(client_ip or "")
        except ValueError:
            return AuthOutcome(principal, 403, "client address not allowed")
        if not any(address in network for network in principal.networks):
            return AuthOutcome(principal, 403, "client address not allowed")
    return AuthOutcome(principal, 0, "")
