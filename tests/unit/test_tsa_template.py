"""keiin.tsa.template: tokens are strict DER, carry the RFC 3161/5816 profile, and verify with
OpenSSL, cryptography, asn1crypto and pyHanko."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re

import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiin.pki.keys import KeyAlgorithm, generate_private_key
from keiin.tsa import der
from keiin.tsa.request import DIGEST_SIZES, parse_request
from keiin.tsa.response import FailInfo, Rejection, status_of
from keiin.tsa.template import DEFAULT_TSA_POLICY_OID, TokenFactory, TsaProfile, token_of
from tests.unit.test_tsa_support import (
    ALT_POLICY,
    ec_unit,
    grant,
    make_unit,
    openssl,
    openssl_query,
    p384_unit,
    pem,
    request,
    rsa_unit,
    signed_data,
    tst_info,
)

DATA = b"%PDF-1.7 contract body " * 100
UNITS = {"ec-p256": ec_unit, "rsa-3072": rsa_unit, "ec-p384": p384_unit}


def assert_der(response: bytes) -> tsp.TimeStampResp:
    """Re-encoding with asn1crypto (force=True) gives the same bytes: the response is DER.

    asn1crypto's forced re-encoding costs time exponential in the nesting depth (~1 s for a
    token here), so the hypothesis test below uses :func:`assert_parts_der` instead and this
    full check runs on a few examples of each configuration.
    """
    parsed = tsp.TimeStampResp.load(response, strict=True)
    assert parsed.dump(force=True) == response
    return parsed


def assert_tlv_der(data: bytes, start: int = 0, end: int | None = None) -> None:
    """Every constructed TLV has a minimal definite length and its children fill it exactly."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        tag, content_start, content_end = der.read_header(data, pos)
        length_octets = data[pos + 1 : content_start]
        assert length_octets == der.length(content_end - content_start), "non-minimal length"
        if tag & 0x20:
            assert_tlv_der(data, content_start, content_end)
        pos = content_end
    assert pos == end


def assert_parts_der(response: bytes) -> None:
    """DER, checked part by part: the per-request parts (TSTInfo, SignerInfo) re-encode
    identically with asn1crypto, and every TLV of the whole response has minimal lengths."""
    assert_tlv_der(response)
    sd = signed_data(response)
    tst = bytes(sd["encap_content_info"]["content"])
    assert tsp.TSTInfo.load(tst, strict=True).dump(force=True) == tst
    si = sd["signer_infos"][0].dump()
    assert cms.SignerInfo.load(si, strict=True).dump(force=True) == si


def check_signature(unit, response: bytes) -> None:
    """messageDigest and the signature, checked by hand with cryptography."""
    sd = signed_data(response)
    si = sd["signer_infos"][0]
    tst = bytes(sd["encap_content_info"]["content"])
    attrs = {a["type"].native: a["values"][0] for a in si["signed_attrs"]}
    name = si["digest_algorithm"]["algorithm"].native
    assert attrs["message_digest"].native == hashlib.new(name, tst).digest()
    signed = b"\x31" + si["signed_attrs"].dump()[1:]
    public = unit.cert.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(
            si["signature"].native,
            signed,
            ec.ECDSA(hashes.SHA256() if name == "sha256" else hashes.SHA384()),
        )
    else:
        from cryptography.hazmat.primitives.asymmetric import padding

        public.verify(si["signature"].native, signed, padding.PKCS1v15(), hashes.SHA256())


# -- DER and profile ----------------------------------------------------------------------------

requests = st.builds(
    lambda h, fill, nonce, cert_req, policy, null: request(
        bytes([fill]) * DIGEST_SIZES[h],
        hash_algorithm=h,
        nonce=nonce,
        cert_req=cert_req,
        policy=policy,
    ).__class__(h, bytes([fill]) * DIGEST_SIZES[h], policy, nonce, cert_req, null),
    st.sampled_from(sorted(DIGEST_SIZES)),
    st.integers(0, 255),
    st.none() | st.integers(min_value=0, max_value=2**512 - 1),
    st.booleans(),
    st.sampled_from([None, DEFAULT_TSA_POLICY_OID, ALT_POLICY]),
    st.booleans(),
)
moments = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(9999, 12, 31),
    timezones=st.just(dt.UTC),
)
serials = st.integers(min_value=1, max_value=2**160 - 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests, serials, moments)
def test_every_token_is_der_and_echoes_the_request(req, serial, moment):
    unit = ec_unit()
    response = unit.factory.grant(req, serial=serial, gen_time=moment)
    assert_parts_der(response)
    assert status_of(response).granted
    info = tst_info(response)
    assert info["version"].native == "v1"
    assert info["policy"].dotted == (req.policy or DEFAULT_TSA_POLICY_OID)
    imprint = info["message_imprint"]
    assert imprint["hash_algorithm"]["algorithm"].native == req.hash_algorithm
    assert (imprint["hash_algorithm"]["parameters"].dump() == b"\x05\x00") is req.null_parameters
    assert imprint["hashed_message"].native == req.digest
    assert info["serial_number"].native == serial
    assert info["gen_time"].native == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert info["nonce"].native == req.nonce
    assert info["ordering"].native is False
    sd = signed_data(response)
    certs = sd["certificates"]
    assert (len(certs) if req.cert_req else certs.native) == (1 if req.cert_req else None)
    check_signature(unit, response)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests, serials, moments)
