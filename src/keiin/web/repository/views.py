"""Public repository pages (Japanese at ``/…``, English at ``/en/…``) and TSA downloads."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

from keiin.pki.serials import parse_serial, serial_to_hex
from keiin.web.ca.models import IssuedCertificate
from keiin.web.ca.views import certificate_response
from keiin.web.repository.notices import published_notices
from keiin.web.repository.overview import find_tsa_certificate, repository_overview
from keiin.web.repository.policyinfo import policy_facts

#: How many notices the index page previews.
INDEX_NOTICES = 3


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """``/``: the repository for now (the sign-in feature will take this over)."""
    return redirect("repository:index")


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """CA and TSA certificates, CRLs, OCSP responder, newest notices."""
    context = {
        "overview": repository_overview(),
        "notices": published_notices(get_language(), limit=INDEX_NOTICES),
    }
    return render(request, "repository/index.html", context)


@require_safe
def policy(request: HttpRequest) -> HttpResponse:
    """The certificate policy summary."""
    return render(request, "repository/policy.html", {"policy": policy_facts()})


@require_safe
def notices(request: HttpRequest) -> HttpResponse:
    """Every published notice, newest first."""
    return render(
        request, "repository/notices.html", {"notices": published_notices(get_language())}
    )


def _tsa_row(serial: str) -> IssuedCertificate:
    try:
        serial_hex = serial_to_hex(parse_serial(serial))
    except ValueError:
        raise Http404("not a serial number") from None
    row = find_tsa_certificate(serial_hex)
    if row is None:
        raise Http404("no such TSA certificate")
    return row


@require_safe
def tsa_certificate(request: HttpRequest, serial: str) -> HttpResponse:
    """A TSA certificate as DER, ``application/pkix-cert`` (RFC 2585)."""
    row = _tsa_row(serial)
    return certificate_response(
        bytes(row.certificate_der), f"tsa-{row.serial_hex}", pem=False, max_age=3600
    )


@require_safe
def tsa_certificate_pem(request: HttpRequest, serial: str) -> HttpResponse:
    """A TSA certificate as PEM text."""
    row = _tsa_row(serial)
    return certificate_response(
        bytes(row.certificate_der), f"tsa-{row.serial_hex}", pem=True, max_age=3600
    )
