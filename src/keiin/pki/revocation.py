"""Revocation reasons (RFC 5280 §5.3.1) and CRL issuance (RFC 5280 §5)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509

from keiin.pki.keys import signature_hash
from keiin.pki.profiles import Issuer


class RevocationReason(enum.StrEnum):
    """CRLReason values a Keiin operator may give (``removeFromCRL`` is for deltas only)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    CERTIFICATE_HOLD = "certificateHold"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"
    AA_COMPROMISE = "aACompromise"

    @classmethod
    def parse(cls, text: str) -> RevocationReason:
        """Accept the RFC name in any case, with or without separators (``key-compromise``)."""
        wanted = text.replace("-", "").replace("_", "").lower()
        for reason in cls:
            if reason.value.lower() == wanted:
                return reason
        choices = ", ".join(r.value for r in cls)
        raise ValueError(f"unknown revocation reason {text!r}; choose one of {choices}")

    @property
    def code(self) -> int:
        """The CRLReason enumerated value (0-10, 7 unused)."""
        return _CODES[self]

    @property
    def flag(self) -> x509.ReasonFlags:
        """The matching :class:`cryptography.x509.ReasonFlags`."""
        return x509.ReasonFlags(self.value)


_CODES = {
    RevocationReason.UNSPECIFIED: 0,
    RevocationReason.KEY_COMPROMISE: 1,
    RevocationReason.CA_COMPROMISE: 2,
    RevocationReason.AFFILIATION_CHANGED: 3,
    RevocationReason.SUPERSEDED: 4,
    RevocationReason.CESSATION_OF_OPERATION: 5,
    RevocationReason.CERTIFICATE_HOLD: 6,
    RevocationReason.PRIVILEGE_WITHDRAWN: 9,
    RevocationReason.AA_COMPROMISE: 10,
}


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate as a CRL or OCSP response reports it."""

    serial: int
    revoked_at: dt.datetime
    reason: RevocationReason = RevocationReason.UNSPECIFIED
    invalidity_date: dt.datetime | None = None


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def build_crl(
    issuer: Issuer,
    number: int,
    entries: Iterable[RevokedEntry],
    *,
    this_update: dt.datetime,
    next_update: dt.datetime,
) -> x509.CertificateRevocationList:
    """A full CRL (no delta, no partitioning) with CRL number and AKI, signed by the CA.

    The reason code is omitted for ``unspecified``, as RFC 5280 §5.3.1 recommends.
    """
    if next_update <= this_update:
        raise ValueError("nextUpdate must be after thisUpdate")
    ski = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value),
            critical=False,
        )
    )
    for entry in sorted(entries, key=lambda e: e.serial):
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason is not RevocationReason.UNSPECIFIED:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason.flag), critical=False)
        if entry.invalidity_date is not None:
            revoked = revoked.add_extension(
                x509.InvalidityDate(_naive_utc(entry.invalidity_date)), critical=False
            )
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(issuer.key, signature_hash(issuer.key))
