"""CA operations over the database: create the hierarchy, issue, revoke, publish CRLs.

Every operation that changes state runs in one transaction together with its audit event,
so a crash leaves either all of it or none of it. Private keys are written to the key store
*before* the transaction commits; a crash in between leaves an orphan encrypted key file and
nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from keiin.pki import ocsp, profiles
from keiin.pki.keys import PrivateKey, algorithm_of, generate_private_key
from keiin.pki.keystore import FileKeyStore
from keiin.pki.profiles import Issuer, Profile, SubjectInfo
from keiin.pki.revocation import RevocationReason, RevokedEntry, build_crl
from keiin.pki.serials import parse_serial, serial_to_hex
from keiin.web.audit.log import record
from keiin.web.ca.config import policy, public_urls
from keiin.web.ca.generation import Generation
from keiin.web.ca.models import CertificateAuthority, Crl, IssuedCertificate

log = logging.getLogger(__name__)

ROOT_SLUG = "root-ca-1"
ISSUING_SLUG = "issuing-ca-1"


class CaError(Exception):
    """An operation the CA refuses, with a message meant for the operator."""


# --------------------------------------------------------------------------- process state


@cache
def keystore() -> FileKeyStore:
    """This process's key store (master key read once)."""
    home = settings.HOME
    return FileKeyStore(home.keys, home.master_key())


@cache
def revocation_generation() -> Generation:
    """The cross-process "revocation state changed" counter of this home."""
    return Generation(settings.HOME.run / "revocation.generation")


_key_cache: dict[str, PrivateKey] = {}


def private_key(key_ref: str) -> PrivateKey:
    """Load (once per process) a key Keiin holds."""
    key = _key_cache.get(key_ref)
    if key is None:
        key = _key_cache[key_ref] = keystore().get(key_ref)
    return key


def certificate_of(der: bytes | memoryview) -> x509.Certificate:
    """Parse a stored DER certificate."""
    return _parse_cert(bytes(der))


