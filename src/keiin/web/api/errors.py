"""Every refusal of the API is JSON ``{"detail": …}`` with a 4xx status, never an HTML page."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

#: One body for "no such contract" and "not yours": a key cannot learn what exists elsewhere.
NOT_FOUND = "no such contract"


class ApiError(Exception):
    """A refusal with its HTTP status, a reason for the caller and optional headers."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def _clean_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors without their ``ctx``/``input`` (not always JSON, may echo secrets)."""
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]


def install(api: NinjaAPI) -> None:
    """Register the API's exception handlers."""

    def respond(request: HttpRequest, status: int, detail: Any) -> HttpResponse:
        response = api.create_response(request, {"detail": detail}, status=status)
        response["Cache-Control"] = "no-store"
        return response

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        response = respond(request, exc.status, exc.detail)
        for name, value in exc.headers.items():
            response[name] = value
        return response

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = respond(request, 401, "an API key is required")
        response["WWW-Authenticate"] = 'Bearer realm="keiin"'
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return respond(request, 422, _clean_errors(list(exc.errors)))

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return respond(request, 413, "the request is too large")

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        return respond(request, 400, "the request could not be read")
