"""The interactive API documentation at ``/api/v1/docs``, with no asset from a CDN.

Ninja's Swagger page loads its scripts from a CDN unless ``ninja`` is an installed app with its
static files served; Keiin serves neither. So the page is Keiin's own template and the three
Swagger UI files ninja ships are served from the installed package by :func:`asset`, under
``/api/v1/docs/``. A Content-Security-Policy keeps the page to its own origin.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import ninja
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET
from ninja.openapi.docs import DocsBase

_STATIC = Path(ninja.__file__).resolve().parent / "static" / "ninja"
#: File name → content type; nothing else is served.
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-init.js": "text/javascript; charset=utf-8",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class LocalSwagger(DocsBase):
    """Swagger UI from Keiin's own URLs (``validatorUrl`` off: no call to swagger.io)."""

    def render_page(self, request: HttpRequest, api: Any, **kwargs: Any) -> HttpResponse:
        settings = {
            "url": self.get_openapi_url(api, kwargs),
            "layout": "BaseLayout",
            "deepLinking": True,
            "validatorUrl": None,
        }
        context = {"api": api, "swagger_settings": settings}
        response = render(request, "api/docs.html", context)
        response["Content-Security-Policy"] = _CSP
        return response


@lru_cache(maxsize=len(ASSETS))
def _read(name: str) -> bytes:
    return (_STATIC / name).read_bytes()


@require_GET
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """One of :data:`ASSETS` from the installed ninja package (read once per process)."""
    if name not in ASSETS:
        raise Http404
    response = HttpResponse(_read(name), content_type=ASSETS[name])
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def asset_urls() -> list[Any]:
    """One URL per asset (fixed paths, no parameter), named ``docs-<file>``."""
    return [path(f"docs/{name}", asset, {"name": name}, name=f"docs-{name}") for name in ASSETS]