@cache
def _parse_cert(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def issuer_of(ca: CertificateAuthority) -> Issuer:
    """The signing handle of a CA."""
    return Issuer(certificate_of(ca.certificate_der), private_key(ca.key_ref), ca.slug)


# --------------------------------------------------------------------------- helpers


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _email(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ""
    emails = san.value.get_values_for_type(x509.RFC822Name)
    return emails[0] if emails else ""


def _save_issued(
    ca: CertificateAuthority, cert: x509.Certificate, profile: Profile, key_ref: str = ""
) -> IssuedCertificate:
    return IssuedCertificate.objects.create(
        issuer=ca,
        serial_hex=serial_to_hex(cert.serial_number),
        profile=profile.value,
        subject=cert.subject.rfc4514_string(),
        common_name=_attr(cert.subject, NameOID.COMMON_NAME),
        organization=_attr(cert.subject, NameOID.ORGANIZATION_NAME),
        email=_email(cert),
        certificate_der=cert.public_bytes(serialization.Encoding.DER),
        fingerprint_sha256=_fingerprint(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_ref=key_ref,
    )


def _save_ca(
    slug: str,
    kind: CertificateAuthority.Kind,
    cert: x509.Certificate,
    key_ref: str,
    parent: CertificateAuthority | None,
) -> CertificateAuthority:
    return CertificateAuthority.objects.create(
        slug=slug,
        kind=kind,
        parent=parent,
        name=_attr(cert.subject, NameOID.COMMON_NAME),
        certificate_der=cert.public_bytes(serialization.Encoding.DER),
        key_ref=key_ref,
        key_algorithm=algorithm_of(cert.public_key()).value,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=_fingerprint(cert),
    )


# --------------------------------------------------------------------------- hierarchy


@dataclass(frozen=True)
class Hierarchy:
    """The CAs and service certificates ``keiin init`` creates."""

    root: CertificateAuthority
    issuing: CertificateAuthority
    tsa: IssuedCertificate
    created: bool


def get_root() -> CertificateAuthority | None:
    """The root CA, if the hierarchy exists."""
    return CertificateAuthority.objects.filter(kind=CertificateAuthority.Kind.ROOT).first()


def active_issuing_ca() -> CertificateAuthority:
    """The issuing CA that signs new end-entity certificates."""
    ca = (
        CertificateAuthority.objects.filter(kind=CertificateAuthority.Kind.ISSUING, active=True)
        .order_by("-id")
        .first()
    )
    if ca is None:
        raise CaError("no active issuing CA: run `keiin init` first")
    return ca


def current_tsa_certificate() -> IssuedCertificate | None:
    """The newest valid TSA certificate."""
    return (
        IssuedCertificate.objects.filter(
            profile=Profile.TSA, status=IssuedCertificate.Status.VALID, key_ref__gt=""
        )
        .order_by("-id")
        .first()
    )


def ensure_hierarchy(organization: str, *, actor: str) -> Hierarchy:
    """Create root, issuing CA, TSA and OCSP responder certificates unless they exist.

    Idempotent: a second call returns what exists and never touches keys.
    """
    with transaction.atomic():
        root = get_root()
        if root is not None:
            return Hierarchy(root, active_issuing_ca(), current_tsa_certificate(), False)  # type: ignore[arg-type]
        pol = policy()
        urls = public_urls()
        store = keystore()

        root_key = generate_private_key(pol.key_algorithm)
        root_cert = profiles.build_root_ca(
            SubjectInfo(f"{organization} Root CA", organization),
            root_key,
            validity=pol.root_validity,
            policy_oid=pol.policy_oid,
        )
        root = _save_ca(
            ROOT_SLUG, CertificateAuthority.Kind.ROOT, root_cert, store.put(root_key), None
        )
        record("ca.root.created", actor=actor, target=root.slug, data=_cert_data(root_cert))
        root_issuer = issuer_of(root)

        issuing_key = generate_private_key(pol.key_algorithm)
        issuing_cert = profiles.build_issuing_ca(
            SubjectInfo(f"{organization} Issuing CA", organization),
            issuing_key.public_key(),
            root_issuer,
            urls,
            validity=pol.issuing_validity,
            policy_oid=pol.policy_oid,
        )
        issuing = _save_ca(
            ISSUING_SLUG,
            CertificateAuthority.Kind.ISSUING,
            issuing_cert,
            store.put(issuing_key),
            root,
        )
        _save_issued(root, issuing_cert, Profile.ISSUING_CA)
        record(
            "ca.issuing.created", actor=actor, target=issuing.slug, data=_cert_data(issuing_cert)
        )

        tsa_key = generate_private_key(pol.key_algorithm)
        tsa_cert = profiles.build_tsa(
            SubjectInfo(f"{organization} Time-Stamping Unit 1", organization),
            tsa_key.public_key(),
            root_issuer,
            urls,
            validity=pol.tsa_validity,
            policy_oid=pol.policy_oid,
        )
        tsa = _save_issued(root, tsa_cert, Profile.TSA, store.put(tsa_key))
        record("ca.tsa.issued", actor=actor, target=tsa.serial_hex, data=_cert_data(tsa_cert))

        for ca in (root, issuing):
            _issue_ocsp_responder(ca, actor=actor)
            publish_crl(ca, actor=actor)
        return Hierarchy(root, issuing, tsa, True)


def _cert_data(cert: x509.Certificate) -> dict[str, str]:
    return {
        "serial": serial_to_hex(cert.serial_number),
        "subject": cert.subject.rfc4514_string(),
        "sha256": _fingerprint(cert),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def _issue_ocsp_responder(
    ca: CertificateAuthority, *, actor: str, now: dt.datetime | None = None
) -> IssuedCertificate:
    pol = policy()
    key = generate_private_key(pol.key_algorithm)
    organization = _attr(certificate_of(ca.certificate_der).subject, NameOID.ORGANIZATION_NAME)
    cert = profiles.build_ocsp_responder(
        SubjectInfo(f"{ca.name} OCSP Responder", organization or None),
        key.public_key(),
        issuer_of(ca),
        public_urls(),
        validity=pol.ocsp_responder_validity,
        now=now,
    )
    issued = _save_issued(ca, cert, Profile.OCSP, keystore().put(key))
    record("ca.ocsp_responder.issued", actor=actor, target=issued.serial_hex, data=_cert_data(cert))
    return issued


def renew_ocsp_responders(*, actor: str, now: dt.datetime | None = None) -> list[IssuedCertificate]:
    """Issue a new responder certificate for every CA whose current one expires soon."""
    now = now or timezone.now()
    horizon = now + policy().ocsp_responder_renew_before
    renewed = []
    for ca in CertificateAuthority.objects.all():
        if certificate_of(ca.certificate_der).not_valid_after_utc <= now:
            continue
        with transaction.atomic():
            locked = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
            if current_ocsp_responder(locked, horizon) is None:
                renewed.append(_issue_ocsp_responder(locked, actor=actor, now=now))
    return renewed


def current_ocsp_responder(
    ca: CertificateAuthority, valid_until: dt.datetime | None = None
) -> IssuedCertificate | None:
    """The newest valid responder certificate of ``ca`` still valid at ``valid_until``."""
    return (
        IssuedCertificate.objects.filter(
            issuer=ca,
            profile=Profile.OCSP,
            status=IssuedCertificate.Status.VALID,
            not_after__gt=valid_until or timezone.now(),
        )
        .exclude(key_ref="")
        .order_by("-not_after", "-id")
        .first()
    )


# --------------------------------------------------------------------------- issuance


def issue_signer(
    subject: SubjectInfo,
    public_key: CertificatePublicKeyTypes,
    *,
    actor: str,
    profile: Profile = Profile.SIGNER,
    validity: dt.timedelta | None = None,
) -> IssuedCertificate:
    """Issue a signer (or seal) certificate from the active issuing CA."""
    if profile not in (Profile.SIGNER, Profile.SEAL):
        raise CaError(f"issue_signer cannot issue {profile} certificates")
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=active_issuing_ca().pk)
        cert = profiles.build_signer(
            subject,
            public_key,
            issuer_of(ca),
            public_urls(),
            validity=validity or policy().signer_validity,
            policy_oid=policy().policy_oid,
        )
        issued = _save_issued(ca, cert, profile)
        record(
            f"ca.{profile.value}.issued",
            actor=actor,
            target=issued.serial_hex,
            data=_cert_data(cert),
        )
        return issued


# --------------------------------------------------------------------------- revocation


def find_certificate(serial_text: str, issuer_slug: str | None = None) -> IssuedCertificate:
    """Find an issued certificate by serial (hex), optionally within one CA."""
    try:
        serial_hex = serial_to_hex(parse_serial(serial_text))
    except ValueError as exc:
        raise CaError(str(exc)) from None
    matches = IssuedCertificate.objects.filter(serial_hex=serial_hex)
    if issuer_slug:
        matches = matches.filter(issuer__slug=issuer_slug)
    found = list(matches.select_related("issuer")[:2])
    if not found:
        raise CaError(f"no certificate with serial {serial_hex}")
    if len(found) > 1:
        raise CaError(f"serial {serial_hex} exists under several CAs; name one with --issuer")
    return found[0]


def revoke(
    certificate: IssuedCertificate,
    reason: RevocationReason,
    *,
    actor: str,
    invalidity_date: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> IssuedCertificate:
    """Revoke a certificate, publish a new CRL and invalidate every worker's OCSP cache.

    A service key Keiin holds (OCSP responder, TSA) is destroyed after the commit; a revoked
    OCSP responder is replaced at once so that OCSP keeps answering.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    if invalidity_date is not None and invalidity_date > now:
        raise CaError("the invalidity date cannot be in the future")
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=certificate.issuer_id)
        cert = IssuedCertificate.objects.select_for_update().get(pk=certificate.pk)
        if cert.status == IssuedCertificate.Status.REVOKED:
            raise CaError(f"certificate {cert.serial_hex} is already revoked")
        cert.status = IssuedCertificate.Status.REVOKED
        cert.revoked_at = now
        cert.revocation_reason = reason.value
        cert.invalidity_date = invalidity_date
        cert.save(update_fields=["status", "revoked_at", "revocation_reason", "invalidity_date"])
        record(
            "ca.certificate.revoked",
            actor=actor,
            target=cert.serial_hex,
            data={
                "issuer": ca.slug,
                "profile": cert.profile,
                "reason": reason.value,
                "invalidity_date": invalidity_date.isoformat() if invalidity_date else None,
            },
        )
        if cert.profile == Profile.ISSUING_CA:
            CertificateAuthority.objects.filter(fingerprint_sha256=cert.fingerprint_sha256).update(
                active=False
            )
        publish_crl(ca, actor=actor, now=now)
        if cert.profile == Profile.OCSP and current_ocsp_responder(ca) is None:
            _issue_ocsp_responder(ca, actor=actor)
        key_ref = cert.key_ref
        transaction.on_commit(revocation_generation().bump)
        if key_ref:
            transaction.on_commit(lambda: _destroy_key(key_ref))
    return cert


def _destroy_key(key_ref: str) -> None:
    _key_cache.pop(key_ref, None)
    keystore().destroy(key_ref)


def revoked_entry(cert: IssuedCertificate) -> RevokedEntry:
    """The CRL/OCSP view of a revoked certificate."""
    assert cert.revoked_at is not None
    return RevokedEntry(
        serial=int(cert.serial_hex, 16),
        revoked_at=cert.revoked_at,
        reason=RevocationReason(cert.revocation_reason or RevocationReason.UNSPECIFIED),
        invalidity_date=cert.invalidity_date,
    )


# --------------------------------------------------------------------------- CRLs


def publish_crl(ca: CertificateAuthority, *, actor: str, now: dt.datetime | None = None) -> Crl:
    """Issue the next numbered full CRL of ``ca`` (must run inside a transaction)."""
    now = (now or timezone.now()).replace(microsecond=0)
    with transaction.atomic():
        locked = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        number = locked.crl_number + 1
        revoked = IssuedCertificate.objects.filter(
            issuer=locked, status=IssuedCertificate.Status.REVOKED
        )
        entries = [revoked_entry(c) for c in revoked]
        is_root = locked.kind == CertificateAuthority.Kind.ROOT
        next_update = now + policy().crl_validity(is_root)
        crl = build_crl(
            issuer_of(locked), number, entries, this_update=now, next_update=next_update
        )
        locked.crl_number = number
        locked.save(update_fields=["crl_number"])
        row = Crl.objects.create(
            ca=locked,
            number=number,
            this_update=now,
            next_update=next_update,
            der=crl.public_bytes(serialization.Encoding.DER),
            entries=len(entries),
        )
        record(
            "ca.crl.published",
            actor=actor,
            target=locked.slug,
            data={
                "number": number,
                "entries": len(entries),
                "next_update": next_update.isoformat(),
            },
        )
        return row


def _is_stale(crl: Crl | None, ca: CertificateAuthority, now: dt.datetime) -> bool:
    if crl is None:
        return True
    return now - crl.this_update >= policy().crl_refresh_age(
        ca.kind == CertificateAuthority.Kind.ROOT
    )


def current_crl(ca: CertificateAuthority, *, now: dt.datetime | None = None) -> Crl:
    """The newest CRL of ``ca``, re-issued first if it is due (so it is never served stale)."""
    now = now or timezone.now()
    crl = Crl.objects.filter(ca=ca).order_by("-number").first()
    if not _is_stale(crl, ca, now):
        return crl  # type: ignore[return-value]
    with transaction.atomic():
        CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        crl = Crl.objects.filter(ca=ca).order_by("-number").first()
        if _is_stale(crl, ca, now):  # another worker may have just done it
            crl = publish_crl(ca, actor="system", now=now)
        return crl  # type: ignore[return-value]


def refresh_crls(*, now: dt.datetime | None = None) -> list[Crl]:
    """Re-issue every CRL that is due; returns the new ones (the maintenance job calls this)."""
    now = now or timezone.now()
    fresh = []
    for ca in CertificateAuthority.objects.all():
        before = (
            Crl.objects.filter(ca=ca).order_by("-number").values_list("number", flat=True).first()
        )
        crl = current_crl(ca, now=now)
        if crl.number != before:
            fresh.append(crl)
    return fresh


# --------------------------------------------------------------------------- OCSP support


def ocsp_authorities() -> list[ocsp.OcspAuthority]:
    """Every CA the OCSP responder answers for."""
    return [
        ocsp.OcspAuthority.from_certificate(ca.pk, certificate_of(ca.certificate_der))
        for ca in CertificateAuthority.objects.all()
    ]


def ocsp_signer(ca_id: int) -> tuple[ocsp.ResponderSigner, dt.datetime] | None:
    """The delegated responder of a CA and the time its certificate expires."""
    ca = CertificateAuthority.objects.get(pk=ca_id)
    responder = current_ocsp_responder(ca)
    if responder is None:
        return None
    cert = certificate_of(responder.certificate_der)
    return ocsp.ResponderSigner(cert, private_key(responder.key_ref)), cert.not_valid_after_utc


def certificate_statuses(ca_id: int, serials: list[int]) -> dict[int, ocsp.CertStatus]:
    """OCSP status of each serial under one CA: good (None), revoked or unknown."""
    rows = IssuedCertificate.objects.filter(
        issuer_id=ca_id, serial_hex__in=[serial_to_hex(s) for s in serials]
    )
    by_serial = {int(r.serial_hex, 16): r for r in rows}
    result: dict[int, ocsp.CertStatus] = {}
    for serial in serials:
        row = by_serial.get(serial)
        if row is None:
            result[serial] = ocsp.UNKNOWN
        elif row.status == IssuedCertificate.Status.REVOKED:
            result[serial] = revoked_entry(row)
        else:
            result[serial] = None
    return result


def run_maintenance(*, actor: str = "system") -> dict[str, int]:
    """Periodic upkeep: re-issue due CRLs, renew expiring OCSP responder certificates."""
    crls = refresh_crls()
    responders = renew_ocsp_responders(actor=actor)
    if responders:
        revocation_generation().bump()  # workers pick up the new responder certificate
    return {"crls": len(crls), "ocsp_responders": len(responders)}
