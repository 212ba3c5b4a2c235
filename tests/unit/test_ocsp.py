"""keiin.pki.ocsp: request parsing, CA matching, response signing."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from asn1crypto import core
from asn1crypto import ocsp as aocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509 import ocsp as cocsp

from keiin.pki import ocsp
from keiin.pki.ocsp import (
    MAX_CERT_IDS,
    MAX_REQUEST_BYTES,
    UNKNOWN,
    MalformedRequestError,
    OcspAuthority,
    ResponderSigner,
    parse_request,
)
from keiin.pki.revocation import RevocationReason, RevokedEntry
from tests.unit.ocsp_requests import asn1_request, cert_id, crypto_request, key_bits, tlv

NOW = dt.datetime(2031, 5, 6, 7, 8, 9, 654321, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- parse_request


@pytest.mark.parametrize("hash_name", ["sha1", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("nonce", [None, b"\x01", b"n" * 16, b"\xff" * 32])
def test_parse_cryptography_request(pki, hash_name, nonce):
    der = crypto_request(pki.signer, pki.issuing.certificate, hash_name=hash_name, nonce=nonce)
    query = parse_request(der)
    expected = cocsp.load_der_ocsp_request(der)
    assert query.nonce == nonce
    assert len(query.cert_ids) == 1
    cid = query.cert_ids[0]
    assert cid.hash_algorithm == hash_name
    assert cid.serial == pki.signer.serial_number
    assert cid.issuer_name_hash == expected.issuer_name_hash
    assert cid.issuer_key_hash == expected.issuer_key_hash
    assert cid.issuer_key_hash == hashlib.new(hash_name, key_bits(pki.issuing.certificate)).digest()


def test_parse_several_cert_ids(pki):
    ids = [cert_id(pki.issuing.certificate, s) for s in range(1, MAX_CERT_IDS + 1)]
    query = parse_request(asn1_request(ids, nonce=b"abc"))
    assert [c.serial for c in query.cert_ids] == list(range(1, MAX_CERT_IDS + 1))
    assert query.nonce == b"abc"


def test_parse_ignores_non_critical_unknown_extensions(pki):
    der = asn1_request(
        [cert_id(pki.issuing.certificate, 5)],
        extensions=[
            (
                "acceptable_responses",
                False,
                aocsp.AcceptableResponses(["basic_ocsp_response"]).dump(),
            ),
            ("1.2.3.4", False, b"\xff\xff not DER"),
        ],
        single_extensions=[("1.2.3.4", False, b"\x05\x00")],
    )
    query = parse_request(der)
    assert query.nonce is None
    assert query.cert_ids[0].serial == 5


def _reject(der: bytes, match: str) -> None:
    with pytest.raises(MalformedRequestError, match=match):
        parse_request(der)


def test_rejects_empty():
    _reject(b"", "empty")


def test_rejects_oversize(pki):
    good = crypto_request(pki.signer, pki.issuing.certificate)
    _reject(good + b"\x00" * (MAX_REQUEST_BYTES + 1 - len(good)), "larger than")
    _reject(b"\x30" * 10_000_000, "larger than")


def test_rejects_trailing_garbage(pki):
    good = crypto_request(pki.signer, pki.issuing.certificate)
    parse_request(good)
    for tail in (b"\x00", b"\x00\x00", good):
        _reject(good + tail, "not a DER OCSPRequest")


def test_rejects_garbage():
    for junk in (b"\x00", b"hello world", b"\x30", b"\x30\x00", b"\x30\x80\x00\x00", b"\xff" * 64):
        with pytest.raises(MalformedRequestError):
            parse_request(junk)


def test_rejects_too_many_cert_ids(pki):
    ids = [cert_id(pki.issuing.certificate, s) for s in range(1, MAX_CERT_IDS + 2)]
    _reject(asn1_request(ids), "more than 32")


def test_rejects_no_cert_ids():
    _reject(asn1_request([]), "no certificate")


@pytest.mark.parametrize("size", [0, 33, 100])
def test_rejects_bad_nonce_length(pki, size):
    _reject(asn1_request([cert_id(pki.issuing.certificate, 5)], nonce=b"x" * size), "1 to 32")


def test_rejects_nonce_that_is_not_an_octet_string(pki):
    der = asn1_request(
        [cert_id(pki.issuing.certificate, 5)], raw_nonce_value=core.Integer(12345).dump()
    )
    _reject(der, "OCTET STRING")


def test_rejects_nonce_with_trailing_bytes(pki):
    # Found by this suite: the nonce's extnValue was parsed leniently, trailing bytes ignored.
    raw = core.OctetString(b"abc").dump() + b"\x00"
    der = asn1_request([cert_id(pki.issuing.certificate, 5)], raw_nonce_value=raw)
    _reject(der, "OCTET STRING")
    ok = asn1_request([cert_id(pki.issuing.certificate, 5)], raw_nonce_value=raw[:-1])
    assert parse_request(ok).nonce == b"abc"


def test_rejects_raw_nonce_bytes(pki):
    # Some old clients put the nonce bytes straight into extnValue, without the OCTET STRING.
    der = asn1_request([cert_id(pki.issuing.certificate, 5)], raw_nonce_value=b"\x01\x02\x03")
    with pytest.raises(MalformedRequestError):
        parse_request(der)


def test_rejects_unknown_critical_extensions(pki):
    cid = [cert_id(pki.issuing.certificate, 5)]
    _reject(asn1_request(cid, extensions=[("1.2.3.4", True, b"\x05\x00")]), "critical request")
    _reject(asn1_request(cid, single_extensions=[("1.2.3.4", True, b"\x05\x00")]), "single-request")


def test_rejects_other_versions(pki):
    _reject(asn1_request([cert_id(pki.issuing.certificate, 5)], version=1), "version")


def _raw_request(cert_id_der: bytes) -> bytes:
    """OCSPRequest { TBSRequest { requestList { Request { <cert_id_der> } } } }, by hand."""
    return tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, cert_id_der))))


def _raw_cert_id(
    *,
    params: bytes = b"\x05\x00",
    oid: bytes = bytes.fromhex("06052b0e03021a"),  # sha1
    name_hash: bytes | None = None,
    key_hash: bytes | None = None,
    serial: bytes = b"\x02\x01\x05",
    extra: bytes = b"",
) -> bytes:
    name_hash = name_hash if name_hash is not None else tlv(0x04, b"n" * 20)
    key_hash = key_hash if key_hash is not None else tlv(0x04, b"k" * 20)
    return tlv(0x30, tlv(0x30, oid + params) + name_hash + key_hash + serial + extra)


def test_raw_cert_id_baseline_is_accepted():
    for params in (b"\x05\x00", b""):  # NULL parameters or none: both are DER
        query = parse_request(_raw_request(_raw_cert_id(params=params)))
        assert query.cert_ids[0].serial == 5
        assert query.cert_ids[0].issuer_name_hash == b"n" * 20
    big = parse_request(_raw_request(_raw_cert_id(serial=b"\x02\x02\x00\x80")))
    assert big.cert_ids[0].serial == 0x80
    negative = parse_request(_raw_request(_raw_cert_id(serial=b"\x02\x01\xff")))
    assert negative.cert_ids[0].serial == -1


@pytest.mark.parametrize(
    "cid",
    [
        _raw_cert_id(params=b"\x04\x00"),  # OCTET STRING where NULL belongs
        _raw_cert_id(params=b"\x05\x01\x00"),  # NULL with content
        _raw_cert_id(params=b"\x05\x00\x05\x00"),  # two parameters
        _raw_cert_id(serial=b"\x02\x02\x00\x05"),  # non-minimal INTEGER
        _raw_cert_id(serial=b"\x02\x02\xff\xff"),  # non-minimal negative INTEGER
        _raw_cert_id(serial=b"\x02\x00"),  # empty INTEGER
        _raw_cert_id(name_hash=b"\x24\x04" + tlv(0x04, b"nn")),  # constructed OCTET STRING
        _raw_cert_id(name_hash=b"\x04\x81\x14" + b"n" * 20),  # non-minimal length
        _raw_cert_id(extra=b"\x05\x00"),  # a trailing field
        _raw_cert_id(oid=bytes.fromhex("06062b0e0302801a")),  # OID arc padded with 0x80
    ],
    ids=[
        "params-octet-string",
        "params-null-with-content",
        "params-twice",
        "serial-non-minimal",
        "serial-non-minimal-negative",
        "serial-empty",
        "hash-constructed",
        "hash-long-length",
        "trailing-field",
        "oid-padded",
    ],
)
def test_rejects_non_der_cert_ids(cid):
    """Found by the endpoint fuzz: such CertIDs were echoed into signed responses that
    OpenSSL/cryptography cannot parse."""
    with pytest.raises(MalformedRequestError):
        parse_request(_raw_request(cid))


# --------------------------------------------------------------------------- OcspAuthority


@pytest.mark.parametrize("hash_name", ["sha1", "sha256", "sha384", "sha512"])
def test_authority_claims_its_own_cert_ids(pki, other_pki, hash_name):
    issuing = OcspAuthority.from_certificate(7, pki.issuing.certificate)
    root = OcspAuthority.from_certificate(8, pki.root.certificate)
    foreign = OcspAuthority.from_certificate(9, other_pki.issuing.certificate)
    query = parse_request(crypto_request(pki.signer, pki.issuing.certificate, hash_name=hash_name))
    cid = query.cert_ids[0]
    assert issuing.claims(cid)
    assert not root.claims(cid)
    assert not foreign.claims(cid)
    assert issuing.ca_id == 7


def test_authority_needs_both_hashes(pki, other_pki):
    authority = OcspAuthority.from_certificate(1, pki.issuing.certificate)
    mine = cert_id(pki.issuing.certificate, 5)
    theirs = cert_id(other_pki.issuing.certificate, 5)
    mixed = aocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": mine["issuer_name_hash"].native,
            "issuer_key_hash": theirs["issuer_key_hash"].native,
            "serial_number": 5,
        }
    )
    assert not authority.claims(parse_request(asn1_request([mixed])).cert_ids[0])


def test_authority_ignores_unsupported_hashes(pki):
    authority = OcspAuthority.from_certificate(1, pki.issuing.certificate)
    query = parse_request(crypto_request(pki.signer, pki.issuing.certificate, hash_name="sha224"))
    assert query.cert_ids[0].hash_algorithm == "sha224"
    assert not authority.claims(query.cert_ids[0])
    md5 = parse_request(asn1_request([cert_id(pki.issuing.certificate, 5, "md5")])).cert_ids[0]
    assert md5.hash_algorithm == "md5"
    assert not authority.claims(md5)


# --------------------------------------------------------------------------- signing


def _sign(pki, answers, *, nonce=None, signer=None, produced_at=NOW):
    signer = signer or ResponderSigner(pki.ocsp, pki.ocsp_key)
    body = signer.sign(answers, produced_at=produced_at, validity=DAY, nonce=nonce)
    return body, cocsp.load_der_ocsp_response(body)


def _verify_signature(response: cocsp.OCSPResponse, responder: x509.Certificate) -> None:
    key = responder.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(
            response.signature,
            response.tbs_response_bytes,
            ec.ECDSA(response.signature_hash_algorithm),
        )
    else:
        key.verify(
            response.signature,
            response.tbs_response_bytes,
            padding.PKCS1v15(),
            response.signature_hash_algorithm,
        )


def _query(pki, serial=None, *, nonce=None, hash_name="sha1"):
    issuer = pki.issuing.certificate
    der = asn1_request(
        [cert_id(issuer, serial or pki.signer.serial_number, hash_name)], nonce=nonce
    )
    return parse_request(der)


def test_good_response(pki):
    query = _query(pki)
    body, resp = _sign(pki, [(query.cert_ids[0], None)])
    assert resp.response_status is cocsp.OCSPResponseStatus.SUCCESSFUL
    _verify_signature(resp, pki.ocsp)
    pki.ocsp.verify_directly_issued_by(pki.issuing.certificate)
    assert resp.certificate_status is cocsp.OCSPCertStatus.GOOD
    assert resp.serial_number == pki.signer.serial_number
    assert resp.issuer_key_hash == query.cert_ids[0].issuer_key_hash
    assert resp.issuer_name_hash == query.cert_ids[0].issuer_name_hash
    echoed = _asn1_basic(body)["tbs_response_data"]["responses"][0]["cert_id"]
    assert echoed.dump() == query.cert_ids[0].asn1.dump()  # the CertID, byte for byte
    assert isinstance(resp.hash_algorithm, hashes.SHA1)
    assert resp.produced_at_utc == NOW.replace(microsecond=0)
    assert resp.this_update_utc == NOW.replace(microsecond=0)
    assert resp.next_update_utc == NOW.replace(microsecond=0) + DAY
    assert resp.certificates == [pki.ocsp]
    assert resp.responder_name is None
    ski = x509.SubjectKeyIdentifier.from_public_key(pki.ocsp.public_key()).digest
    assert resp.responder_key_hash == ski  # byKey: SHA-1 of the responder's public key bits
    with pytest.raises(x509.ExtensionNotFound):
        resp.extensions.get_extension_for_class(x509.OCSPNonce)


def test_signature_does_not_verify_with_another_key(pki):
    _, resp = _sign(pki, [(_query(pki).cert_ids[0], None)])
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        _verify_signature(resp, pki.signer)


def test_revoked_response_with_reason_and_time(pki):
    revoked_at = NOW - dt.timedelta(hours=5, microseconds=17)
    invalid = NOW - dt.timedelta(days=2, microseconds=3)
    entry = RevokedEntry(
        pki.signer.serial_number, revoked_at, RevocationReason.KEY_COMPROMISE, invalid
    )
    body, resp = _sign(pki, [(_query(pki).cert_ids[0], entry)])
    _verify_signature(resp, pki.ocsp)
    assert resp.certificate_status is cocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_time_utc == revoked_at.replace(microsecond=0)
    assert resp.revocation_reason is x509.ReasonFlags.key_compromise
    single = _asn1_basic(body)["tbs_response_data"]["responses"][0]
    exts = {e["extn_id"].native: e["extn_value"].native for e in single["single_extensions"]}
    assert exts == {"invalidity_date": invalid.replace(microsecond=0)}


@pytest.mark.parametrize("reason", list(RevocationReason))
def test_every_reason_in_responses(pki, reason):
    entry = RevokedEntry(pki.signer.serial_number, NOW, reason)
    _, resp = _sign(pki, [(_query(pki).cert_ids[0], entry)])
    assert resp.certificate_status is cocsp.OCSPCertStatus.REVOKED
    if reason is RevocationReason.UNSPECIFIED:
        assert resp.revocation_reason is None  # omitted, as in the CRL
    else:
        assert resp.revocation_reason is reason.flag


def test_unknown_response(pki):
    _, resp = _sign(pki, [(_query(pki, 12345).cert_ids[0], UNKNOWN)])
    _verify_signature(resp, pki.ocsp)
    assert resp.certificate_status is cocsp.OCSPCertStatus.UNKNOWN
    assert resp.serial_number == 12345


def test_several_answers_keep_their_order(pki):
    ids = [cert_id(pki.issuing.certificate, s) for s in (11, 22, 33)]
    query = parse_request(asn1_request(ids))
    statuses = [None, RevokedEntry(22, NOW, RevocationReason.SUPERSEDED), UNKNOWN]
    _, resp = _sign(pki, list(zip(query.cert_ids, statuses, strict=True)))
    singles = list(resp.responses)
    assert [s.serial_number for s in singles] == [11, 22, 33]
    assert [s.certificate_status for s in singles] == [
        cocsp.OCSPCertStatus.GOOD,
        cocsp.OCSPCertStatus.REVOKED,
        cocsp.OCSPCertStatus.UNKNOWN,
    ]
    assert singles[1].revocation_reason is x509.ReasonFlags.superseded


@pytest.mark.parametrize("nonce", [b"\x00", b"0123456789abcdef", bytes(range(32))])
def test_nonce_is_echoed(pki, nonce):
    query = _query(pki, nonce=nonce)
    _, resp = _sign(pki, [(query.cert_ids[0], None)], nonce=query.nonce)
    _verify_signature(resp, pki.ocsp)
    ext = resp.extensions.get_extension_for_class(x509.OCSPNonce)
    assert not ext.critical
    assert ext.value.nonce == nonce


def _asn1_basic(body: bytes) -> aocsp.BasicOCSPResponse:
    return aocsp.OCSPResponse.load(body)["response_bytes"]["response"].parsed


def test_times_have_no_fractional_seconds(pki):
    entry = RevokedEntry(
        1,
        NOW - dt.timedelta(microseconds=999_999),
        RevocationReason.SUPERSEDED,
        NOW - dt.timedelta(days=1, microseconds=1),
    )
    ids = [cert_id(pki.issuing.certificate, s) for s in (1, 2)]
    query = parse_request(asn1_request(ids))
    body, _ = _sign(pki, [(query.cert_ids[0], entry), (query.cert_ids[1], None)])
    tbs = _asn1_basic(body)["tbs_response_data"]
    times = [tbs["produced_at"]]
    for single in tbs["responses"]:
        times += [single["this_update"], single["next_update"]]
        if single["cert_status"].name == "revoked":
            times.append(single["cert_status"].chosen["revocation_time"])
            times += [e["extn_value"].parsed for e in single["single_extensions"]]
    assert len(times) == 7
    for value in times:
        raw = value.contents
        assert b"." not in raw and raw.endswith(b"Z") and len(raw) == 15, raw


def test_naive_produced_at_is_not_supported_silently(pki):
    # A timezone-aware time is expected; the result must be in UTC either way.
    jst = dt.timezone(dt.timedelta(hours=9))
    _, resp = _sign(pki, [(_query(pki).cert_ids[0], None)], produced_at=NOW.astimezone(jst))
    assert resp.produced_at_utc == NOW.replace(microsecond=0)


def test_extra_certificates_are_included(pki):
    signer = ResponderSigner(pki.ocsp, pki.ocsp_key, [pki.issuing.certificate])
    _, resp = _sign(pki, [(_query(pki).cert_ids[0], None)], signer=signer)
    assert resp.certificates == [pki.ocsp, pki.issuing.certificate]


def test_ca_signs_its_own_responses_rsa(rsa_pki):
    signer = ResponderSigner(rsa_pki.issuing.certificate, rsa_pki.issuing.key)
    query = parse_request(crypto_request(rsa_pki.signer, rsa_pki.issuing.certificate))
    body = signer.sign([(query.cert_ids[0], None)], produced_at=NOW, validity=DAY)
    resp = cocsp.load_der_ocsp_response(body)
    assert resp.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
    _verify_signature(resp, rsa_pki.issuing.certificate)
    assert resp.certificate_status is cocsp.OCSPCertStatus.GOOD


@pytest.mark.parametrize(
    ("constant", "status"),
    [
        (ocsp.MALFORMED_REQUEST, cocsp.OCSPResponseStatus.MALFORMED_REQUEST),
        (ocsp.INTERNAL_ERROR, cocsp.OCSPResponseStatus.INTERNAL_ERROR),
        (ocsp.TRY_LATER, cocsp.OCSPResponseStatus.TRY_LATER),
        (ocsp.UNAUTHORIZED, cocsp.OCSPResponseStatus.UNAUTHORIZED),
    ],
)
def test_error_responses(constant, status):
    assert cocsp.load_der_ocsp_response(constant).response_status is status
    assert len(constant) == 5  # SEQUENCE { ENUMERATED }, no responseBytes
