"""keiin.pki.revocation: reasons and CRL issuance."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keiin.pki.revocation import RevocationReason, RevokedEntry, build_crl

NOW = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)


def load(crl: x509.CertificateRevocationList) -> x509.CertificateRevocationList:
    """Round-trip through DER, as a relying party sees it."""
    return x509.load_der_x509_crl(crl.public_bytes(serialization.Encoding.DER))


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("keyCompromise", RevocationReason.KEY_COMPROMISE),
        ("KEYCOMPROMISE", RevocationReason.KEY_COMPROMISE),
        ("key-compromise", RevocationReason.KEY_COMPROMISE),
        ("key_compromise", RevocationReason.KEY_COMPROMISE),
        ("cACompromise", RevocationReason.CA_COMPROMISE),
        ("ca-compromise", RevocationReason.CA_COMPROMISE),
        ("unspecified", RevocationReason.UNSPECIFIED),
        ("Superseded", RevocationReason.SUPERSEDED),
        ("cessation_of_operation", RevocationReason.CESSATION_OF_OPERATION),
        ("privilegeWithdrawn", RevocationReason.PRIVILEGE_WITHDRAWN),
        ("aa-compromise", RevocationReason.AA_COMPROMISE),
        ("certificate-hold", RevocationReason.CERTIFICATE_HOLD),
        ("affiliationChanged", RevocationReason.AFFILIATION_CHANGED),
    ],
)
def test_reason_parse(text, reason):
    assert RevocationReason.parse(text) is reason


@pytest.mark.parametrize("text", ["", "compromise", "removeFromCRL", "7", "key compromise"])
def test_reason_parse_rejects(text):
    with pytest.raises(ValueError, match="unknown revocation reason") as info:
        RevocationReason.parse(text)
    assert "keyCompromise" in str(info.value)


def test_reason_codes_match_rfc5280():
    codes = {r.value: r.code for r in RevocationReason}
    assert codes == {
        "unspecified": 0,
        "keyCompromise": 1,
        "cACompromise": 2,
        "affiliationChanged": 3,
        "superseded": 4,
        "cessationOfOperation": 5,
        "certificateHold": 6,
        "privilegeWithdrawn": 9,
        "aACompromise": 10,
    }
    for reason in RevocationReason:
        assert reason.flag.value == reason.value


# --------------------------------------------------------------------------- CRLs


def test_crl_contents(pki):
    invalid = NOW - dt.timedelta(days=3, microseconds=5)
    entries = [
        RevokedEntry(0x5000, NOW - dt.timedelta(hours=1), RevocationReason.KEY_COMPROMISE, invalid),
        RevokedEntry(0x10, NOW - dt.timedelta(hours=2)),  # unspecified
        RevokedEntry(0x3000, NOW - dt.timedelta(hours=3), RevocationReason.SUPERSEDED),
    ]
    crl = load(
        build_crl(
            pki.issuing, 7, entries, this_update=NOW, next_update=NOW + dt.timedelta(hours=96)
        )
    )
    assert crl.is_signature_valid(pki.issuing.certificate.public_key())
    assert not crl.is_signature_valid(pki.root.certificate.public_key())
    assert crl.issuer == pki.issuing.certificate.subject
    assert crl.last_update_utc == NOW
    assert crl.next_update_utc == NOW + dt.timedelta(hours=96)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = pki.issuing.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ski.value.digest
    assert [r.serial_number for r in crl] == [0x10, 0x3000, 0x5000]  # sorted

    compromised = crl.get_revoked_certificate_by_serial_number(0x5000)
    assert compromised.revocation_date_utc == NOW - dt.timedelta(hours=1)
    reason = compromised.extensions.get_extension_for_class(x509.CRLReason)
    assert reason.value.reason is x509.ReasonFlags.key_compromise
    inv = compromised.extensions.get_extension_for_class(x509.InvalidityDate).value
    assert inv.invalidity_date_utc == invalid.replace(microsecond=0)

    unspecified = crl.get_revoked_certificate_by_serial_number(0x10)
    assert len(unspecified.extensions) == 0  # no reason code for unspecified (RFC 5280 §5.3.1)

    superseded = crl.get_revoked_certificate_by_serial_number(0x3000)
    reason = superseded.extensions.get_extension_for_class(x509.CRLReason)
    assert reason.value.reason is x509.ReasonFlags.superseded
    with pytest.raises(x509.ExtensionNotFound):
        superseded.extensions.get_extension_for_class(x509.InvalidityDate)
    assert crl.get_revoked_certificate_by_serial_number(0x11) is None


@pytest.mark.parametrize("reason", [r for r in RevocationReason if r.value != "unspecified"])
def test_every_reason_is_encoded(pki, reason):
    crl = load(
        build_crl(
            pki.issuing,
            1,
            [RevokedEntry(42, NOW, reason)],
            this_update=NOW,
            next_update=NOW + dt.timedelta(days=1),
        )
    )
    entry = crl.get_revoked_certificate_by_serial_number(42)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is reason.flag


def test_empty_crl_from_the_root(pki):
    crl = load(build_crl(pki.root, 1, [], this_update=NOW, next_update=NOW + dt.timedelta(days=30)))
    assert len(crl) == 0
    assert crl.is_signature_valid(pki.root.certificate.public_key())
    assert crl.issuer == pki.root.certificate.subject


def test_rsa_crl_verifies(rsa_pki):
    crl = load(
        build_crl(
            rsa_pki.issuing,
            3,
            [RevokedEntry(99, NOW)],
            this_update=NOW,
            next_update=NOW + dt.timedelta(days=1),
        )
    )
    assert crl.is_signature_valid(rsa_pki.issuing.certificate.public_key())


@pytest.mark.parametrize("delta", [dt.timedelta(0), dt.timedelta(seconds=-1)])
def test_next_update_must_follow_this_update(pki, delta):
    with pytest.raises(ValueError, match="nextUpdate"):
        build_crl(pki.issuing, 1, [], this_update=NOW, next_update=NOW + delta)
