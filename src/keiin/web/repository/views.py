"""Public repository pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def home(request: HttpRequest) -> HttpResponse:
    return redirect("repository:index")


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("repository")
