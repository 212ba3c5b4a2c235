"""Middleware: rate limits (429) and service hours (503) in front of partner and console views.

Both only look at requests whose path (with or without the ``/en/`` prefix) starts with one of
their configured prefixes; everything else — the public repository, ``/ocsp``, ``/tsa``,
``/healthz``, ``/crl/``, ``/ca/``, static files — passes untouched. Settings are read on
every request so that ``override_settings`` works in tests; the parsed rates are cached.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import get_language

from keiin.web.partners.addresses import client_address
from keiin.web.service.hours import current_status, guarded_prefixes, path_matches
from keiin.web.service.notices import current_notices
from keiin.web.service.ratelimit import Limiter, Rate, client_key, make_counter


def _language() -> str:
    return (get_language() or "ja").split("-")[0]


class ServiceHoursMiddleware:
    """Outside service hours, answer guarded paths with 503 and the next opening time.

    Guarded: ``KEIIN_SERVICE_HOURS_PREFIXES`` (default ``/p/``, the partner area). Every
    method is refused — a GET gets the explanatory page, a POST cannot change anything.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not path_matches(request.path_info, guarded_prefixes()):
            return self.get_response(request)
        status = current_status()
        if status.is_open:
            return self.get_response(request)
        language = _language()
        context = {
            "status": status,
            "weekly": status.hours.weekly,
            "reason": status.window.reason(language) if status.window else "",
            "notices": current_notices(language, now=status.now),
        }
        response = render(request, "service/unavailable.html", context, status=503)
        if status.retry_after is not None:
            response["Retry-After"] = str(status.retry_after)
        add_never_cache_headers(response)
        return response


class RateLimitMiddleware:
    """Per-user and global fixed-window limits on ``KEIIN_RATE_PREFIXES``; 429 over them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._limiters: dict[tuple[str, str, str], Limiter] = {}
        self._limiter()  # a bad setting stops the server at start-up, not at the first request

    def _limiter(self) -> Limiter:
        config = (
            getattr(settings, "KEIIN_RATE_USER", "120/min"),
            getattr(settings, "KEIIN_RATE_GLOBAL", "3000/min"),
            getattr(settings, "KEIIN_RATE_STORE", "database"),
        )
        limiter = self._limiters.get(config)
        if limiter is None:
            limiter = Limiter(Rate.parse(config[0]), Rate.parse(config[1]), make_counter(config[2]))
            self._limiters[config] = limiter
        return limiter

    def __call__(self, request: HttpRequest) -> HttpResponse:
        prefixes = getattr(settings, "KEIIN_RATE_PREFIXES", ("/p/", "/apply/", "/console/"))
        if not path_matches(request.path_info, prefixes):
            return self.get_response(request)
        limiter = self._limiter()
        if not limiter.enabled:
            return self.get_response(request)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        refusal = limiter.check(client_key(user_id, client_address(request)))
        if refusal is None:
            return self.get_response(request)
        response = render(
            request,
            "service/too_many_requests.html",
            {"retry_after": refusal.retry_after, "scope": refusal.scope},
            status=429,
        )
        response["Retry-After"] = str(refusal.retry_after)
        add_never_cache_headers(response)
        return response