def test_asn1crypto_reencodes_whole_responses_identically(req, serial, moment):
    assert_der(ec_unit().factory.grant(req, serial=serial, gen_time=moment))


def test_token_profile():
    unit = ec_unit()
    response = grant(unit, request(cert_req=True))
    sd = signed_data(response)
    assert sd["version"].native == "v3"
    assert [a["algorithm"].native for a in sd["digest_algorithms"]] == ["sha256"]
    assert sd["encap_content_info"]["content_type"].native == "tst_info"
    cert_der = unit.cert.public_bytes(serialization.Encoding.DER)
    assert [c.chosen.dump() for c in sd["certificates"]] == [cert_der]
    (si,) = sd["signer_infos"]
    assert si["version"].native == "v1"
    assert si["sid"].name == "issuer_and_serial_number"
    assert si["sid"].chosen["serial_number"].native == unit.cert.serial_number
    assert si["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
    assert si["signature_algorithm"]["parameters"].native is None
    attrs = [a["type"].native for a in si["signed_attrs"]]
    assert sorted(attrs) == ["content_type", "message_digest", "signing_certificate_v2"]
    (scv2,) = [a["values"][0] for a in si["signed_attrs"] if a["type"].native.endswith("v2")]
    (ess,) = scv2["certs"]
    assert b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01" not in ess.dump()  # DEFAULT omitted
    assert ess["cert_hash"].native == hashlib.sha256(cert_der).digest()
    issuer_serial = ess["issuer_serial"]
    assert issuer_serial["serial_number"].native == unit.cert.serial_number
    assert [g.name for g in issuer_serial["issuer"]] == ["directory_name"]
    assert issuer_serial["issuer"][0].chosen == ax509.Certificate.load(cert_der).issuer
    info = tst_info(response)
    assert info["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert info["tsa"].name == "directory_name"
    assert info["tsa"].chosen == ax509.Certificate.load(cert_der).subject
    # cryptography reads the certificates of the token
    assert pkcs7.load_der_pkcs7_certificates(token_of(response)) == [unit.cert]


@pytest.mark.parametrize(
    ("accuracy", "expected", "openssl_text"),
    [
        ((1, 0, 0), {"seconds": 1, "millis": None, "micros": None}, "0x01 seconds, unspecified"),
        (
            (0, 500, 0),
            {"seconds": None, "millis": 500, "micros": None},
            "unspecified seconds, 0x01F4 millis",
        ),
        (
            (2, 0, 7),
            {"seconds": 2, "millis": None, "micros": 7},
            "0x02 seconds, unspecified millis, 0x07 micros",
        ),
        ((0, 0, 0), None, "unspecified"),
    ],
)
def test_accuracy_is_der_and_shown_by_openssl(tmp_path, accuracy, expected, openssl_text):
    seconds, millis, micros = accuracy
    unit = make_unit(
        accuracy_seconds=seconds,
        accuracy_millis=millis,
        accuracy_micros=micros,
        include_tsa_name=False,
    )
    response = grant(unit, request())
    assert_parts_der(response)
    assert tst_info(response)["accuracy"].native == expected
    assert tst_info(response)["tsa"].native is None
    (tmp_path / "r.tsr").write_bytes(response)
    text = openssl("ts", "-reply", "-in", tmp_path / "r.tsr", "-text").stdout
    assert f"Accuracy: {openssl_text}" in text
    assert "TSA: unspecified" in text


def test_p384_key_uses_sha384_throughout():
    unit = p384_unit()
    response = grant(unit, request(cert_req=False))
    assert_der(response)
    sd = signed_data(response)
    assert [a["algorithm"].native for a in sd["digest_algorithms"]] == ["sha384"]
    si = sd["signer_infos"][0]
    assert si["digest_algorithm"]["algorithm"].native == "sha384"
    assert si["signature_algorithm"]["algorithm"].native == "sha384_ecdsa"
    check_signature(unit, response)


def test_rsa_key_uses_sha256_with_rsa():
    unit = rsa_unit()
    response = grant(unit, request())
    assert_der(response)
    si = signed_data(response)["signer_infos"][0]
    assert si["signature_algorithm"]["algorithm"].native == "sha256_rsa"
    assert si["signature_algorithm"]["parameters"].native is None
    assert si["signature_algorithm"]["parameters"].dump() == b"\x05\x00"
    check_signature(unit, response)


def test_chain_only_with_cert_req_and_include_chain():
    unit = make_unit(include_chain=True)
    with_chain = signed_data(grant(unit, request(cert_req=True)))["certificates"]
    got = {x509.load_der_x509_certificate(c.chosen.dump()) for c in with_chain}
    assert got == {unit.cert, unit.root}
    assert signed_data(grant(unit, request(cert_req=False)))["certificates"].native is None
    assert_der(grant(unit, request(cert_req=True)))
    assert len(signed_data(grant(ec_unit(), request(cert_req=True)))["certificates"]) == 1


# -- policies and arguments ------------------------------------------------------------------


def test_policy_selection():
    factory = ec_unit().factory
    assert factory.select_policy(request(policy=None)) == DEFAULT_TSA_POLICY_OID
    assert factory.select_policy(request(policy=ALT_POLICY)) == ALT_POLICY
    with pytest.raises(Rejection) as info:
        factory.select_policy(request(policy="1.2.3.4.5.6.7.8.9"))
    assert info.value.fail_info is FailInfo.UNACCEPTED_POLICY
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(Rejection) as info:
        factory.grant(request(), serial=5, gen_time=now, policy="1.2.3.4.5")
    assert info.value.fail_info is FailInfo.UNACCEPTED_POLICY
    response = factory.grant(request(policy=ALT_POLICY), serial=5, gen_time=now)
    assert tst_info(response)["policy"].dotted == ALT_POLICY
    response = factory.grant(request(), serial=5, gen_time=now, policy=ALT_POLICY)
    assert tst_info(response)["policy"].dotted == ALT_POLICY


@pytest.mark.parametrize("serial", [0, -1, 2**160])
def test_bad_serials_refused(serial):
    with pytest.raises(ValueError):
        ec_unit().factory.grant(request(), serial=serial, gen_time=dt.datetime.now(dt.UTC))


def test_naive_gen_time_refused():
    with pytest.raises(ValueError):
        ec_unit().factory.grant(request(), serial=1, gen_time=dt.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("req", "fail"),
    [
        (request(b"\x00" * 31), FailInfo.BAD_DATA_FORMAT),
        (request(hash_algorithm="sha1", digest=b"\x00" * 20), FailInfo.BAD_ALG),
        (request(nonce=-5), FailInfo.BAD_DATA_FORMAT),
    ],
)
def test_requests_parse_request_would_refuse(req, fail):
    with pytest.raises(Rejection) as info:
        ec_unit().factory.grant(req, serial=1, gen_time=dt.datetime.now(dt.UTC))
    assert info.value.fail_info is fail


def test_profile_checks():
    unit = ec_unit()
    other_key = generate_private_key(KeyAlgorithm.EC_P256)
    with pytest.raises(ValueError, match="does not match"):
        TsaProfile(unit.cert, other_key)
    for bad in (
        {"policies": ()},
        {"policies": ("not.an.oid",)},
        {"accuracy_seconds": -1},
        {"accuracy_millis": 1000},
        {"accuracy_micros": -1},
    ):
        with pytest.raises(ValueError):
            TsaProfile(unit.cert, unit.key, **bad)
    assert TokenFactory(TsaProfile(unit.cert, unit.key)).default_policy == DEFAULT_TSA_POLICY_OID


def test_token_of():
    response = grant(ec_unit(), request())
    token = token_of(response)
    assert response.endswith(token)
    assert cms.ContentInfo.load(token)["content_type"].native == "signed_data"
    assert status_of(response).granted
    from keiin.tsa.response import rejection_response

    for junk in (rejection_response(FailInfo.BAD_ALG, "no"), b"", b"\x30\x00", response + b"\x00"):
        with pytest.raises(ValueError):
            token_of(junk)


# -- independent verifiers ---------------------------------------------------------------------


@pytest.mark.parametrize("unit_name", ["ec-p256", "rsa-3072"])
@pytest.mark.parametrize("cert_req", [True, False])
def test_openssl_verifies(tmp_path, unit_name, cert_req):
    unit = UNITS[unit_name]()
    options = ["-sha256", "-cert"] if cert_req else ["-sha256"]
    query = openssl_query(tmp_path, DATA, *options)
    response = unit.factory.grant(
        parse_request(query), serial=2**100 + 7, gen_time=dt.datetime.now(dt.UTC)
    )
    (tmp_path / "r.tsr").write_bytes(response)
    (tmp_path / "ca.pem").write_bytes(pem(unit.root))
    (tmp_path / "tsa.pem").write_bytes(pem(unit.cert))
    untrusted = [] if cert_req else ["-untrusted", tmp_path / "tsa.pem"]
    common = ["ts", "-verify", "-in", tmp_path / "r.tsr", "-CAfile", tmp_path / "ca.pem"]
    result = openssl(*common, "-queryfile", tmp_path / "q.tsq", *untrusted)
    assert "Verification: OK" in result.stdout, result.stdout + result.stderr
    result = openssl(*common, "-data", tmp_path / "data.bin", *untrusted)
    assert "Verification: OK" in result.stdout, result.stdout + result.stderr
    (tmp_path / "data.bin").write_bytes(DATA + b"x")
    result = openssl(*common, "-data", tmp_path / "data.bin", *untrusted)
    assert result.returncode != 0
    assert "Verification: OK" not in result.stdout


@pytest.mark.parametrize("hash_name", ["sha384", "sha512"])
def test_openssl_verifies_other_imprints_and_p384(tmp_path, hash_name):
    for unit in (ec_unit(), p384_unit()):
        query = openssl_query(tmp_path, DATA, f"-{hash_name}", "-cert")
        response = grant(unit, parse_request(query))
        (tmp_path / "r.tsr").write_bytes(response)
        (tmp_path / "ca.pem").write_bytes(pem(unit.root))
        result = openssl(
            "ts",
            "-verify",
            "-in",
            tmp_path / "r.tsr",
            "-queryfile",
            tmp_path / "q.tsq",
            "-CAfile",
            tmp_path / "ca.pem",
        )
        assert "Verification: OK" in result.stdout, result.stdout + result.stderr


def test_openssl_shows_nonce_policy_accuracy_and_signing_certificate_v2(tmp_path):
    unit = ec_unit()
    query = openssl_query(tmp_path, DATA, "-sha256", "-cert", "-tspolicy", ALT_POLICY)
    req = parse_request(query)
    response = grant(unit, req)
    (tmp_path / "r.tsr").write_bytes(response)
    text = openssl("ts", "-reply", "-in", tmp_path / "r.tsr", "-text").stdout
    assert "Status: Granted." in text
    assert int(re.search(r"Nonce: 0x([0-9A-F]+)", text)[1], 16) == req.nonce
    assert f"Policy OID: {ALT_POLICY}" in text
    assert "Accuracy: 0x01 seconds, unspecified millis, unspecified micros" in text
    assert "Ordering: no" in text
    assert "TSA: DirName:" in text
    assert re.search(r"Time stamp: \w+ +\d+ \d\d:\d\d:\d\d(\.\d+)? \d{4} GMT", text)
    result = openssl(
        "ts", "-reply", "-in", tmp_path / "r.tsr", "-token_out", "-out", tmp_path / "t.der"
    )
    assert result.returncode == 0
    parsed = openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "t.der").stdout
    assert "id-smime-aa-signingCertificateV2" in parsed
    # OpenSSL's CMS parser takes it as well
    cms_text = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", tmp_path / "t.der")
    assert cms_text.returncode == 0, cms_text.stderr
    assert "id-smime-ct-TSTInfo" in cms_text.stdout


@pytest.mark.parametrize("unit_name", ["ec-p256", "rsa-3072", "ec-p384"])
def test_pyhanko_validates_the_token(unit_name):
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    unit = UNITS[unit_name]()
    digest = hashlib.sha256(DATA).digest()
    response = grant(unit, request(digest, cert_req=True))
    context = ValidationContext(
        trust_roots=[ax509.Certificate.load(unit.root.public_bytes(serialization.Encoding.DER))],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    kwargs = asyncio.run(
        validate_tst_signed_data(signed_data(response), context, lambda _algo: digest)
    )
    status = TimestampSignatureStatus(**kwargs)
    assert status.intact
    assert status.valid
    assert status.trusted
    wrong = asyncio.run(
        validate_tst_signed_data(signed_data(response), context, lambda _algo: b"\x00" * 32)
    )
    assert not wrong["intact"]
