"""OCSP (RFC 6960) requests and responses, with the RFC 5019 lightweight profile in mind.

Parsing and response assembly use asn1crypto; signing uses cryptography. The module is
transport-free: :func:`parse_request` turns request bytes into an :class:`OcspQuery` (or raises
:class:`MalformedRequestError`), :meth:`OcspAuthority.claims` tells which CA a query is about, and
:meth:`ResponderSigner.sign` turns statuses into a signed response. Error responses are
constants (:data:`MALFORMED_REQUEST` and friends): they carry no signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import core, keys
from asn1crypto import ocsp as aocsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keiin.pki.keys import PrivateKey, sign_bytes, signature_algorithm_name
from keiin.pki.revocation import RevocationReason, RevokedEntry
from keiin.tsa.der import integer_content

#: Largest request accepted; a request about one certificate is about 80-120 bytes.
MAX_REQUEST_BYTES = 8192
#: Most CertIDs accepted in one request.
MAX_CERT_IDS = 32
#: RFC 8954: a nonce is 1 to 32 octets.
MAX_NONCE_OCTETS = 32

_HASHES = ("sha1", "sha256", "sha384", "sha512")

_REASON_NAMES = {
    RevocationReason.UNSPECIFIED: "unspecified",
    RevocationReason.KEY_COMPROMISE: "key_compromise",
    RevocationReason.CA_COMPROMISE: "ca_compromise",
    RevocationReason.AFFILIATION_CHANGED: "affiliation_changed",
    RevocationReason.SUPERSEDED: "superseded",
    RevocationReason.CESSATION_OF_OPERATION: "cessation_of_operation",
    RevocationReason.CERTIFICATE_HOLD: "certificate_hold",
    RevocationReason.PRIVILEGE_WITHDRAWN: "privilege_withdrawn",
    RevocationReason.AA_COMPROMISE: "aa_compromise",
}


def _error_response(status: str) -> bytes:
    return aocsp.OCSPResponse({"response_status": status}).dump()


MALFORMED_REQUEST = _error_response("malformed_request")
INTERNAL_ERROR = _error_response("internal_error")
TRY_LATER = _error_response("try_later")
UNAUTHORIZED = _error_response("unauthorized")


class MalformedRequestError(ValueError):
    """The request is not a well-formed OCSP request we can answer; the text says why."""


@dataclass(frozen=True)
class CertId:
    """One CertID of a request: which hash, the issuer's hashes, the serial."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    asn1: aocsp.CertId = field(compare=False, repr=False)


@dataclass(frozen=True)
class OcspQuery:
    """A parsed request: its CertIDs and the nonce octets, if any."""

    cert_ids: tuple[CertId, ...]
    nonce: bytes | None = None


@dataclass(frozen=True)
class Unknown:
    """Status of a serial the CA never issued (or does not know)."""


UNKNOWN = Unknown()
#: What a status lookup returns: ``None`` (good), a :class:`RevokedEntry`, or :data:`UNKNOWN`.
CertStatus = RevokedEntry | Unknown | None


def parse_request(der: bytes) -> OcspQuery:
    """Parse and check an OCSPRequest; raise :class:`MalformedRequestError` with a reason."""
    if not der:
        raise MalformedRequestError("empty request")
    if len(der) > MAX_REQUEST_BYTES:
        raise MalformedRequestError(f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        request = aocsp.OCSPRequest.load(der, strict=True)
        tbs = request["tbs_request"]
        if tbs["version"].native != "v1":
            raise MalformedRequestError("unsupported request version")
        items = tbs["request_list"]
        if len(items) == 0:
            raise MalformedRequestError("no certificate asked about")
        if len(items) > MAX_CERT_IDS:
            raise MalformedRequestError(f"more than {MAX_CERT_IDS} certificates in one request")
        cert_ids = []
        for item in items:
            for ext in item["single_request_extensions"]:
                if ext["critical"].native:
                    raise MalformedRequestError("unsupported critical single-request extension")
            cid = item["req_cert"]
            algorithm = cid["hash_algorithm"]["algorithm"].native
            parsed = CertId(
                hash_algorithm=algorithm,
                issuer_name_hash=cid["issuer_name_hash"].native,
                issuer_key_hash=cid["issuer_key_hash"].native,
                serial=cid["serial_number"].native,
                asn1=cid,
            )
            _check_der(parsed)
            cert_ids.append(parsed)
        nonce = None
        for ext in tbs["request_extensions"]:
            name = ext["extn_id"].native
            if name == "nonce":
                try:
                    # Nonce ::= OCTET STRING, and nothing after it (strict, like the request)
                    octets = core.OctetString.load(ext["extn_value"].contents, strict=True).native
                except ValueError:
                    raise MalformedRequestError(
                        "nonce is not an OCTET STRING (RFC 6960 §4.4.1)"
                    ) from None
                if not 1 <= len(octets) <= MAX_NONCE_OCTETS:
                    raise MalformedRequestError("nonce must be 1 to 32 octets (RFC 8954)")
                nonce = octets
            elif ext["critical"].native:
                raise MalformedRequestError(f"unsupported critical request extension {name}")
        return OcspQuery(tuple(cert_ids), nonce)
    except MalformedRequestError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise MalformedRequestError(f"not a DER OCSPRequest: {exc}") from None


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def _check_der(cert_id: CertId) -> None:
    """Refuse a CertID that is not plain DER (RFC 6960 §4.1.1).

    The CertID is echoed byte for byte in the signed response; asn1crypto parses lazily and
    leniently, so without this check wrong-type hash parameters, non-minimal integers,
    constructed OCTET STRINGs or trailing fields would be signed into a response that strict
    parsers (OpenSSL, cryptography) then reject.
    """
    algorithm = cert_id.asn1["hash_algorithm"]
    params = algorithm["parameters"]
    oid = core.ObjectIdentifier(algorithm["algorithm"].dotted).dump()
    serial = cert_id.serial
    expected = _tlv(
        0x30,
        _tlv(0x30, oid + (b"" if isinstance(params, core.Void) else b"\x05\x00"))
        + _tlv(0x04, cert_id.issuer_name_hash)
        + _tlv(0x04, cert_id.issuer_key_hash)
        + _tlv(0x02, integer_content(serial)),
    )
    if cert_id.asn1.dump() != expected:
        raise MalformedRequestError("CertID is not DER-encoded")


def _spki_bits(certificate: x509.Certificate) -> bytes:
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]


