"""RFC 5280 certificate profiles for every certificate Keiin's CA issues.

One builder per profile. Each takes plain data (names, keys, URLs, validity) and returns a
signed :class:`cryptography.x509.Certificate`. The issuer's certificate bounds the validity:
no certificate outlives the CA that issued it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from keiin.pki.keys import PrivateKey, signature_hash
from keiin.pki.serials import random_serial

#: Keiin's certificate policy. An OID under the UUID arc 2.25 (ITU-T X.667) needs no
#: registration; an operator with its own arc can configure another one.
DEFAULT_POLICY_OID = "2.25.238439118829383962738426658434598207742"

#: RFC 9336 id-kp-documentSigning.
DOCUMENT_SIGNING_OID = ObjectIdentifier("1.3.6.1.5.5.7.3.36")

#: How far ``notBefore`` is set back to tolerate relying parties whose clocks run late.
BACKDATE = dt.timedelta(minutes=1)


class Profile(enum.StrEnum):
    """What a certificate is for; stored beside every issued certificate."""

    ROOT_CA = "root-ca"
    ISSUING_CA = "issuing-ca"
    TSA = "tsa"
    OCSP = "ocsp"
    SIGNER = "signer"
    SEAL = "seal"


@dataclass(frozen=True)
class PublicUrls:
    """The URLs written into certificates, all under one public base URL."""

    base_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def ocsp(self) -> str:
        """The OCSP responder (RFC 6960 POST; RFC 5019 GET appends ``/<base64>``)."""
        return f"{self.base_url}/ocsp"

    def ca_certificate(self, ca_slug: str) -> str:
        """Where a CA's certificate is published (DER, ``application/pkix-cert``)."""
        return f"{self.base_url}/ca/{ca_slug}.crt"

    def crl(self, ca_slug: str) -> str:
        """Where a CA's full CRL is published (DER, ``application/pkix-crl``)."""
        return f"{self.base_url}/crl/{ca_slug}.crl"


@dataclass(frozen=True)
class Issuer:
    """A CA able to sign: its certificate, private key and URL slug."""

    certificate: x509.Certificate
    key: PrivateKey
    slug: str


@dataclass(frozen=True)
class SubjectInfo:
    """The distinguished name (and e-mail) of a certificate's subject."""

    common_name: str
    organization: str | None = None
    organizational_unit: str | None = None
    country: str | None = "JP"
    email: str | None = None

    def name(self) -> x509.Name:
        """Build the X.509 subject name (C, O, OU, CN order)."""
        if not self.common_name or len(self.common_name) > 64:
            raise ValueError("the common name must have 1 to 64 characters")
        if self.email is not None:
            check_email(self.email)
        attrs: list[x509.NameAttribute] = []
        if self.country:
            if len(self.country) != 2 or not self.country.isalpha():
                raise ValueError("the country must be a two-letter ISO 3166 code")
            attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, self.country.upper()))
        if self.organization:
            if len(self.organization) > 64:
                raise ValueError("the organisation name must have at most 64 characters")
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization))
        if self.organizational_unit:
            attrs.append(
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.organizational_unit)
            )
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, self.common_name))
        return x509.Name(attrs)


def check_email(address: str) -> None:
    """Reject what cannot be an rfc822Name (IA5String ``local@domain``, RFC 5280 §4.2.1.6)."""
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or not address.isascii()
        or any(c.isspace() or c in '<>()[],;:\\"' for c in address)
        or len(address) > 254
    ):
        raise ValueError(f"not a valid e-mail address for a certificate: {address!r}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _validity(
    now: dt.datetime | None, validity: dt.timedelta, issuer: Issuer | None
) -> tuple[dt.datetime, dt.datetime]:
    start = (now or _now()) - BACKDATE
    end = start + BACKDATE + validity
    if issuer is not None:
        end = min(end, issuer.certificate.not_valid_after_utc)
        start = max(start, issuer.certificate.not_valid_before_utc)
    if end <= start:
        raise ValueError("the issuing CA has expired; it cannot issue certificates")
    return start, end


def _policies(policy_oid: str, cps_url: str | None) -> x509.CertificatePolicies:
    qualifiers = [cps_url] if cps_url else None
    return x509.CertificatePolicies(
        [x509.PolicyInformation(ObjectIdentifier(policy_oid), qualifiers)]
    )


def _builder(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer: Issuer | None,
    start: dt.datetime,
    end: dt.datetime,
    serial: int | None,
) -> x509.CertificateBuilder:
    issuer_name = issuer.certificate.subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial or random_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        ski = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value),
            critical=False,
        )
    return builder


