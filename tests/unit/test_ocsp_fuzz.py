"""Fuzzing keiin.pki.ocsp.parse_request: it returns an OcspQuery or raises
MalformedRequestError, and nothing else, whatever the bytes."""

from __future__ import annotations

import datetime as dt

from asn1crypto import ocsp as aocsp
from cryptography.x509 import ocsp as cocsp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keiin.pki.keys import KeyAlgorithm
from keiin.pki.ocsp import (
    MAX_REQUEST_BYTES,
    MalformedRequestError,
    OcspQuery,
    ResponderSigner,
    parse_request,
)
from tests.unit.ocsp_requests import asn1_request, cert_id, crypto_request, tlv
from tests.unit.pki_factory import build_pki

_PKI = build_pki(KeyAlgorithm.EC_P256)
_ISSUER = _PKI.issuing.certificate
_SIGNER = ResponderSigner(_PKI.ocsp, _PKI.ocsp_key)
_SIGNABLE = {"sha1", "sha256", "sha384", "sha512"}  # what OcspAuthority answers for
VALID = [
    crypto_request(_PKI.signer, _ISSUER),
    crypto_request(_PKI.signer, _ISSUER, hash_name="sha256", nonce=b"0123456789abcdef"),
    asn1_request(
        [cert_id(_ISSUER, s, "sha256") for s in (1, 2**64, 2**126 + 5)],
        nonce=b"\x00" * 32,
        extensions=[("1.2.3.4", False, b"\x05\x00")],
        single_extensions=[("1.2.3.5", False, b"\x01\x01\xff")],
    ),
]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(der: bytes) -> OcspQuery | None:
    """The property: a query or MalformedRequestError, never anything else."""
    try:
        query = parse_request(der)
    except MalformedRequestError as exc:
        assert str(exc)  # always says why
        return None
    assert isinstance(query, OcspQuery)
    assert 1 <= len(query.cert_ids) <= 32
    assert query.nonce is None or 1 <= len(query.nonce) <= 32
    for cid in query.cert_ids:
        assert isinstance(cid.serial, int)
        assert isinstance(cid.issuer_name_hash, bytes)
        assert isinstance(cid.issuer_key_hash, bytes)
        assert isinstance(cid.hash_algorithm, str)
    if all(c.hash_algorithm in _SIGNABLE for c in query.cert_ids):
        # What the responder would sign must parse with strict DER parsers.
        body = _SIGNER.sign(
            [(c, None) for c in query.cert_ids],
            produced_at=dt.datetime.now(dt.UTC),
            validity=dt.timedelta(hours=1),
            nonce=query.nonce,
        )
        aocsp.OCSPResponse.load(body).native  # noqa: B018 - parse every field
        response = cocsp.load_der_ocsp_response(body)
        singles = list(response.responses)
        assert [s.serial_number for s in singles] == [c.serial for c in query.cert_ids]
        assert [s.issuer_key_hash for s in singles] == [c.issuer_key_hash for c in query.cert_ids]
    return query


def test_the_seeds_are_valid():
    for der in VALID:
        assert check(der) is not None


@FUZZ
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x30\x80" * 2000)
@example(b"\x30\x84\xff\xff\xff\xff")
@example(b"\x30\x89" + b"\xff" * 9)
def test_arbitrary_bytes(der):
    check(der)


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_truncations(seed, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(seed) - 1))
    assert check(seed[:cut]) is None  # a strict DER prefix is never a whole request


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_bit_flips(seed, data):
    flips = data.draw(
        st.lists(st.integers(min_value=0, max_value=len(seed) * 8 - 1), min_size=1, max_size=6)
    )
    mutated = bytearray(seed)
    for bit in flips:
        mutated[bit // 8] ^= 1 << (bit % 8)
    check(bytes(mutated))


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_splices(seed, data):
    """Insert, delete or overwrite byte runs anywhere in a valid request."""
    start = data.draw(st.integers(min_value=0, max_value=len(seed)))
    stop = data.draw(st.integers(min_value=start, max_value=len(seed)))
    insert = data.draw(st.binary(max_size=64))
    check(seed[:start] + insert + seed[stop:])


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=MAX_REQUEST_BYTES + 1, max_value=1_000_000), st.binary(max_size=8))
def test_huge_inputs(size, pattern):
    blob = (VALID[0] + (pattern or b"\x00") * size)[:size]
    try:
        parse_request(blob)
    except MalformedRequestError as exc:
        assert "larger than" in str(exc)
    else:
        raise AssertionError("a request over the size limit was accepted")


_primitive = st.builds(
    tlv,
    st.sampled_from([0x01, 0x02, 0x04, 0x05, 0x06, 0x0A, 0x13, 0x18, 0x80, 0x81, 0x82, 0xA0]),
    st.binary(max_size=24),
)
_der_trees = st.recursive(
    _primitive,
    lambda children: st.builds(
        lambda tag, parts: tlv(tag, b"".join(parts)),
        st.sampled_from([0x30, 0x31, 0xA0, 0xA1, 0xA2]),
        st.lists(children, max_size=5),
    ),
    max_leaves=40,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_der_trees)
def test_well_formed_der_of_the_wrong_shape(der):
    check(der)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    serials=st.lists(st.integers(min_value=-(2**200), max_value=2**200), min_size=1, max_size=40),
    hash_name=st.sampled_from(["sha1", "sha224", "sha256", "sha384", "sha512", "md5"]),
    nonce=st.none() | st.binary(max_size=40),
    critical=st.booleans(),
    version=st.integers(min_value=0, max_value=3),
)
# -128 is DER 02 01 80: the CertID check once expected a non-minimal FF 80 for -(2**k).
@example(serials=[-128, -32768], hash_name="sha1", nonce=None, critical=False, version=0)
def test_structured_requests(serials, hash_name, nonce, critical, version):
    der = asn1_request(
        [cert_id(_ISSUER, s, hash_name) for s in serials],
        nonce=nonce,
        extensions=[("1.2.3.4", critical, b"\x05\x00")],
        version=version,
    )
    query = check(der)
    acceptable = (
        len(serials) <= 32
        and (nonce is None or 1 <= len(nonce) <= 32)
        and not critical
        and version == 0
    )
    assert (query is not None) == acceptable
    if query is not None:
        assert [c.serial for c in query.cert_ids] == serials
        assert {c.hash_algorithm for c in query.cert_ids} == {hash_name}
        assert query.nonce == nonce
