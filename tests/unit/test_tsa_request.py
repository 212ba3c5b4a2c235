"""keiin.tsa.request.parse_request: what it accepts, what it rejects and why, and that no
bytes whatever make it raise anything but Rejection (hypothesis)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keiin.tsa import der
from keiin.tsa.request import (
    HASH_OIDS,
    MAX_NONCE_OCTETS,
    MAX_REQUEST_BYTES,
    TimeStampRequest,
    _fast_parse,
    parse_request,
    parse_request_asn1,
)
from keiin.tsa.response import FailInfo, Rejection
from tests.unit.test_tsa_support import ALT_POLICY, openssl, openssl_query

DATA = b"contract.pdf \xe5\xa5\x91\xe5\x8d\xb0" * 50
SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
NULL = b"\x05\x00"


def raw_request(
    *,
    version: int = 1,
    alg: str = HASH_OIDS["sha256"],
    params: bytes | None = NULL,
    digest: bytes = b"\x22" * 32,
    policy: str | None = None,
    nonce: int | None = None,
    cert_req: bytes | None = None,
    extensions: bytes | None = None,
    trailing: bytes = b"",
) -> bytes:
    """A TimeStampReq built field by field (``cert_req``: the raw BOOLEAN TLV)."""
    seq = der.SEQUENCE
    imprint = der.tlv(seq, der.tlv(seq, der.oid(alg) + (params or b"")) + der.tlv(4, digest))
    body = der.integer(version) + imprint
    if policy is not None:
        body += der.oid(policy)
    if nonce is not None:
        body += der.integer(nonce)
    if cert_req is not None:
        body += cert_req
    if extensions is not None:
        body += der.tlv(0xA0, extensions)
    return der.tlv(seq, body) + trailing


def rejected(body: bytes) -> Rejection:
    with pytest.raises(Rejection) as info:
        parse_request(body)
    assert info.value.text
    return info.value


# -- what OpenSSL sends -------------------------------------------------------------------------


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("cert", [True, False])
@pytest.mark.parametrize("with_nonce", [True, False])
@pytest.mark.parametrize("policy", [None, ALT_POLICY])
def test_openssl_queries(tmp_path, hash_name, cert, with_nonce, policy):
    options = [f"-{hash_name}"]
    options += ["-cert"] if cert else []
    options += [] if with_nonce else ["-no_nonce"]
    options += ["-tspolicy", policy] if policy else []
    body = openssl_query(tmp_path, DATA, *options)
    parsed = parse_request(body)
    assert parsed == parse_request_asn1(body)
    assert parsed.hash_algorithm == hash_name
    assert parsed.digest == hashlib.new(hash_name, DATA).digest()
    assert parsed.cert_req is cert
    assert parsed.policy == policy
    text = openssl("ts", "-query", "-in", tmp_path / "q.tsq", "-text").stdout
    if with_nonce:
        assert parsed.nonce == int(re.search(r"Nonce: 0x([0-9A-F]+)", text)[1], 16)
    else:
        assert parsed.nonce is None


@pytest.mark.parametrize(
    ("hash_name", "fail"),
    [("sha1", "BAD_ALG"), ("md5", "BAD_ALG"), ("sha224", "BAD_ALG"), ("sha3-256", "BAD_ALG")],
)
def test_openssl_queries_with_refused_hashes(tmp_path, hash_name, fail):
    body = openssl_query(tmp_path, DATA, f"-{hash_name}", "-cert")
    assert rejected(body).fail_info is FailInfo[fail]


# -- built field by field ---------------------------------------------------------------------


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("params", [NULL, None])
def test_parameters_absent_or_null(hash_name, params):
    digest = bytes(range(SIZES[hash_name]))
    parsed = parse_request(raw_request(alg=HASH_OIDS[hash_name], params=params, digest=digest))
    assert parsed == TimeStampRequest(hash_name, digest, None, None, False, params == NULL)


@pytest.mark.parametrize("nonce", [0, 1, 2**63, 2**64 - 1, 2 ** (8 * MAX_NONCE_OCTETS - 1) - 1])
def test_nonces_accepted(nonce):
    assert parse_request(raw_request(nonce=nonce)).nonce == nonce


def test_cert_req_forms():
    assert parse_request(raw_request(cert_req=b"\x01\x01\xff")).cert_req is True
    # DER leaves a DEFAULT out, but an explicit FALSE is understood
    assert parse_request(raw_request(cert_req=b"\x01\x01\x00")).cert_req is False


@pytest.mark.parametrize(
    ("body", "fail"),
    [
        (b"", FailInfo.BAD_DATA_FORMAT),
        (b"\x00", FailInfo.BAD_DATA_FORMAT),
        (b"\x30\x00", FailInfo.BAD_DATA_FORMAT),
        (raw_request() + b"\x00", FailInfo.BAD_DATA_FORMAT),  # trailing data
        (raw_request(trailing=b"\x30\x00"), FailInfo.BAD_DATA_FORMAT),
        (raw_request()[:-1], FailInfo.BAD_DATA_FORMAT),  # truncated
        (raw_request(version=2), FailInfo.BAD_DATA_FORMAT),
        (raw_request(version=0), FailInfo.BAD_DATA_FORMAT),
        (raw_request(alg="1.3.14.3.2.26", digest=b"\x00" * 20), FailInfo.BAD_ALG),  # SHA-1
        (raw_request(alg="1.2.840.113549.2.5", digest=b"\x00" * 16), FailInfo.BAD_ALG),  # MD5
        (raw_request(alg="2.16.840.1.101.3.4.2.8", digest=b"\x00" * 32), FailInfo.BAD_ALG),
        (raw_request(alg="1.2.3.4"), FailInfo.BAD_ALG),
        (raw_request(params=der.oid("1.2.3")), FailInfo.BAD_ALG),
        (raw_request(digest=b"\x00" * 31), FailInfo.BAD_DATA_FORMAT),
        (raw_request(digest=b"\x00" * 33), FailInfo.BAD_DATA_FORMAT),
        (raw_request(digest=b""), FailInfo.BAD_DATA_FORMAT),
        (raw_request(alg=HASH_OIDS["sha512"], digest=b"\x00" * 48), FailInfo.BAD_DATA_FORMAT),
        (raw_request(nonce=-1), FailInfo.BAD_DATA_FORMAT),
        (raw_request(nonce=-(2**70)), FailInfo.BAD_DATA_FORMAT),
        (raw_request(nonce=2 ** (8 * MAX_NONCE_OCTETS)), FailInfo.BAD_DATA_FORMAT),
        (
            raw_request(extensions=der.tlv(0x30, der.oid("1.2.3.4") + der.tlv(4, b"\x05\x00"))),
            FailInfo.UNACCEPTED_EXTENSION,
        ),
        (
            raw_request(
                extensions=der.tlv(
                    0x30, der.oid("1.3.6.1.5.5.7.48.1.2") + b"\x01\x01\xff" + der.tlv(4, b"")
                )
            ),
            FailInfo.UNACCEPTED_EXTENSION,
        ),
        (b"\x30\x82" + (5000).to_bytes(2, "big") + b"\x00" * 5000, FailInfo.BAD_DATA_FORMAT),
        (b"\x00" * (MAX_REQUEST_BYTES + 1), FailInfo.BAD_DATA_FORMAT),
    ],
)
def test_rejections(body, fail):
    assert rejected(body).fail_info is fail
    with pytest.raises(Rejection):
        parse_request_asn1(body)


def test_policy_is_returned_as_dotted_text():
    parsed = parse_request(raw_request(policy="2.25.1234567890123456789012345678901234567"))
    assert parsed.policy == "2.25.1234567890123456789012345678901234567"


def test_ber_requests_go_to_asn1crypto():
    # Same request in BER (indefinite length): the fast path declines, asn1crypto decides
    der_body = raw_request(nonce=99)
    ber = b"\x30\x80" + der_body[2:] + b"\x00\x00"
    assert _fast_parse(ber) is None
    try:
        assert parse_request(ber) == parse_request(der_body)
    except Rejection as exc:
        assert exc.fail_info is FailInfo.BAD_DATA_FORMAT


# -- fuzzing --------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _openssl_seeds() -> list[bytes]:
    import tempfile
    from pathlib import Path

    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        for options in (
            ["-sha256", "-cert"],
            ["-sha384", "-no_nonce"],
            ["-sha512", "-cert", "-tspolicy", ALT_POLICY],
        ):
            seeds.append(openssl_query(Path(tmp), DATA, *options))
    return seeds


SEEDS = [
    *_openssl_seeds(),
    raw_request(nonce=2**200, policy=ALT_POLICY, cert_req=b"\x01\x01\xff"),
    raw_request(params=None, alg=HASH_OIDS["sha384"], digest=b"\x01" * 48),
]


def check(body: bytes) -> TimeStampRequest | None:
    """The property: a TimeStampRequest or a Rejection, never anything else; and whenever the
    fast path answers, asn1crypto answers the same."""
    try:
        parsed = parse_request(body)
    except Rejection as exc:
        assert isinstance(exc.fail_info, FailInfo)
        assert exc.text
        assert _fast_parse(body) is None
        return None
    assert isinstance(parsed, TimeStampRequest)
    assert parsed.hash_algorithm in SIZES
    assert len(parsed.digest) == SIZES[parsed.hash_algorithm]
    assert parsed.nonce is None or 0 <= parsed.nonce < 2 ** (8 * MAX_NONCE_OCTETS)
    assert isinstance(parsed.cert_req, bool)
    assert parsed.policy is None or der.oid(parsed.policy)
    fast = _fast_parse(body)
    if fast is not None:
        assert fast == parse_request_asn1(body)
    return parsed


def test_seeds_are_valid():
    for seed in SEEDS:
        assert check(seed) is not None
        assert _fast_parse(seed) is not None  # canonical requests take the fast path


@FUZZ
@given(st.binary(max_size=600))
@example(b"\x30\x80" * 300)
@example(b"\x30\x84\xff\xff\xff\xff")
@example(b"\x30\x03\x02\x01\x01")
def test_arbitrary_bytes(body):
    check(body)


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_truncations(seed, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(seed) - 1))
    check(seed[:cut])


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_bit_flips(seed, data):
    body = bytearray(seed)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        bit = data.draw(st.integers(min_value=0, max_value=len(body) * 8 - 1))
        body[bit // 8] ^= 0x80 >> (bit % 8)
    check(bytes(body))


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_byte_splices(seed, data):
    at = data.draw(st.integers(min_value=0, max_value=len(seed)))
    junk = data.draw(st.binary(max_size=8))
    drop = data.draw(st.integers(min_value=0, max_value=4))
    check(seed[:at] + junk + seed[at + drop :])


@FUZZ
@given(
    hash_name=st.sampled_from(sorted(SIZES)),
    digest_delta=st.sampled_from([0, 0, 0, -1, 1]),
    params=st.sampled_from([NULL, None]),
    nonce=st.none() | st.integers(min_value=-(2**80), max_value=2**600),
    policy=st.none()
    | st.builds(
        lambda a, b, rest: ".".join(map(str, [a, b, *rest])),
        st.integers(0, 1),
        st.integers(0, 39),
        st.lists(st.integers(0, 2**70), max_size=6),
    ),
    cert_req=st.sampled_from([None, b"\x01\x01\xff", b"\x01\x01\x00"]),
)
def test_structured_requests(hash_name, digest_delta, params, nonce, policy, cert_req):
    digest = b"\x5a" * (SIZES[hash_name] + digest_delta)
    body = raw_request(
        alg=HASH_OIDS[hash_name],
        params=params,
        digest=digest,
        nonce=nonce,
        policy=policy,
        cert_req=cert_req,
    )
    parsed = check(body)
    nonce_ok = nonce is None or (0 <= nonce and len(der.integer_content(nonce)) <= 64)
    if digest_delta or not nonce_ok:
        assert parsed is None
        assert rejected(body).fail_info is FailInfo.BAD_DATA_FORMAT
    else:
        assert parsed == TimeStampRequest(
            hash_name, digest, policy, nonce, cert_req == b"\x01\x01\xff", params == NULL
        )
