"""Public, unauthenticated CA endpoints: certificates and CRLs (RFC 5280 §4.2.1.13, §4.2.2.1)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from keiin.web.ca import services
from keiin.web.ca.models import CertificateAuthority


def _ca(slug: str) -> CertificateAuthority:
    ca = CertificateAuthority.objects.filter(slug=slug).first()
    if ca is None:
        raise Http404("no such CA")
    return ca


def certificate_response(der: bytes, stem: str, *, pem: bool, max_age: int) -> HttpResponse:
    """A certificate download: DER as ``application/pkix-cert`` (RFC 2585) or PEM text."""
    if pem:
        body = services.certificate_of(der).public_bytes(serialization.Encoding.PEM)
        response = HttpResponse(body, content_type="application/x-pem-file")
    else:
        response = HttpResponse(der, content_type="application/pkix-cert")
    extension = "pem" if pem else "crt"
    response["Content-Disposition"] = f'attachment; filename="{stem}.{extension}"'
    response["Cache-Control"] = f"public, max-age={max_age}"
    return response


@require_safe
def ca_certificate(request: HttpRequest, slug: str) -> HttpResponse:
    """A CA certificate as DER (the AIA caIssuers URL points here)."""
    return certificate_response(bytes(_ca(slug).certificate_der), slug, pem=False, max_age=86400)


@require_safe
def ca_certificate_pem(request: HttpRequest, slug: str) -> HttpResponse:
    """A CA certificate as PEM text, for people and tools that want it."""
    return certificate_response(bytes(_ca(slug).certificate_der), slug, pem=True, max_age=86400)


@require_safe
def crl(request: HttpRequest, slug: str) -> HttpResponse:
    """The CA's current full CRL as DER, ``application/pkix-crl``; re-issued if due."""
    row = services.current_crl(_ca(slug))
    response = HttpResponse(bytes(row.der), content_type="application/pkix-crl")
    response["Content-Disposition"] = f'attachment; filename="{slug}.crl"'
    response["Last-Modified"] = http_date(row.this_update.timestamp())
    response["Expires"] = http_date(row.next_update.timestamp())
    # Caches may keep it briefly; a revocation must show up quickly.
    response["Cache-Control"] = "public, max-age=60"
    return response


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: the database answers and the hierarchy exists."""
    ready = services.get_root() is not None
    return JsonResponse(
        {"status": "ok" if ready else "not-initialised"}, status=200 if ready else 503
    )