@dataclass(frozen=True)
class OcspAuthority:
    """A CA the responder answers for: the hashes that identify it in CertIDs."""

    ca_id: int
    name_hashes: dict[str, bytes]
    key_hashes: dict[str, bytes]

    @classmethod
    def from_certificate(cls, ca_id: int, certificate: x509.Certificate) -> OcspAuthority:
        """Precompute the issuer hashes of ``certificate`` for every accepted hash."""
        name = certificate.subject.public_bytes()
        bits = _spki_bits(certificate)
        return cls(
            ca_id=ca_id,
            name_hashes={h: hashlib.new(h, name).digest() for h in _HASHES},
            key_hashes={h: hashlib.new(h, bits).digest() for h in _HASHES},
        )

    def claims(self, cert_id: CertId) -> bool:
        """Whether ``cert_id`` names a certificate issued by this CA."""
        h = cert_id.hash_algorithm
        return (
            h in self.name_hashes
            and self.name_hashes[h] == cert_id.issuer_name_hash
            and self.key_hashes[h] == cert_id.issuer_key_hash
        )


@dataclass(frozen=True)
class ResponderSigner:
    """The key and certificate that sign responses for one CA (delegated or the CA itself)."""

    certificate: x509.Certificate
    key: PrivateKey
    extra_certificates: Sequence[x509.Certificate] = ()

    def __post_init__(self) -> None:
        asn1_certs = [
            ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in (self.certificate, *self.extra_certificates)
        ]
        object.__setattr__(self, "_certs", asn1_certs)
        key_id = hashlib.sha1(_spki_bits(self.certificate)).digest()  # noqa: S324 - RFC 6960 byKey
        object.__setattr__(self, "_responder_id", aocsp.ResponderId(name="by_key", value=key_id))
        object.__setattr__(self, "_sig_alg", signature_algorithm_name(self.key))

    def sign(
        self,
        answers: Sequence[tuple[CertId, CertStatus]],
        *,
        produced_at: dt.datetime,
        validity: dt.timedelta,
        nonce: bytes | None = None,
    ) -> bytes:
        """Build and sign a successful OCSPResponse for ``answers``.

        ``thisUpdate`` is ``produced_at`` and ``nextUpdate`` is ``produced_at + validity``;
        times carry no fractional seconds (RFC 5019 §2.2.4).
        """
        produced_at = produced_at.astimezone(dt.UTC).replace(microsecond=0)
        next_update = produced_at + validity
        singles = [
            _single_response(cid, status, produced_at, next_update) for cid, status in answers
        ]
        data = {
            "version": "v1",
            "responder_id": self._responder_id,  # type: ignore[attr-defined]
            "produced_at": produced_at,
            "responses": singles,
        }
        if nonce is not None:
            data["response_extensions"] = [
                {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
            ]
        tbs = aocsp.ResponseData(data)
        signature = sign_bytes(self.key, tbs.dump())
        basic = aocsp.BasicOCSPResponse(
            {
                "tbs_response_data": tbs,
                "signature_algorithm": {"algorithm": self._sig_alg},  # type: ignore[attr-defined]
                "signature": signature,
                "certs": self._certs,  # type: ignore[attr-defined]
            }
        )
        return aocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()


def _single_response(
    cert_id: CertId, status: CertStatus, this_update: dt.datetime, next_update: dt.datetime
) -> aocsp.SingleResponse:
    extensions = []
    if isinstance(status, RevokedEntry):
        info: dict[str, object] = {
            "revocation_time": status.revoked_at.astimezone(dt.UTC).replace(microsecond=0)
        }
        if status.reason is not RevocationReason.UNSPECIFIED:
            info["revocation_reason"] = _REASON_NAMES[status.reason]
        cert_status = aocsp.CertStatus(name="revoked", value=aocsp.RevokedInfo(info))
        if status.invalidity_date is not None:
            extensions.append(
                {
                    "extn_id": "invalidity_date",
                    "critical": False,
                    "extn_value": status.invalidity_date.astimezone(dt.UTC).replace(microsecond=0),
                }
            )
    elif isinstance(status, Unknown):
        cert_status = aocsp.CertStatus(name="unknown", value=core.Null())
    else:
        cert_status = aocsp.CertStatus(name="good", value=core.Null())
    single: dict[str, object] = {
        "cert_id": cert_id.asn1,
        "cert_status": cert_status,
        "this_update": this_update,
        "next_update": next_update,
    }
    if extensions:
        single["single_extensions"] = extensions
    return aocsp.SingleResponse(single)
