"""The repository index: every CA, its newest CRL, its OCSP responder, and the TSA certificates.

Read-only. Nothing here signs or publishes: a page view shows the newest stored CRL row and
never re-issues one (that happens on the CRL download itself and in the maintenance job).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography.x509.oid import NameOID
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise

from keiin.pki.profiles import Profile
from keiin.web.ca import services
from keiin.web.ca.config import public_urls
from keiin.web.ca.models import CertificateAuthority, Crl, IssuedCertificate
from keiin.web.repository.certinfo import CertificateFacts, Status, facts_of, status_of


@dataclass(frozen=True)
class CrlFacts:
    """The newest published CRL of a CA."""

    number: int
    this_update: dt.datetime
    next_update: dt.datetime
    entries: int


@dataclass(frozen=True)
class ResponderFacts:
    """The delegated OCSP responder certificate currently answering for a CA."""

    common_name: str
    serial_hex: str
    not_after: dt.datetime
    sha256: str


@dataclass(frozen=True)
class CaEntry:
    """One CA as the repository shows it."""

    slug: str
    name: str
    kind: str
    kind_label: Promise | str
    issuer_name: str
    facts: CertificateFacts
    status: Status
    der_url: str
    pem_url: str
    crl_url: str
    crl_public_url: str
    certificate_public_url: str
    crl: CrlFacts | None
    ocsp_responder: ResponderFacts | None


@dataclass(frozen=True)
class TsaEntry:
    """One time-stamping unit certificate (the current one or an older one)."""

    common_name: str
    issuer_name: str
    facts: CertificateFacts
    status: Status
    current: bool
    der_url: str
    pem_url: str


@dataclass(frozen=True)
class Overview:
    """Everything on the repository index page."""

    organization: str
    ocsp_url: str
    authorities: list[CaEntry]
    tsa_current: list[TsaEntry]
    tsa_history: list[TsaEntry]

    @property
    def root(self) -> CaEntry | None:
        """The root CA entry (the trust anchor relying parties install)."""
        return next((a for a in self.authorities if a.kind == CertificateAuthority.Kind.ROOT), None)


def _organization(ca: CertificateAuthority) -> str:
    cert = services.certificate_of(ca.certificate_der)
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else ""


def _newest_crl(ca: CertificateAuthority) -> CrlFacts | None:
    row = (
        Crl.objects.filter(ca=ca)
        .order_by("-number")
        .values("number", "this_update", "next_update", "entries")
        .first()
    )
    return CrlFacts(**row) if row else None


def _responder(ca: CertificateAuthority, now: dt.datetime) -> ResponderFacts | None:
    row = services.current_ocsp_responder(ca, now)
    if row is None:
        return None
    return ResponderFacts(row.common_name, row.serial_hex, row.not_after, row.fingerprint_sha256)


def _ca_entry(
    ca: CertificateAuthority, revoked: dict[str, IssuedCertificate], now: dt.datetime
) -> CaEntry:
    urls = public_urls()
    facts = facts_of(services.certificate_of(ca.certificate_der))
    revocation = revoked.get(ca.fingerprint_sha256)
    return CaEntry(
        slug=ca.slug,
        name=ca.name,
        kind=ca.kind,
        kind_label=CertificateAuthority.Kind(ca.kind).label,
        issuer_name=ca.parent.name if ca.parent_id and ca.parent else ca.name,
        facts=facts,
        status=status_of(
            ca.not_before,
            ca.not_after,
            now,
            revoked_at=revocation.revoked_at if revocation else None,
            reason=revocation.revocation_reason if revocation else "",
        ),
        der_url=reverse("ca-certificate", args=[ca.slug]),
        pem_url=reverse("ca-certificate-pem", args=[ca.slug]),
        crl_url=reverse("crl", args=[ca.slug]),
        crl_public_url=urls.crl(ca.slug),
        certificate_public_url=urls.ca_certificate(ca.slug),
        crl=_newest_crl(ca),
        ocsp_responder=_responder(ca, now),
    )


def _tsa_entry(row: IssuedCertificate, current_id: int | None, now: dt.datetime) -> TsaEntry:
    facts = facts_of(services.certificate_of(row.certificate_der))
    return TsaEntry(
        common_name=row.common_name,
        issuer_name=row.issuer.name,
        facts=facts,
        status=status_of(
            row.not_before,
            row.not_after,
            now,
            revoked_at=row.revoked_at if row.status == IssuedCertificate.Status.REVOKED else None,
            reason=row.revocation_reason,
        ),
        current=row.pk == current_id,
        der_url=reverse("repository:tsa-certificate", args=[row.serial_hex]),
        pem_url=reverse("repository:tsa-certificate-pem", args=[row.serial_hex]),
    )


def tsa_certificates(now: dt.datetime | None = None) -> list[TsaEntry]:
    """Every TSA certificate ever issued, newest first; the one in use is marked current."""
    now = now or timezone.now()
    current = services.current_tsa_certificate()
    rows = (
        IssuedCertificate.objects.filter(profile=Profile.TSA)
        .select_related("issuer")
        .order_by("-not_before", "-id")
    )
    return [_tsa_entry(row, current.pk if current else None, now) for row in rows]


def repository_overview(now: dt.datetime | None = None) -> Overview:
    """Collect the index page: root first, then issuing CAs (newest first), then TSA units."""
    now = now or timezone.now()
    cas = list(CertificateAuthority.objects.select_related("parent").order_by("id"))
    cas.sort(key=lambda ca: (ca.kind != CertificateAuthority.Kind.ROOT, -ca.pk))
    revoked = {
        row.fingerprint_sha256: row
        for row in IssuedCertificate.objects.filter(
            fingerprint_sha256__in=[ca.fingerprint_sha256 for ca in cas],
            status=IssuedCertificate.Status.REVOKED,
        )
    }
    tsa = tsa_certificates(now)
    root = next((ca for ca in cas if ca.kind == CertificateAuthority.Kind.ROOT), None)
    return Overview(
        organization=_organization(root) if root else "",
        ocsp_url=public_urls().ocsp,
        authorities=[_ca_entry(ca, revoked, now) for ca in cas],
        tsa_current=[t for t in tsa if t.current],
        tsa_history=[t for t in tsa if not t.current],
    )


def find_tsa_certificate(serial_hex: str) -> IssuedCertificate | None:
    """The TSA certificate with this serial (canonical lower-case hex), if there is one."""
    return (
        IssuedCertificate.objects.filter(profile=Profile.TSA, serial_hex=serial_hex)
        .order_by("-id")
        .first()
    )
