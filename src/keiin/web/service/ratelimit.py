"""Fixed-window rate limits: per user (or client address) and for the whole service.

A request to a rate-limited URL counts once in its user's window (``u:<id>`` when logged in,
``a:<address>`` otherwise, IPv6 by /64) and, if that window is not over its limit, once in the
global window. Over a limit the caller answers 429 with ``Retry-After`` = the seconds left in
the window. Requests refused by the per-user limit do not count globally, so one client cannot
use up everyone's share. A fixed window lets up to twice the limit through around a window
boundary; that is the price of one counter per key.

Counters live in one of two stores (``KEIIN_RATE_STORE``):

``database`` (default)
    :class:`~keiin.web.service.models.RateCounter` rows incremented by a single atomic
    ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (SQLite ≥ 3.35, PostgreSQL), so every
    worker process and every machine sharing the database counts in the same window exactly.
    On PostgreSQL the increment commits with ``synchronous_commit = off``: a crash may forget
    the last few hits, which a rate limit can afford.
``cache``
    Django's ``default`` cache (``add`` + ``incr``). Exact across processes only with a shared
    cache whose ``incr`` is atomic (memcached, Redis). With the built-in per-process LocMem
    cache each worker counts alone, so the effective limits are multiplied by the number of
    workers; Django's database and file caches implement ``incr`` as read-then-write and lose
    concurrent hits, which is why they are not offered.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import F

from keiin.web.service.models import RateCounter

_UNITS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
}  # fmt: skip
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")
_OFF = {"", "0", "off", "none", "unlimited"}


@dataclass(frozen=True)
class Rate:
    """``limit`` requests per ``seconds``."""

    limit: int
    seconds: int

    @staticmethod
    @lru_cache(maxsize=64)
    def parse(text: str) -> Rate | None:
        """``"120/min"``, ``"3000/minute"``, ``"10/30s"``, ``"5000/h"``; ``off``/``0`` → None.

        Raises ImproperlyConfigured for anything else.
        """
        value = text.strip().lower()
        if value in _OFF:
            return None
        found = _RATE.match(value)
        if not found or found.group(3) not in _UNITS:
            raise ImproperlyConfigured(
                f"not a rate: {text!r} (use e.g. 120/min, 3000/minute, 10/30s, or off)"
            )
        count, multiplier = int(found.group(1)), int(found.group(2) or 1)
        if count == 0:
            return None
        seconds = multiplier * _UNITS[found.group(3)]
        if seconds <= 0:
            raise ImproperlyConfigured(f"not a rate: {text!r} (the period is zero)")
        return Rate(count, seconds)

    def slot(self, now: float) -> int:
        """Start (epoch seconds) of the window ``now`` falls in."""
        return int(now // self.seconds) * self.seconds

    def retry_after(self, now: float) -> int:
        """Whole seconds until the window of ``now`` ends (at least 1)."""
        return max(1, math.ceil(self.slot(now) + self.seconds - now))


def _now() -> float:
    """The clock the limits count with (replaced in tests)."""
    return time.time()


class Counter(Protocol):
    """Counts hits per (key, window start)."""

    def hit(self, key: str, slot: int, ttl: int) -> int:
        """Add one hit and return the window's total including it."""

    def forget_before(self, slot: int) -> None:
        """Drop windows that started before ``slot`` (if the store needs it)."""


