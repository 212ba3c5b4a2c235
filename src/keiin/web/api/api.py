"""The operator's REST API, version 1: ``/api/v1/`` (OpenAPI at ``/api/v1/openapi.json``,
interactive documentation at ``/api/v1/docs``). Mounted by :data:`urls` in ``keiin.web.urls``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import re_path
from ninja import NinjaAPI

from keiin.web.api import docs, endpoints, errors
from keiin.web.api.auth import ApiKeyAuth

DESCRIPTION = """\
Create, search, follow, download and cancel contracts from the operator's own systems.

Authenticate every call with an API key created in the console (*API keys*):
`Authorization: Bearer keiin_<prefix>_<secret>`. Session cookies are never accepted, so the
API needs no CSRF token. Errors are JSON `{"detail": …}` with a 4xx status. Changes to
contracts are announced to webhooks (see docs/api.md for their signatures).
"""

api = NinjaAPI(
    title="Keiin API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=ApiKeyAuth(),
    docs=docs.LocalSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_router("/", endpoints.router)


def not_found(request: HttpRequest, **_: Any) -> JsonResponse:
    """Any other path under ``/api/v1/``: JSON 404 (not the site's HTML page)."""
    response = JsonResponse({"detail": "no such endpoint"}, status=404)
    response["Cache-Control"] = "no-store"
    return response


def _urls() -> tuple[list[Any], str, str]:
    patterns, app_name, namespace = api.urls
    extra = [*docs.asset_urls(), re_path(r"^.*$", not_found, name="not-found")]
    return [*patterns, *extra], app_name, namespace


#: ``path("api/v1/", urls)``: the API's patterns, the documentation assets and a JSON 404.
urls = _urls()
