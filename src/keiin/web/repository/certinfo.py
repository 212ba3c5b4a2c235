"""What the repository shows about one certificate: names, serial, validity, fingerprints.

Plain functions over :class:`cryptography.x509.Certificate`; the labels are lazy
translations so a page shows them in its own language.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import SignatureAlgorithmOID
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from keiin.pki.keys import KeyAlgorithm, algorithm_of
from keiin.pki.serials import serial_to_hex

KEY_ALGORITHM_LABELS: dict[str, Promise | str] = {
    KeyAlgorithm.EC_P256.value: "ECDSA P-256",
    KeyAlgorithm.EC_P384.value: "ECDSA P-384",
    KeyAlgorithm.RSA_3072.value: _("RSA 3072-bit"),
    KeyAlgorithm.RSA_4096.value: _("RSA 4096-bit"),
}

SIGNATURE_ALGORITHM_LABELS: dict[x509.ObjectIdentifier, str] = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ECDSA / SHA-256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ECDSA / SHA-384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ECDSA / SHA-512",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "RSASSA-PKCS1-v1_5 / SHA-256",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "RSASSA-PKCS1-v1_5 / SHA-384",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "RSASSA-PKCS1-v1_5 / SHA-512",
}


class State(enum.StrEnum):
    """Where a certificate stands today."""

    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"

    @property
    def label(self) -> Promise:
        """The translated, human name of the state."""
        return _STATE_LABELS[self]


_STATE_LABELS: dict[State, Promise] = {
    State.VALID: _("Valid"),
    State.REVOKED: _("Revoked"),
    State.EXPIRED: _("Expired"),
    State.NOT_YET_VALID: _("Not yet valid"),
}


@dataclass(frozen=True)
class Status:
    """A certificate's state, with the revocation details when it is revoked."""

    state: State
    revoked_at: dt.datetime | None = None
    reason: str = ""

    @property
    def label(self) -> Promise:
        """The translated name of :attr:`state`."""
        return self.state.label


def status_of(
    not_before: dt.datetime,
    not_after: dt.datetime,
    now: dt.datetime,
    *,
    revoked_at: dt.datetime | None = None,
    reason: str = "",
) -> Status:
    """The state of a certificate at ``now``: revocation wins over expiry."""
    if revoked_at is not None:
        return Status(State.REVOKED, revoked_at, reason or "unspecified")
    if now >= not_after:
        return Status(State.EXPIRED)
    if now < not_before:
        return Status(State.NOT_YET_VALID)
    return Status(State.VALID)


def colon_hex(digest: bytes) -> str:
    """``AB:CD:…`` — the fingerprint form OpenSSL, Windows and Acrobat users compare."""
    return ":".join(f"{b:02X}" for b in digest)


@dataclass(frozen=True)
class CertificateFacts:
    """The published facts of one certificate."""

    subject: str
    issuer: str
    serial_hex: str
    not_before: dt.datetime
    not_after: dt.datetime
    sha256: str
    sha1: str
    key_algorithm: Promise | str
    signature_algorithm: str

    @property
    def sha256_plain(self) -> str:
        """The SHA-256 fingerprint as Keiin stores it (lower-case hex, no separators)."""
        return self.sha256.replace(":", "").lower()


def key_algorithm_label(certificate: x509.Certificate) -> Promise | str:
    """``ECDSA P-256``, ``RSA 3072-bit``, … for the certificate's public key."""
    try:
        algorithm = algorithm_of(certificate.public_key())
    except ValueError:
        return type(certificate.public_key()).__name__
    return KEY_ALGORITHM_LABELS.get(algorithm.value, algorithm.value)


def signature_algorithm_label(certificate: x509.Certificate) -> str:
    """The certificate's signature algorithm, e.g. ``ECDSA / SHA-256``."""
    oid = certificate.signature_algorithm_oid
    return SIGNATURE_ALGORITHM_LABELS.get(oid, oid.dotted_string)


def facts_of(certificate: x509.Certificate) -> CertificateFacts:
    """Everything the repository publishes about ``certificate``."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return CertificateFacts(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        serial_hex=serial_to_hex(certificate.serial_number),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        sha256=colon_hex(hashlib.sha256(der).digest()),
        sha1=colon_hex(hashlib.sha1(der, usedforsecurity=False).digest()),
        key_algorithm=key_algorithm_label(certificate),
        signature_algorithm=signature_algorithm_label(certificate),
    )
