"""RFC 3161 time-stamp tokens from a DER template: the TSA's hot path.

Why hand-written DER: building the token with asn1crypto objects costs 2-20 ms of Python per
token (measured by ``bench/micro_tsa.py`` on this machine: ≈400 tokens/s on one core when the
static parts are pre-encoded and re-loaded, ≈70/s when everything is built per request —
asn1crypto deep-copies nested values and re-encodes them many times over), which would dwarf
the ECDSA signature (~35-45 µs). Almost everything in a token is the same for every request —
the algorithm identifiers, the certificates, the signingCertificateV2 attribute, the TSA name,
the accuracy — so :class:`TokenFactory` encodes those once, and :meth:`TokenFactory.grant` only
splices the per-request values (policy, imprint, serial, genTime, nonce, messageDigest,
signature) between pre-encoded bytes and computes the lengths: ~10 µs of Python besides the
signature, ≈20k tokens/s per core, 50x the careful asn1crypto build and ~85% of the bare
signature rate.

The output is DER (X.690): definite minimal lengths, minimal INTEGERs, DEFAULT values left out,
SET OF elements sorted, GeneralizedTime without trailing fraction zeros. The tests check that
asn1crypto re-encodes tokens byte for byte and that OpenSSL, cryptography and pyHanko accept
them.

Token profile (RFC 3161, RFC 5816, ETSI EN 319 422)::

    TimeStampResp { status granted, ContentInfo { id-signedData, SignedData {
      version 3, digestAlgorithms { sha256 | sha384 },
      encapContentInfo { id-ct-TSTInfo, TSTInfo {
        version 1, policy, messageImprint (echoed), serialNumber, genTime,
        accuracy, [ordering FALSE omitted], nonce (echoed), tsa [0] directoryName } },
      certificates [0] (only when certReq: the TSA certificate [+ chain]),
      signerInfos { SignerInfo { version 1, issuerAndSerialNumber, digestAlgorithm,
        signedAttrs [0] { contentType, messageDigest, signingCertificateV2 },
        signatureAlgorithm, signature } } } } }
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from keiin.pki.keys import PrivateKey, signature_hash
from keiin.tsa import der
from keiin.tsa.request import DIGEST_SIZES, HASH_OIDS, TimeStampRequest
from keiin.tsa.response import GRANTED_STATUS_INFO, FailInfo, Rejection

#: Keiin's TSA policy (a child of the CA policy OID under the UUID arc 2.25).
DEFAULT_TSA_POLICY_OID = "2.25.238439118829383962738426658434598207742.3161.1"

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_ECDSA_WITH = {
    "sha256": "1.2.840.10045.4.3.2",
    "sha384": "1.2.840.10045.4.3.3",
    "sha512": "1.2.840.10045.4.3.4",
}
_RSA_WITH = {
    "sha256": "1.2.840.113549.1.1.11",
    "sha384": "1.2.840.113549.1.1.12",
    "sha512": "1.2.840.113549.1.1.13",
}
_NULL = b"\x05\x00"
#: RFC 3161 §2.4.2: clients must handle serial numbers up to 160 bits.
MAX_SERIAL_BITS = 160
#: Largest nonce echoed, in bits (the request parser allows 64 octets).
MAX_NONCE_BITS = 64 * 8


def _seq(content: bytes) -> bytes:
    return der.tlv(der.SEQUENCE, content)


def _set_of(elements: list[bytes]) -> bytes:
    return der.tlv(der.SET, b"".join(sorted(elements)))


def _cert_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class TsaProfile:
    """Everything that is the same in every token of one time-stamping unit."""

    certificate: x509.Certificate  # the TSA certificate (EKU timeStamping)
    key: PrivateKey  # EC P-256/P-384 or RSA
    chain: tuple[x509.Certificate, ...] = ()  # issuer certificates, sent only if include_chain
    policies: tuple[str, ...] = (DEFAULT_TSA_POLICY_OID,)  # the first is the default
    accuracy_seconds: int = 1
    accuracy_millis: int = 0
    accuracy_micros: int = 0
    include_chain: bool = False
    include_tsa_name: bool = True  # TSTInfo.tsa = directoryName of the certificate subject

    def __post_init__(self) -> None:
        if not self.policies:
            raise ValueError("a TSA needs at least one policy OID")
        for policy in self.policies:
            der.oid(policy)  # raises ValueError on a malformed OID
        if self.accuracy_seconds < 0:
            raise ValueError("accuracy seconds must not be negative")
        if not (0 <= self.accuracy_millis <= 999 and 0 <= self.accuracy_micros <= 999):
            raise ValueError("accuracy millis and micros must be 0 to 999")
        public = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        certified = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if public != certified:
            raise ValueError("the TSA key does not match the TSA certificate")


def _signer(key: PrivateKey) -> tuple[str, Callable[[bytes], bytes], bytes]:
    """(hash name, sign function, DER signatureAlgorithm) for ``key``."""
    digest = signature_hash(key)
    name = digest.name
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = ec.ECDSA(digest)

        def sign_ec(data: bytes) -> bytes:
            return key.sign(data, algorithm)

        # RFC 5758 §3.2: ecdsa-with-SHA* has absent parameters.
        return name, sign_ec, _seq(der.oid(_ECDSA_WITH[name]))
    if isinstance(key, rsa.RSAPrivateKey):
        pkcs1 = padding.PKCS1v15()

        def sign_rsa(data: bytes) -> bytes:
            return key.sign(data, pkcs1, digest)

        # RFC 4055 §5: sha*WithRSAEncryption has NULL parameters.
        return name, sign_rsa, _seq(der.oid(_RSA_WITH[name]) + _NULL)
    raise ValueError(f"unsupported TSA key type {type(key).__name__}")


_HASHERS: dict[str, Callable[[bytes], Any]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}

#: DER length octets of every length below 8 KiB (a token with its certificate is ~1.5 KiB),
#: looked up instead of computed: a token has a dozen nested lengths.
_LENGTHS: tuple[bytes, ...] = tuple(der.length(n) for n in range(8192))
#: INTEGER tag and length for contents of 0..127 octets (serials, nonces).
_INTEGER_HEADER: tuple[bytes, ...] = tuple(bytes((der.INTEGER, n)) for n in range(128))
#: GeneralizedTime ends ``[.f{1,3}]Z`` by millisecond (trailing fraction zeros dropped, X.690
#: §11.7), and the tag and length octets that go with each.
_GT_SUFFIX: tuple[bytes, ...] = tuple(
    (f".{m:03d}".rstrip("0") if m else "").encode() + b"Z" for m in range(1000)
)
_GT_HEADER: tuple[bytes, ...] = tuple(
    bytes((der.GENERALIZED_TIME, 14 + len(x))) for x in _GT_SUFFIX
)
_UTC = dt.UTC


class TokenFactory:
    """Issues time-stamp tokens for one :class:`TsaProfile` (thread-safe, immutable)."""

    def __init__(self, profile: TsaProfile) -> None:
        self.profile = profile
        cert = profile.certificate
        cert_der = _cert_der(cert)
        hash_name, self._sign, sig_alg = _signer(profile.key)
        self.hash_algorithm = hash_name
        self._hash = _HASHERS[hash_name]
        digest_alg = _seq(der.oid(HASH_OIDS[hash_name]))  # RFC 5754 §2: parameters absent

        # TSTInfo parts: "version 1 + policy" per accepted policy, the imprint algorithm per
        # (hash, NULL-or-absent parameters), accuracy and the TSA name.
        self.policies = tuple(dict.fromkeys(profile.policies))
        self.default_policy = self.policies[0]
        self._policy_prefix = {p: der.integer(1) + der.oid(p) for p in self.policies}
        self._imprint_alg = {
            (name, null): _seq(der.oid(oid) + (_NULL if null else b""))
            for name, oid in HASH_OIDS.items()
            for null in (False, True)
        }
        accuracy = b""
        if profile.accuracy_seconds:
            accuracy += der.integer(profile.accuracy_seconds)
        if profile.accuracy_millis:
            accuracy += der.tlv(0x80, der.integer_content(profile.accuracy_millis))
        if profile.accuracy_micros:
            accuracy += der.tlv(0x81, der.integer_content(profile.accuracy_micros))
        self._accuracy = _seq(accuracy) if accuracy else b""
        subject = cert.subject.public_bytes()
        self._tsa_name = der.tlv(0xA0, der.tlv(0xA4, subject)) if profile.include_tsa_name else b""

        # Signed attributes. DER sorts a SET OF by encoding; only messageDigest varies, and its
        # length is fixed per hash, so the order is decided by the length octets and OIDs
        # before any digest byte: compute it once with two extreme digests.
        size = hashlib.new(hash_name).digest_size
        content_type = _seq(der.oid(OID_CONTENT_TYPE) + _set_of([der.oid(OID_TST_INFO)]))
        ess_cert_id_v2 = _seq(  # hashAlgorithm omitted: SHA-256 is the DEFAULT
            der.tlv(der.OCTET_STRING, hashlib.sha256(cert_der).digest())
            + _seq(
                _seq(der.tlv(0xA4, cert.issuer.public_bytes())) + der.integer(cert.serial_number)
            )
        )
        signing_cert = _seq(
            der.oid(OID_SIGNING_CERTIFICATE_V2) + _set_of([_seq(_seq(ess_cert_id_v2))])
        )

        def md_attr(digest: bytes) -> bytes:
            return _seq(der.oid(OID_MESSAGE_DIGEST) + _set_of([der.tlv(der.OCTET_STRING, digest)]))

        md_low, md_high = md_attr(b"\x00" * size), md_attr(b"\xff" * size)
        low = sorted([content_type, signing_cert, md_low])
        md_index = low.index(md_low)
        if sorted([content_type, signing_cert, md_high]).index(md_high) != md_index:
            raise RuntimeError("signed attribute order must not depend on the digest")
        md_prefix = md_low[:-size]
        before = b"".join(low[:md_index])
        self._attrs_after = b"".join(low[md_index + 1 :])
        total = sum(len(a) for a in low)
        # The signature covers the attributes as a SET OF (tag 0x31, RFC 5652 §5.4); the
        # SignerInfo carries the same content under [0] IMPLICIT (tag 0xA0).
        self._signed_input_prefix = b"\x31" + der.length(total) + before + md_prefix
        si_attrs_prefix = b"\xa0" + der.length(total) + before + md_prefix

        # SignerInfo up to the signed attributes: version 1, issuerAndSerialNumber, digest alg.
        sid = _seq(cert.issuer.public_bytes() + der.integer(cert.serial_number))
        self._si_head = der.integer(1) + sid + digest_alg + si_attrs_prefix
        self._si_sig_alg = sig_alg

        # SignedData up to the encapsulated content; certificates with and without certReq.
        self._sd_head = der.integer(3) + _set_of([digest_alg])
        self._eci_type = der.oid(OID_TST_INFO)
        certs = [cert_der]
        if profile.include_chain:
            certs += [_cert_der(c) for c in profile.chain if _cert_der(c) != cert_der]
        self._certs = der.tlv(0xA0, b"".join(sorted(dict.fromkeys(certs))))
        self._ci_type = der.oid(OID_SIGNED_DATA)

        # For grant(): the whole messageImprint up to the digest octets per (hash, NULL), the
        # fixed part of the SignerInfo length, and the largest response this profile can make
        # (if it is below 8 KiB, every length is looked up in _LENGTHS).
        self._imprint_head = {
            key: b"\x30"
            + der.length(len(alg) + 2 + DIGEST_SIZES[key[0]])
            + alg
            + bytes((der.OCTET_STRING, DIGEST_SIZES[key[0]]))
            for key, alg in self._imprint_alg.items()
        }
        self._si_fixed = len(self._si_head) + size + len(self._attrs_after) + len(sig_alg)
        key_bytes = (profile.key.key_size + 7) // 8
        largest_tst = 4 + sum(
            (
                max(len(x) for x in self._policy_prefix.values()),
                max(len(x) for x in self._imprint_head.values()) + 64,
                2 + MAX_SERIAL_BITS // 8 + 1,
                2 + 19,
                len(self._accuracy),
                2 + MAX_NONCE_BITS // 8 + 1,
                len(self._tsa_name),
            )
        )
        largest = (
            largest_tst
            + len(self._certs)
            + self._si_fixed
            + 2 * key_bytes
            + 64  # signature (≤ 2 × key size + its own DER overhead) and every header
            + len(self._sd_head)
            + len(self._eci_type)
            + len(self._ci_type)
            + len(GRANTED_STATUS_INFO)
        )
        self._length: Callable[[int], bytes] = (
            _LENGTHS.__getitem__ if largest < len(_LENGTHS) else der.length
        )
        self._gen_time_second: tuple[dt.datetime | None, bytes] = (None, b"")

    def select_policy(self, request: TimeStampRequest) -> str:
        """The policy a token for ``request`` gets: the default or the requested one.

        Raises :class:`Rejection` (``unacceptedPolicy``) for a policy this TSA does not offer.
        """
        if request.policy is None:
            return self.default_policy
        if request.policy in self._policy_prefix:
            return request.policy
        raise Rejection(FailInfo.UNACCEPTED_POLICY, "requested policy not supported")

    def grant(
        self,
        request: TimeStampRequest,
        *,
        serial: int,
        gen_time: dt.datetime,
        policy: str | None = None,
    ) -> bytes:
        """Complete DER TimeStampResp (status granted) with the signed token.

        ``gen_time`` must be timezone-aware; it is written with millisecond precision
        (truncated). ``serial`` must be positive and at most 160 bits. Raises
        :class:`Rejection` for a request :func:`~keiin.tsa.request.parse_request` would not
        have produced (unknown hash, wrong digest length, negative nonce, unknown policy).
        """
        if policy is None:
            policy = self.select_policy(request)
        policy_prefix = self._policy_prefix.get(policy)
        if policy_prefix is None:
            raise Rejection(FailInfo.UNACCEPTED_POLICY, "requested policy not supported")
        imprint_head = self._imprint_head.get((request.hash_algorithm, request.null_parameters))
        if imprint_head is None:
            raise Rejection(FailInfo.BAD_ALG, "unsupported message imprint algorithm")
        digest = request.digest
        if len(digest) != DIGEST_SIZES[request.hash_algorithm]:
            raise Rejection(FailInfo.BAD_DATA_FORMAT, "imprint has the wrong length")
        bits = serial.bit_length()
        if not 0 < bits <= MAX_SERIAL_BITS or serial < 0:
            raise ValueError("the serial number must be positive and at most 160 bits")
        serial_content = serial.to_bytes(bits // 8 + 1, "big")  # minimal, positive
        nonce = request.nonce
        if nonce is None:
            nonce_tlv = b""
        elif 0 <= nonce and nonce.bit_length() <= MAX_NONCE_BITS:
            nonce_content = nonce.to_bytes(nonce.bit_length() // 8 + 1, "big")
            nonce_tlv = _INTEGER_HEADER[len(nonce_content)] + nonce_content
        else:
            raise Rejection(FailInfo.BAD_DATA_FORMAT, "nonce out of range")
        length = self._length

        # TSTInfo
        tst_body = b"".join(
            (
                policy_prefix,
                imprint_head,
                digest,
                _INTEGER_HEADER[len(serial_content)],
                serial_content,
                self._generalized_time(gen_time),
                self._accuracy,
                nonce_tlv,
                self._tsa_name,
            )
        )
        tst = b"\x30" + length(len(tst_body)) + tst_body
        tst_len = len(tst)

        # SignerInfo: messageDigest = H(TSTInfo), signature over the signed attributes.
        md = self._hash(tst).digest()
        signature = self._sign(self._signed_input_prefix + md + self._attrs_after)
        sig_hdr = b"\x04" + length(len(signature))
        si_len = self._si_fixed + len(sig_hdr) + len(signature)
        si_hdr = b"\x30" + length(si_len)
        signer_infos_len = len(si_hdr) + si_len
        signer_infos_hdr = b"\x31" + length(signer_infos_len)

        # EncapsulatedContentInfo { id-ct-TSTInfo, [0] EXPLICIT OCTET STRING TSTInfo }
        octet_hdr = b"\x04" + length(tst_len)
        explicit_hdr = b"\xa0" + length(len(octet_hdr) + tst_len)
        eci_len = len(self._eci_type) + len(explicit_hdr) + len(octet_hdr) + tst_len
        eci_hdr = b"\x30" + length(eci_len)

        certs = self._certs if request.cert_req else b""
        sd_len = (
            len(self._sd_head)
            + len(eci_hdr)
            + eci_len
            + len(certs)
            + len(signer_infos_hdr)
            + signer_infos_len
        )
        sd_hdr = b"\x30" + length(sd_len)
        sd_explicit_hdr = b"\xa0" + length(len(sd_hdr) + sd_len)
        ci_len = len(self._ci_type) + len(sd_explicit_hdr) + len(sd_hdr) + sd_len
        ci_hdr = b"\x30" + length(ci_len)
        resp_len = len(GRANTED_STATUS_INFO) + len(ci_hdr) + ci_len
        return b"".join(
            (
                b"\x30",
                length(resp_len),
                GRANTED_STATUS_INFO,
                ci_hdr,
                self._ci_type,
                sd_explicit_hdr,
                sd_hdr,
                self._sd_head,
                eci_hdr,
                self._eci_type,
                explicit_hdr,
                octet_hdr,
                tst,
                certs,
                signer_infos_hdr,
                si_hdr,
                self._si_head,
                md,
                self._attrs_after,
                self._si_sig_alg,
                sig_hdr,
                signature,
            )
        )

    def _generalized_time(self, moment: dt.datetime) -> bytes:
        """``der.generalized_time(moment)``, with the part up to the seconds encoded once per
        second for UTC datetimes (every token of a second shares it)."""
        if moment.tzinfo is not _UTC:
            return der.generalized_time(moment)  # converts, or refuses a naive datetime
        second = moment.replace(microsecond=0)
        cached_second, digits = self._gen_time_second
        if cached_second != second:
            digits = der.generalized_time(second)[2:-1]  # YYYYMMDDhhmmss
            self._gen_time_second = (second, digits)
        millis = moment.microsecond // 1000
        return _GT_HEADER[millis] + digits + _GT_SUFFIX[millis]


def token_of(response_der: bytes) -> bytes:
    """The TimeStampToken (ContentInfo) inside a granted TimeStampResp.

    Raises ValueError if ``response_der`` is not a TimeStampResp carrying a token.
    """
    tag, start, end = der.read_header(response_der)
    if tag != der.SEQUENCE or end != len(response_der):
        raise ValueError("not a DER TimeStampResp")
    _, _, status_end = der.read_header(response_der, start)
    if status_end >= end:
        raise ValueError("the response carries no token")
    tag, _, token_end = der.read_header(response_der, status_end)
    if tag != der.SEQUENCE or token_end != end:
        raise ValueError("the response carries no token")
    return response_der[status_end:end]
