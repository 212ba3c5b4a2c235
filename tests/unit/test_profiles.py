"""keiin.pki.profiles: every RFC 5280 extension the foundation issue asks for."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
    SignatureAlgorithmOID,
)

from keiin.pki import profiles
from keiin.pki.keys import KeyAlgorithm, generate_private_key
from keiin.pki.profiles import (
    DEFAULT_POLICY_OID,
    DOCUMENT_SIGNING_OID,
    PublicUrls,
    SubjectInfo,
)
from tests.unit.pki_factory import URLS

BASE = "https://keiin.example.jp"
KU_FLAGS = (
    "digital_signature content_commitment key_encipherment data_encipherment "
    "key_agreement key_cert_sign crl_sign"
).split()


def ext(cert: x509.Certificate, cls):
    return cert.extensions.get_extension_for_class(cls)


def key_usage(cert: x509.Certificate) -> tuple[bool, set[str]]:
    e = ext(cert, x509.KeyUsage)
    return e.critical, {f for f in KU_FLAGS if getattr(e.value, f)}


def aia(cert: x509.Certificate) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in ext(cert, x509.AuthorityInformationAccess).value:
        out.setdefault(d.access_method.dotted_string, []).append(d.access_location.value)
    return out


def crl_urls(cert: x509.Certificate) -> list[str]:
    return [n.value for dp in ext(cert, x509.CRLDistributionPoints).value for n in dp.full_name]


def attr(cert: x509.Certificate, oid) -> list[str]:
    return [a.value for a in cert.subject.get_attributes_for_oid(oid)]


def assert_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    cert.verify_directly_issued_by(issuer)
    aki = ext(cert, x509.AuthorityKeyIdentifier)
    assert not aki.critical
    assert aki.value.key_identifier == ext(issuer, x509.SubjectKeyIdentifier).value.digest


def assert_ski(cert: x509.Certificate) -> None:
    ski = ext(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical
    expected = x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert ski.value.digest == expected.digest


def test_public_urls_strip_trailing_slash():
    urls = PublicUrls("https://keiin.example.jp///")
    assert urls.ocsp == f"{BASE}/ocsp"
    assert urls.ca_certificate("issuing-ca-1") == f"{BASE}/ca/issuing-ca-1.crt"
    assert urls.crl("root-ca-1") == f"{BASE}/crl/root-ca-1.crl"


# --------------------------------------------------------------------------- root


def test_root_ca(pki):
    root = pki.root.certificate
    assert root.version is x509.Version.v3
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)
    bc = ext(root, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    assert key_usage(root) == (True, {"key_cert_sign", "crl_sign"})
    assert_ski(root)
    with pytest.raises(x509.ExtensionNotFound):
        ext(root, x509.AuthorityKeyIdentifier)
    assert root.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert attr(root, NameOID.COMMON_NAME) == ["Example KK Root CA"]
    assert attr(root, NameOID.ORGANIZATION_NAME) == ["Example KK"]
    assert attr(root, NameOID.COUNTRY_NAME) == ["JP"]
    life = root.not_valid_after_utc - root.not_valid_before_utc
    assert life == dt.timedelta(days=365 * 20) + profiles.BACKDATE


# --------------------------------------------------------------------------- issuing CA


def test_issuing_ca(pki):
    issuing, root = pki.issuing.certificate, pki.root.certificate
    assert_issued_by(issuing, root)
    assert_ski(issuing)
    assert issuing.issuer == root.subject
    bc = ext(issuing, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    assert key_usage(issuing) == (True, {"key_cert_sign", "crl_sign"})
    assert aia(issuing) == {
        AuthorityInformationAccessOID.OCSP.dotted_string: [f"{BASE}/ocsp"],
        AuthorityInformationAccessOID.CA_ISSUERS.dotted_string: [f"{BASE}/ca/root-ca-1.crt"],
    }
    assert crl_urls(issuing) == [f"{BASE}/crl/root-ca-1.crl"]
    policies = ext(issuing, x509.CertificatePolicies)
    assert not policies.critical
    assert [p.policy_identifier.dotted_string for p in policies.value] == [DEFAULT_POLICY_OID]
    assert issuing.not_valid_after_utc <= root.not_valid_after_utc


# --------------------------------------------------------------------------- TSA


def test_tsa(pki):
    tsa = pki.tsa
    assert_issued_by(tsa, pki.root.certificate)
    eku = ext(tsa, x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    bc = ext(tsa, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    critical, flags = key_usage(tsa)
    assert critical and "digital_signature" in flags
    assert not flags & {"key_cert_sign", "crl_sign", "key_encipherment"}
    assert aia(tsa)[AuthorityInformationAccessOID.OCSP.dotted_string] == [f"{BASE}/ocsp"]
    assert crl_urls(tsa) == [f"{BASE}/crl/root-ca-1.crl"]


# --------------------------------------------------------------------------- OCSP responder


def test_ocsp_responder(pki):
    cert = pki.ocsp
    assert_issued_by(cert, pki.issuing.certificate)
    eku = ext(cert, x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    nocheck = cert.extensions.get_extension_for_oid(ExtensionOID.OCSP_NO_CHECK)
    assert isinstance(nocheck.value, x509.OCSPNoCheck)
    assert not nocheck.critical
    assert key_usage(cert) == (True, {"digital_signature"})
    assert not ext(cert, x509.BasicConstraints).value.ca
    # Its status is never checked, so it carries no OCSP URL of its own.
    assert aia(cert) == {
        AuthorityInformationAccessOID.CA_ISSUERS.dotted_string: [f"{BASE}/ca/issuing-ca-1.crt"]
    }
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert life == dt.timedelta(days=90) + profiles.BACKDATE


# --------------------------------------------------------------------------- signer


def test_signer(pki):
    cert, issuing = pki.signer, pki.issuing.certificate
    assert_issued_by(cert, issuing)
    assert_ski(cert)
    assert cert.issuer == issuing.subject
    assert key_usage(cert) == (True, {"digital_signature", "content_commitment"})
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    assert attr(cert, NameOID.COMMON_NAME) == ["山田 太郎"]
    assert attr(cert, NameOID.ORGANIZATION_NAME) == ["Example KK"]
    assert attr(cert, NameOID.COUNTRY_NAME) == ["JP"]
    san = ext(cert, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.RFC822Name) == ["taro.yamada@example.jp"]
    assert list(san.value) == [x509.RFC822Name("taro.yamada@example.jp")]
    assert aia(cert) == {
        AuthorityInformationAccessOID.OCSP.dotted_string: [f"{BASE}/ocsp"],
        AuthorityInformationAccessOID.CA_ISSUERS.dotted_string: [f"{BASE}/ca/issuing-ca-1.crt"],
    }
    assert crl_urls(cert) == [f"{BASE}/crl/issuing-ca-1.crl"]
    eku = ext(cert, x509.ExtendedKeyUsage)
    assert not eku.critical
    assert set(eku.value) == {DOCUMENT_SIGNING_OID, ExtendedKeyUsageOID.EMAIL_PROTECTION}
    assert [p.policy_identifier.dotted_string for p in ext(cert, x509.CertificatePolicies).value]
    assert cert.serial_number >= 1 << 64
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert life == dt.timedelta(days=365 * 2) + profiles.BACKDATE
    assert cert.not_valid_before_utc.microsecond == 0


def test_signer_with_organizational_unit_and_validity(pki):
    now = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    cert = profiles.build_signer(
        SubjectInfo("Seal", "Example KK", "Legal", country="jp", email="seal@example.jp"),
        pki.signer_key.public_key(),
        pki.issuing,
        URLS,
        validity=dt.timedelta(days=30),
        policy_oid="1.2.3.4",
        now=now,
    )
    names = [(a.oid, a.value) for a in cert.subject]
    assert names == [
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "Example KK"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Legal"),
        (NameOID.COMMON_NAME, "Seal"),
    ]
    assert cert.not_valid_before_utc == now - profiles.BACKDATE
    assert cert.not_valid_after_utc == now + dt.timedelta(days=30)
    policies = ext(cert, x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.3.4"]


def test_serials_are_unique(pki):
    serials = {
        profiles.build_signer(
            SubjectInfo("A", email="a@example.jp"), pki.signer_key.public_key(), pki.issuing, URLS
        ).serial_number
        for _ in range(50)
    }
    assert len(serials) == 50


def test_validity_is_clamped_to_the_issuer(pki):
    issuing = pki.issuing.certificate
    cert = profiles.build_signer(
        SubjectInfo("Long", email="long@example.jp"),
        pki.signer_key.public_key(),
        pki.issuing,
        URLS,
        validity=dt.timedelta(days=365 * 50),
    )
    assert cert.not_valid_after_utc == issuing.not_valid_after_utc
    # An issuing CA asking for more than the root has is clamped too.
    long_ca = profiles.build_issuing_ca(
        SubjectInfo("Long CA"),
        pki.signer_key.public_key(),
        pki.root,
        URLS,
        validity=dt.timedelta(days=365 * 40),
    )
    assert long_ca.not_valid_after_utc == pki.root.certificate.not_valid_after_utc


def test_not_before_is_clamped_to_the_issuer(pki):
    issuing = pki.issuing.certificate
    early = issuing.not_valid_before_utc  # BACKDATE would put notBefore before the CA's
    cert = profiles.build_signer(
        SubjectInfo("Early", email="early@example.jp"),
        pki.signer_key.public_key(),
        pki.issuing,
        URLS,
        now=early,
    )
    assert cert.not_valid_before_utc == early


def test_expired_issuer_cannot_issue(pki):
    after = pki.issuing.certificate.not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(ValueError, match="expired"):
        profiles.build_signer(
            SubjectInfo("Late", email="late@example.jp"),
            pki.signer_key.public_key(),
            pki.issuing,
            URLS,
            now=after,
        )


def test_signer_needs_an_email(pki):
    with pytest.raises(ValueError, match="e-mail"):
        profiles.build_signer(
            SubjectInfo("No Mail"), pki.signer_key.public_key(), pki.issuing, URLS
        )


@pytest.mark.parametrize(
    "subject",
    [
        SubjectInfo(""),
        SubjectInfo("x" * 65),
        SubjectInfo("ok", country="JPN"),
        SubjectInfo("ok", country="1A"),
        SubjectInfo("ok", organization="o" * 65),
    ],
)
def test_subject_validation(subject):
    with pytest.raises(ValueError):
        subject.name()


def test_subject_without_country():
    name = SubjectInfo("Only CN", country=None).name()
    assert [a.oid for a in name] == [NameOID.COMMON_NAME]


def test_p384_hierarchy_signs_with_sha384():
    key = generate_private_key(KeyAlgorithm.EC_P384)
    root = profiles.build_root_ca(SubjectInfo("P384 Root"), key)
    assert root.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA384
    assert isinstance(root.signature_hash_algorithm, hashes.SHA384)


# --------------------------------------------------------------------------- RSA-3072


def test_rsa_3072_hierarchy(rsa_pki):
    root, issuing = rsa_pki.root.certificate, rsa_pki.issuing.certificate
    for cert in (root, issuing):
        assert isinstance(cert.public_key(), rsa.RSAPublicKey)
        assert cert.public_key().key_size == 3072
    for cert in (root, issuing, rsa_pki.signer, rsa_pki.tsa, rsa_pki.ocsp):
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    root.verify_directly_issued_by(root)
    assert_issued_by(issuing, root)
    assert_issued_by(rsa_pki.signer, issuing)
    assert_issued_by(rsa_pki.ocsp, issuing)
    assert_issued_by(rsa_pki.tsa, root)
    assert isinstance(rsa_pki.signer.public_key(), ec.EllipticCurvePublicKey)
    assert key_usage(rsa_pki.signer) == (True, {"digital_signature", "content_commitment"})


# --------------------------------------------------------------------------- path validation


def test_chain_validates_with_pyhanko_certvalidator(pki):
    from asn1crypto import x509 as ax509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    def a(cert):
        return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    context = ValidationContext(
        trust_roots=[a(pki.root.certificate)],
        other_certs=[a(pki.issuing.certificate)],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    validator = CertificateValidator(a(pki.signer), validation_context=context)
    path = asyncio.run(validator.async_validate_usage({"digital_signature", "non_repudiation"}))
    assert path.pkix_len == 2  # issuing CA + signer below the trust anchor
    assert path.leaf.dump() == a(pki.signer).dump()
    tsa = CertificateValidator(a(pki.tsa), validation_context=context)
    asyncio.run(
        tsa.async_validate_usage({"digital_signature"}, extended_key_usage={"time_stamping"})
    )
