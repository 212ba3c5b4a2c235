"""Time-stamping pages of the repository (ja/en) and the signed token revocation list.

The pages live under ``repository/tsa/`` with the other repository pages. The list itself is
machine-readable and has no language: ``/tsa/revocations.json`` and ``/tsa/revocations.tsr``
(routed in ``keiin.web.urls``); ``?number=N`` fetches an earlier list, so a client can get a
matching pair even when a new list is published between its two downloads.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from keiin.web.repository.tsainfo import (
    policy_page_facts,
    revocation_list_facts,
    revocation_rows,
    service_facts,
)
from keiin.web.timestamping import revocation_list
from keiin.web.timestamping.models import RevocationListSnapshot


@require_safe
def tsa(request: HttpRequest) -> HttpResponse:
    """The time-stamping service: TSA certificates, service URL, policies, clock status."""
    return render(request, "repository/tsa.html", {"service": service_facts()})


@require_safe
def tsa_policy(request: HttpRequest) -> HttpResponse:
    """The time-stamping policy (時刻認証ポリシー)."""
    return render(request, "repository/tsa_policy.html", {"policy": policy_page_facts()})


@require_safe
def tsa_revocations(request: HttpRequest) -> HttpResponse:
    """The token revocation list as a table."""
    context = {
        "revocations": revocation_rows(),
        "list": revocation_list_facts(),
    }
    return render(request, "repository/tsa_revocations.html", context)


def _snapshot(request: HttpRequest) -> RevocationListSnapshot | HttpResponse:
    """The list asked for: ``?number=N``, else the current one (published first if due)."""
    wanted = request.GET.get("number")
    if wanted is not None:
        if not wanted.isascii() or not wanted.isdigit() or len(wanted) > 18:
            raise Http404("not a list number")
        snapshot = revocation_list.by_number(int(wanted))
        if snapshot is None:
            raise Http404("no such revocation list")
        return snapshot
    snapshot = revocation_list.current()
    if snapshot is None:
        return HttpResponse(
            "No token revocation list: there is no time-stamping unit certificate yet.\n",
            content_type="text/plain; charset=utf-8",
            status=503,
        )
    return snapshot


def _download(
    request: HttpRequest, body: bytes, content_type: str, snapshot: RevocationListSnapshot
) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Last-Modified"] = http_date(snapshot.published_at.timestamp())
    response["X-Keiin-Revocation-List-Number"] = str(snapshot.number)
    if "number" in request.GET:  # a numbered list never changes
        response["Cache-Control"] = "public, max-age=86400"
    else:  # a revocation must show up quickly
        response["Cache-Control"] = "public, max-age=60"
    return response


@require_safe
def revocations_json(request: HttpRequest) -> HttpResponse:
    """The current token revocation list: the exact JSON bytes that were time-stamped."""
    snapshot = _snapshot(request)
    if isinstance(snapshot, HttpResponse):
        return snapshot
    return _download(request, bytes(snapshot.document), "application/json", snapshot)


@require_safe
def revocations_tsr(request: HttpRequest) -> HttpResponse:
    """The TimeStampResp over the SHA-256 of ``revocations.json`` (RFC 3161)."""
    snapshot = _snapshot(request)
    if isinstance(snapshot, HttpResponse):
        return snapshot
    response = _download(request, bytes(snapshot.response), "application/timestamp-reply", snapshot)
    response["Content-Disposition"] = f'attachment; filename="revocations-{snapshot.number}.tsr"'
    return response
