"""Rate limits of the REST API: per API key, and per client address without a valid key.

``/api/`` is not one of ``KEIIN_RATE_PREFIXES``: the site's middleware counts per logged-in
user or address, while API calls come from a few servers that may each hold several keys. The
API counts in the same store and fixed windows as :mod:`keiin.web.service.ratelimit`, under
its own keys: ``api:k<id>`` for a key, ``api:a:<address>`` for requests without a valid key,
and ``api:global`` for all API traffic together (``KEIIN_API_RATE`` / ``KEIIN_API_RATE_GLOBAL``),
so API clients never use up the partners' share of ``KEIIN_RATE_GLOBAL``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from keiin.web.service.ratelimit import Limiter, Rate, Refusal, client_key, make_counter


class ApiLimiter(Limiter):
    """A :class:`Limiter` whose global window is the API's own."""

    GLOBAL_KEY = "api:global"

    def _cleanup(self, now: float) -> None:
        """Drop finished windows, never one the site's limits may still be counting in (the
        database store forgets old windows of every key at once)."""
        if now < self._next_cleanup:
            return
        rates = [self.user, self.global_]
        for name in ("KEIIN_RATE_USER", "KEIIN_RATE_GLOBAL"):
            try:
                rates.append(Rate.parse(str(getattr(settings, name, ""))))
            except ImproperlyConfigured:
                continue
        longest = max(r.seconds for r in rates if r is not None)
        self.counter.forget_before(int(now) - 2 * longest)
        self._next_cleanup = now + longest


_limiters: dict[tuple[str, str, str], ApiLimiter] = {}


def limiter() -> ApiLimiter:
    """The limiter for the current settings (read on every call, parsed once)."""
    config = (
        str(getattr(settings, "KEIIN_API_RATE", "600/min")),
        str(getattr(settings, "KEIIN_API_RATE_GLOBAL", "6000/min")),
        str(getattr(settings, "KEIIN_RATE_STORE", "database")),
    )
    found = _limiters.get(config)
    if found is None:
        found = ApiLimiter(Rate.parse(config[0]), Rate.parse(config[1]), make_counter(config[2]))
        _limiters[config] = found
    return found


def check_key(key_id: int) -> Refusal | None:
    """Count one request made with the key ``key_id``; a refusal when over a limit."""
    current = limiter()
    return current.check(f"api:k{key_id}") if current.enabled else None


def check_address(address: str | None) -> Refusal | None:
    """Count one request without a valid key from ``address``; a refusal when over a limit."""
    current = limiter()
    return current.check("api:" + client_key(None, address)) if current.enabled else None
