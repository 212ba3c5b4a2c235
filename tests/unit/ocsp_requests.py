"""Build OCSP requests for tests, independently of the code under test.

cryptography builds the ordinary single-certificate requests (what clients send);
asn1crypto builds the unusual ones (several CertIDs, odd extensions, other versions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from asn1crypto import core, keys
from asn1crypto import ocsp as aocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as cocsp

HASHES = {
    "sha1": hashes.SHA1(),
    "sha224": hashes.SHA224(),
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def der(request: cocsp.OCSPRequest) -> bytes:
    return request.public_bytes(serialization.Encoding.DER)


def tlv(tag: int, content: bytes) -> bytes:
    """DER tag-length-value."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def crypto_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    hash_name: str = "sha1",
    nonce: bytes | None = None,
) -> bytes:
    """A one-certificate request the way most clients (and cryptography) build it."""
    builder = cocsp.OCSPRequestBuilder().add_certificate(cert, issuer, HASHES[hash_name])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return der(builder.build())


def key_bits(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]


def cert_id(issuer: x509.Certificate, serial: int, hash_name: str = "sha1") -> aocsp.CertId:
    """A CertID for ``serial`` under ``issuer``, computed from scratch."""
    return aocsp.CertId(
        {
            "hash_algorithm": {"algorithm": hash_name},
            "issuer_name_hash": hashlib.new(hash_name, issuer.subject.public_bytes()).digest(),
            "issuer_key_hash": hashlib.new(hash_name, key_bits(issuer)).digest(),
            "serial_number": serial,
        }
    )


# A stand-in OID whose encoding has the length of id-pkix-ocsp-nonce (1.3.6.1.5.5.7.48.1.2):
# asn1crypto refuses to build a nonce extension whose value is not an OCTET STRING, so such
# requests are built with the stand-in and patched afterwards.
_NONCE_OID = bytes.fromhex("06092b0601050507300102")
_STAND_IN = "1.3.6.1.5.5.7.48.1.99"
_STAND_IN_DER = bytes.fromhex("06092b0601050507300163")


def asn1_request(
    cert_ids: Sequence[aocsp.CertId],
    *,
    nonce: bytes | None = None,
    raw_nonce_value: bytes | None = None,
    extensions: Iterable[tuple[str, bool, bytes]] = (),
    single_extensions: Iterable[tuple[str, bool, bytes]] = (),
    version: int = 0,
) -> bytes:
    """A request with any number of CertIDs and arbitrary (OID, critical, DER value) extensions.

    ``raw_nonce_value`` puts arbitrary bytes into the nonce extension's extnValue.
    """
    single_exts = [
        {"extn_id": oid, "critical": critical, "extn_value": core.ParsableOctetString(value)}
        for oid, critical, value in single_extensions
    ]
    items: list[object] = []
    for cid in cert_ids:
        if single_exts:
            items.append({"req_cert": cid, "single_request_extensions": single_exts})
        else:  # building from DER is much faster than asn1crypto's dict path
            items.append(aocsp.Request.load(tlv(0x30, cid.dump())))
    tbs: dict[str, object] = {"version": version, "request_list": items}
    exts = []
    if nonce is not None:
        exts.append({"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)})
    if raw_nonce_value is not None:
        exts.append(
            {
                "extn_id": _STAND_IN,
                "critical": False,
                "extn_value": core.ParsableOctetString(raw_nonce_value),
            }
        )
    exts.extend(
        {"extn_id": oid, "critical": critical, "extn_value": core.ParsableOctetString(value)}
        for oid, critical, value in extensions
    )
    if exts:
        tbs["request_extensions"] = exts
    der = aocsp.OCSPRequest({"tbs_request": tbs}).dump()
    if raw_nonce_value is not None:
        assert der.count(_STAND_IN_DER) == 1
        der = der.replace(_STAND_IN_DER, _NONCE_OID)
    return der