def _aia(urls: PublicUrls, issuer: Issuer, with_ocsp: bool) -> x509.AuthorityInformationAccess:
    descriptions = []
    if with_ocsp:
        descriptions.append(
            x509.AccessDescription(
                x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
            )
        )
    descriptions.append(
        x509.AccessDescription(
            x509.AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(urls.ca_certificate(issuer.slug)),
        )
    )
    return x509.AuthorityInformationAccess(descriptions)


def _crl_dp(urls: PublicUrls, issuer: Issuer) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(urls.crl(issuer.slug))],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _key_usage(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature content_commitment key_encipherment data_encipherment "
        "key_agreement key_cert_sign crl_sign encipher_only decipher_only"
    ).split()
    return x509.KeyUsage(**{n: flags.get(n, False) for n in names})


def _sign(builder: x509.CertificateBuilder, key: PrivateKey) -> x509.Certificate:
    return builder.sign(key, signature_hash(key))


def build_root_ca(
    subject: SubjectInfo,
    key: PrivateKey,
    *,
    validity: dt.timedelta = dt.timedelta(days=365 * 20),
    policy_oid: str = DEFAULT_POLICY_OID,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A self-signed root: may sign CA certificates one level down, and CRLs."""
    start, end = _validity(now, validity, None)
    builder = (
        _builder(subject.name(), key.public_key(), None, start, end, None)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
    )
    return _sign(builder, key)


def build_issuing_ca(
    subject: SubjectInfo,
    public_key: CertificatePublicKeyTypes,
    issuer: Issuer,
    urls: PublicUrls,
    *,
    validity: dt.timedelta = dt.timedelta(days=365 * 10),
    policy_oid: str = DEFAULT_POLICY_OID,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """An issuing CA under the root: signs end-entity certificates and its own CRLs."""
    start, end = _validity(now, validity, issuer)
    builder = (
        _builder(subject.name(), public_key, issuer, start, end, None)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(_aia(urls, issuer, with_ocsp=True), critical=False)
        .add_extension(_crl_dp(urls, issuer), critical=False)
        .add_extension(_policies(policy_oid, None), critical=False)
    )
    return _sign(builder, issuer.key)


def build_tsa(
    subject: SubjectInfo,
    public_key: CertificatePublicKeyTypes,
    issuer: Issuer,
    urls: PublicUrls,
    *,
    validity: dt.timedelta = dt.timedelta(days=365 * 10),
    policy_oid: str = DEFAULT_POLICY_OID,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A time-stamping unit: EKU id-kp-timeStamping only, critical (RFC 3161 §2.3)."""
    start, end = _validity(now, validity, issuer)
    builder = (
        _builder(subject.name(), public_key, issuer, start, end, None)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_aia(urls, issuer, with_ocsp=True), critical=False)
        .add_extension(_crl_dp(urls, issuer), critical=False)
        .add_extension(_policies(policy_oid, None), critical=False)
    )
    return _sign(builder, issuer.key)


def build_ocsp_responder(
    subject: SubjectInfo,
    public_key: CertificatePublicKeyTypes,
    issuer: Issuer,
    urls: PublicUrls,
    *,
    validity: dt.timedelta = dt.timedelta(days=365),
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A delegated OCSP responder (RFC 6960 §4.2.2.2): id-kp-OCSPSigning, ocsp-nocheck.

    With ocsp-nocheck a relying party does not check the responder's own status, so its
    validity is kept short and it is renewed automatically.
    """
    start, end = _validity(now, validity, issuer)
    builder = (
        _builder(subject.name(), public_key, issuer, start, end, None)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(_aia(urls, issuer, with_ocsp=False), critical=False)
    )
    return _sign(builder, issuer.key)


def build_signer(
    subject: SubjectInfo,
    public_key: CertificatePublicKeyTypes,
    issuer: Issuer,
    urls: PublicUrls,
    *,
    validity: dt.timedelta = dt.timedelta(days=365 * 2),
    policy_oid: str = DEFAULT_POLICY_OID,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A person's (or the organisation seal's) signing certificate.

    keyUsage digitalSignature + nonRepudiation (critical), EKU documentSigning and
    emailProtection, the e-mail address as SAN rfc822Name, AIA (OCSP + caIssuers), CRL DP.
    """
    if not subject.email:
        raise ValueError("a signer certificate needs an e-mail address")
    start, end = _validity(now, validity, issuer)
    builder = (
        _builder(subject.name(), public_key, issuer, start, end, None)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING_OID, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(subject.email)]), critical=False
        )
        .add_extension(_aia(urls, issuer, with_ocsp=True), critical=False)
        .add_extension(_crl_dp(urls, issuer), critical=False)
        .add_extension(_policies(policy_oid, None), critical=False)
    )
    return _sign(builder, issuer.key)
