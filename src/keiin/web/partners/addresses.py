"""The client address of a request, for lockouts and the audit log.

Without a proxy it is ``REMOTE_ADDR``. Behind N reverse proxies that each append to
``X-Forwarded-For``, set ``KEIIN_FORWARDED_PROXIES=N``: the address the outermost trusted proxy
saw is then the N-th entry from the right (entries further left are the client's own claims).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The best-known client IP address, or None if it is not a valid address."""
    proxies = getattr(settings, "KEIIN_FORWARDED_PROXIES", 0)
    if proxies > 0:
        hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return _valid(hops[-proxies])
    return _valid(request.META.get("REMOTE_ADDR", ""))