class DatabaseCounter:
    """Counters in :class:`RateCounter`, shared by every process using the database."""

    _table = RateCounter._meta.db_table

    def _upsert_sql(self) -> str:
        q = connection.ops.quote_name
        table = q(self._table)
        return (
            f"INSERT INTO {table} ({q('key')}, {q('slot')}, {q('hits')}) VALUES (%s, %s, 1) "  # noqa: S608 - names are constants
            f"ON CONFLICT ({q('key')}, {q('slot')}) "
            f"DO UPDATE SET {q('hits')} = {table}.{q('hits')} + 1 RETURNING {q('hits')}"
        )

    def hit(self, key: str, slot: int, ttl: int) -> int:
        if connection.vendor not in ("sqlite", "postgresql"):
            return self._hit_portable(key, slot)
        with connection.cursor() as cursor:
            cursor.execute(self._upsert_sql(), [key, slot])
            return int(cursor.fetchone()[0])

    def _hit_portable(self, key: str, slot: int) -> int:
        with transaction.atomic():
            updated = RateCounter.objects.filter(key=key, slot=slot).update(hits=F("hits") + 1)
            if not updated:
                RateCounter.objects.get_or_create(key=key, slot=slot, defaults={"hits": 0})
                RateCounter.objects.filter(key=key, slot=slot).update(hits=F("hits") + 1)
            return RateCounter.objects.get(key=key, slot=slot).hits

    def forget_before(self, slot: int) -> None:
        RateCounter.objects.filter(slot__lt=slot).delete()


class CacheCounter:
    """Counters in a Django cache (see the module notes on which caches are exact)."""

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias

    def hit(self, key: str, slot: int, ttl: int) -> int:
        cache = caches[self.alias]
        name = f"keiin:rate:{key}:{slot}"
        cache.add(name, 0, timeout=ttl)
        try:
            return int(cache.incr(name))
        except ValueError:  # expired between add and incr
            cache.set(name, 1, timeout=ttl)
            return 1

    def forget_before(self, slot: int) -> None:
        """Cache entries expire on their own."""


def make_counter(store: str) -> Counter:
    """The counter store named by ``KEIIN_RATE_STORE``."""
    if store == "database":
        return DatabaseCounter()
    if store == "cache":
        return CacheCounter()
    raise ImproperlyConfigured(f"KEIIN_RATE_STORE must be database or cache, not {store!r}")


@dataclass(frozen=True)
class Refusal:
    """Why and for how long a request is refused."""

    scope: str  # "user" or "global"
    retry_after: int


def client_key(user_id: int | None, address: str | None) -> str:
    """The per-user counter key: the user when logged in, else the client address
    (IPv6 addresses grouped by /64, the block one client usually controls)."""
    if user_id is not None:
        return f"u:{user_id}"
    if not address:
        return "a:unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "a:unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"a:{ip.ipv4_mapped}"
        return f"a:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"a:{ip}"


class Limiter:
    """Per-user and global limits over one counter store."""

    GLOBAL_KEY = "global"

    def __init__(self, user: Rate | None, global_: Rate | None, counter: Counter) -> None:
        self.user = user
        self.global_ = global_
        self.counter = counter
        self._next_cleanup = 0.0

    @property
    def enabled(self) -> bool:
        return self.user is not None or self.global_ is not None

    def check(self, key: str, now: float | None = None) -> Refusal | None:
        """Count one request for ``key``; a :class:`Refusal` when it is over a limit."""
        now = _now() if now is None else now
        self._cleanup(now)
        if isinstance(self.counter, DatabaseCounter) and not connection.in_atomic_block:
            # One transaction for both counters: one commit, and on PostgreSQL one that does
            # not wait for the WAL flush (only the counters are written in it).
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                return self._check(key, now)
        return self._check(key, now)

    def _check(self, key: str, now: float) -> Refusal | None:
        if self.user is not None:
            hits = self.counter.hit(key, self.user.slot(now), self.user.seconds + 1)
            if hits > self.user.limit:
                return Refusal("user", self.user.retry_after(now))
        if self.global_ is not None:
            hits = self.counter.hit(
                self.GLOBAL_KEY, self.global_.slot(now), self.global_.seconds + 1
            )
            if hits > self.global_.limit:
                return Refusal("global", self.global_.retry_after(now))
        return None

    def _cleanup(self, now: float) -> None:
        """At most once per longest period per process: drop finished windows."""
        if now < self._next_cleanup:
            return
        longest = max(r.seconds for r in (self.user, self.global_) if r is not None)
        self.counter.forget_before(int(now) - 2 * longest)
        self._next_cleanup = now + longest
