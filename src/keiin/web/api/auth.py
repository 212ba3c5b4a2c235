"""Who is calling: an API key in ``Authorization: Bearer keiin_<prefix>_<secret>``.

The API never looks at the session cookie: a browser logged in to the console cannot call it,
so cross-site requests carry no authority and no CSRF token is needed (ninja's operations are
CSRF-exempt, and this authentication has ``csrf = False``). Missing, malformed, unknown and
revoked keys all get 401 with a JSON reason; calls over the rate limits get 429 + Retry-After.
"""

from __future__ import annotations

from typing import NoReturn

from django.http import HttpRequest
from ninja.security import HttpBearer

from keiin.web.api import keys, throttle
from keiin.web.api.errors import ApiError
from keiin.web.api.models import ApiKey
from keiin.web.partners.addresses import client_address

_FORMAT = "Authorization: Bearer keiin_<prefix>_<secret>"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="keiin"'}


def _too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"too many requests; try again in {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


class ApiKeyAuth(HttpBearer):
    """Ninja authentication by API key; ``request.auth`` is then the :class:`ApiKey`."""

    csrf = False

    def __call__(self, request: HttpRequest) -> ApiKey:
        value = request.headers.get("Authorization", "")
        scheme, _, token = value.strip().partition(" ")
        if not value:
            self._refuse(request, f"an API key is required: {_FORMAT}")
        if scheme.lower() != "bearer" or not token.strip():
            self._refuse(request, f"the Authorization header must be {_FORMAT}")
        key = keys.authenticate(token.strip())
        if key is None:
            self._refuse(request, "unknown or revoked API key")
        refusal = throttle.check_key(key.pk)
        if refusal is not None:
            raise _too_many(refusal.retry_after)
        return key

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        """Unused (``__call__`` does it all); required by :class:`HttpBearer`."""
        return keys.authenticate(token)

    def _refuse(self, request: HttpRequest, reason: str) -> NoReturn:
        refusal = throttle.check_address(client_address(request))
        if refusal is not None:
            raise _too_many(refusal.retry_after)
        raise ApiError(401, reason, _CHALLENGE)


def api_key(request: HttpRequest) -> ApiKey:
    """The key of an authenticated request."""
    key = request.auth  # type: ignore[attr-defined]
    assert isinstance(key, ApiKey)
    return key
