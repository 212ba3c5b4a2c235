"""The raw-ASGI OCSP responder, driven in-process (no server, no sockets).

The endpoint runs its database look-ups through asgiref's ``sync_to_async`` in another thread,
so the tests that reach the database use real transactions (``transaction=True``) and create
the hierarchy inside each test. Tests of input the endpoint must refuse before any look-up run
without database access at all, which also proves that they never touch it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import urllib.parse
from dataclasses import dataclass

import pytest
from asn1crypto import ocsp as aocsp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509 import ocsp as cocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiin.pki.keys import KeyAlgorithm, generate_private_key
from keiin.pki.ocsp import MAX_REQUEST_BYTES
from keiin.pki.profiles import SubjectInfo
from keiin.pki.revocation import RevocationReason
from keiin.web.ca import services
from keiin.web.ca.config import policy
from keiin.web.ca.models import IssuedCertificate
from keiin.web.ca.ocsp_endpoint import OcspEndpoint
from tests.unit.ocsp_requests import asn1_request, cert_id, crypto_request
from tests.unit.pki_factory import build_pki

CT = b"application/ocsp-response"
#: A hierarchy that is not this Keiin's (built with the pure PKI code, no database).
FOREIGN = build_pki(KeyAlgorithm.EC_P256, org="Foreign")


# --------------------------------------------------------------------------- ASGI driver


@dataclass
class Reply:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    @property
    def ocsp(self) -> cocsp.OCSPResponse:
        return cocsp.load_der_ocsp_response(self.body)

    @property
    def ocsp_status(self) -> cocsp.OCSPResponseStatus:
        return self.ocsp.response_status


def call(
    app,
    method: str,
    path: str = "/ocsp",
    body: bytes = b"",
    *,
    chunks: list[bytes] | None = None,
    raw_path: bytes | None = None,
    omit_raw_path: bool = False,
) -> Reply:
    """Run one HTTP exchange through an ASGI app and collect what it sends."""
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(parts) - 1}
        for parts in [chunks if chunks is not None else [body]]
        for i, c in enumerate(parts)
    ]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    if not omit_raw_path:
        scope["raw_path"] = raw_path if raw_path is not None else path.encode()
    asyncio.run(app(scope, receive, send))
    assert sent and sent[0]["type"] == "http.response.start", sent
    assert all(m["type"] == "http.response.body" for m in sent[1:])
    assert not sent[-1].get("more_body", False)
    headers = dict(sent[0].get("headers", []))
    reply = Reply(sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:]))
    if method != "HEAD":
        assert int(headers[b"content-length"]) == len(reply.body)
    return reply


def post(app, der: bytes) -> Reply:
    return call(app, "POST", body=der)


def get(app, der: bytes, *, style: str = "plain") -> Reply:
    text = base64.b64encode(der).decode()
    if style == "quoted":  # RFC 5019: the base64 is URL-encoded
        raw = "/ocsp/" + urllib.parse.quote(text, safe="")
    elif style == "urlsafe":
        raw = "/ocsp/" + base64.urlsafe_b64encode(der).decode().rstrip("=")
    else:
        raw = "/ocsp/" + text
    return call(app, "GET", urllib.parse.unquote(raw), raw_path=raw.encode())


# --------------------------------------------------------------------------- fixtures


@dataclass
class Env:
    app: OcspEndpoint
    hierarchy: services.Hierarchy
    signer: IssuedCertificate
    signer_cert: x509.Certificate
    issuing_cert: x509.Certificate
    root_cert: x509.Certificate

    def request(self, *, nonce: bytes | None = None, hash_name: str = "sha1") -> bytes:
        return crypto_request(self.signer_cert, self.issuing_cert, hash_name=hash_name, nonce=nonce)


def _issue(cn: str) -> IssuedCertificate:
    key = generate_private_key(KeyAlgorithm.EC_P256)
    return services.issue_signer(
        SubjectInfo(cn, "Example KK", email="ocsp@example.jp"), key.public_key(), actor="test"
    )


@pytest.fixture
def bare() -> OcspEndpoint:
    """An endpoint with no database access (pytest-django blocks it)."""
    return OcspEndpoint()


@pytest.fixture
def env(transactional_db) -> Env:
    hierarchy = services.ensure_hierarchy("OCSP Test", actor="test")
    signer = _issue("OCSP Subject")
    return Env(
        app=OcspEndpoint(),
        hierarchy=hierarchy,
        signer=signer,
        signer_cert=services.certificate_of(signer.certificate_der),
        issuing_cert=services.certificate_of(hierarchy.issuing.certificate_der),
        root_cert=services.certificate_of(hierarchy.root.certificate_der),
    )


def assert_signed_by_responder(reply: Reply, ca) -> cocsp.OCSPResponse:
    """A successful response, signed by the CA's current delegated responder."""
    assert reply.status == 200
    assert reply.headers[b"content-type"] == CT
    resp = reply.ocsp
    assert resp.response_status is cocsp.OCSPResponseStatus.SUCCESSFUL
    responder = services.current_ocsp_responder(ca)
    responder_cert = services.certificate_of(responder.certificate_der)
    assert resp.certificates == [responder_cert]
    responder_cert.verify_directly_issued_by(services.certificate_of(ca.certificate_der))
    key = responder_cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
    else:  # KEIIN_KEY_ALGORITHM=rsa-…
        key.verify(
            resp.signature,
            resp.tbs_response_bytes,
            padding.PKCS1v15(),
            resp.signature_hash_algorithm,
        )
    now = dt.datetime.now(dt.UTC)
    assert resp.produced_at_utc <= now
    for single in resp.responses:
        assert single.this_update_utc == resp.produced_at_utc
        assert single.next_update_utc - single.this_update_utc == policy().ocsp_response_validity
    return resp


# --------------------------------------------------------------------------- good / revoked


def test_post_good(env):
    reply = post(env.app, env.request())
    resp = assert_signed_by_responder(reply, env.hierarchy.issuing)
    assert resp.certificate_status is cocsp.OCSPCertStatus.GOOD
    assert resp.serial_number == env.signer_cert.serial_number
    assert b"cache-control" not in reply.headers  # POST responses are not HTTP-cacheable


@pytest.mark.parametrize("style", ["plain", "quoted", "urlsafe"])
def test_get_good(env, style):
    der = env.request(hash_name="sha256")
    reply = get(env.app, der, style=style)
    resp = assert_signed_by_responder(reply, env.hierarchy.issuing)
    assert resp.certificate_status is cocsp.OCSPCertStatus.GOOD
    max_age = int(policy().ocsp_response_validity.total_seconds() // 2)
    assert reply.headers[b"cache-control"].startswith(f"max-age={max_age},".encode())
    for name in (b"etag", b"last-modified", b"expires"):
        assert reply.headers[name]


def test_get_without_raw_path(env):
    der = env.request()
    path = "/ocsp/" + base64.b64encode(der).decode()
    reply = call(env.app, "GET", path, omit_raw_path=True)
    assert reply.ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD


def test_head(env):
    der = env.request()
    full = get(env.app, der)
    path = "/ocsp/" + base64.b64encode(der).decode()
    head = call(env.app, "HEAD", path)
    assert head.status == 200 and head.body == b""
    assert head.headers[b"content-length"] == full.headers[b"content-length"]
    assert head.headers[b"content-type"] == CT


def test_repeated_requests_are_answered_from_the_cache(env):
    der = env.request()
    first = post(env.app, der)
    # With ECDSA (the default) a fresh signature would give different bytes.
    assert post(env.app, der).body == first.body
    assert get(env.app, der).body == first.body
    assert get(env.app, der, style="quoted").body == first.body


def test_good_then_revoked(env):
    der = env.request()
    assert post(env.app, der).ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD
    assert get(env.app, der).ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD
    invalid = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    revoked = services.revoke(
        env.signer, RevocationReason.KEY_COMPROMISE, actor="test", invalidity_date=invalid
    )
    for reply in (post(env.app, der), get(env.app, der)):
        resp = assert_signed_by_responder(reply, env.hierarchy.issuing)
        assert resp.certificate_status is cocsp.OCSPCertStatus.REVOKED
        assert resp.revocation_reason is x509.ReasonFlags.key_compromise
        assert resp.revocation_time_utc == revoked.revoked_at


def test_only_the_generation_bump_invalidates_the_cache(env):
    der = env.request()
    assert post(env.app, der).ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD
    # Change the database behind the responder's back: the cached answer stands...
    IssuedCertificate.objects.filter(pk=env.signer.pk).update(
        status="revoked", revoked_at=dt.datetime.now(dt.UTC), revocation_reason="superseded"
    )
    assert post(env.app, der).ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD
    assert get(env.app, der).ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD
    # ...until the shared generation moves, as services.revoke does after its commit.
    services.revocation_generation().bump()
    resp = post(env.app, der).ocsp
    assert resp.certificate_status is cocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_reason is x509.ReasonFlags.superseded
    assert get(env.app, der).ocsp.certificate_status is cocsp.OCSPCertStatus.REVOKED


def test_revoked_responder_is_replaced(env):
    der = env.request()
    old = assert_signed_by_responder(post(env.app, der), env.hierarchy.issuing)
    responder = services.current_ocsp_responder(env.hierarchy.issuing)
    services.revoke(responder, RevocationReason.KEY_COMPROMISE, actor="test")
    new = assert_signed_by_responder(post(env.app, der), env.hierarchy.issuing)
    assert new.certificates != old.certificates
    assert new.certificate_status is cocsp.OCSPCertStatus.GOOD


def test_root_ca_certificates(env):
    tsa = services.certificate_of(env.hierarchy.tsa.certificate_der)
    reply = post(env.app, crypto_request(tsa, env.root_cert))
    resp = assert_signed_by_responder(reply, env.hierarchy.root)
    assert resp.certificate_status is cocsp.OCSPCertStatus.GOOD
    issuing_row = IssuedCertificate.objects.get(profile="issuing-ca")
    reply = post(env.app, crypto_request(env.issuing_cert, env.root_cert))
    assert reply.ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD
    assert reply.ocsp.serial_number == int(issuing_row.serial_hex, 16)


# --------------------------------------------------------------------------- nonce


def test_nonce_is_echoed_and_not_cached(env):
    nonce = b"0123456789abcdef"
    der = env.request(nonce=nonce)
    first, second = post(env.app, der), post(env.app, der)
    for reply in (first, second):
        resp = assert_signed_by_responder(reply, env.hierarchy.issuing)
        assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
        assert b"cache-control" not in reply.headers
    if policy().key_algorithm.value.startswith("ec-"):
        assert first.body != second.body  # signed afresh (ECDSA signatures are randomised)
    other = post(env.app, env.request(nonce=b"another nonce"))
    assert other.ocsp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == (
        b"another nonce"
    )
    via_get = get(env.app, der)
    assert via_get.ocsp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert b"cache-control" not in via_get.headers


def test_nonce_requests_see_revocation_at_once(env):
    der = env.request(nonce=b"n" * 8)
    assert post(env.app, der).ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD
    IssuedCertificate.objects.filter(pk=env.signer.pk).update(
        status="revoked", revoked_at=dt.datetime.now(dt.UTC), revocation_reason="superseded"
    )
    assert post(env.app, der).ocsp.certificate_status is cocsp.OCSPCertStatus.REVOKED


# --------------------------------------------------------------------------- unknown / unauthorized


def test_unknown_serial(env):
    der = asn1_request([cert_id(env.issuing_cert, 0x1234567890ABCDEF)])
    resp = assert_signed_by_responder(post(env.app, der), env.hierarchy.issuing)
    assert resp.certificate_status is cocsp.OCSPCertStatus.UNKNOWN
    assert resp.serial_number == 0x1234567890ABCDEF


def test_several_cert_ids_under_one_ca(env):
    other = _issue("Second")
    services.revoke(other, RevocationReason.SUPERSEDED, actor="test")
    serials = [env.signer_cert.serial_number, int(other.serial_hex, 16), 42]
    der = asn1_request([cert_id(env.issuing_cert, s, "sha256") for s in serials])
    resp = assert_signed_by_responder(post(env.app, der), env.hierarchy.issuing)
    singles = list(resp.responses)
    assert [s.serial_number for s in singles] == serials
    assert [s.certificate_status for s in singles] == [
        cocsp.OCSPCertStatus.GOOD,
        cocsp.OCSPCertStatus.REVOKED,
        cocsp.OCSPCertStatus.UNKNOWN,
    ]


def test_foreign_issuer_is_unauthorized(env):
    der = crypto_request(FOREIGN.signer, FOREIGN.issuing.certificate)
    reply = post(env.app, der)
    assert reply.status == 200
    assert reply.ocsp_status is cocsp.OCSPResponseStatus.UNAUTHORIZED
    assert get(env.app, der).ocsp_status is cocsp.OCSPResponseStatus.UNAUTHORIZED


def test_unsupported_hash_is_unauthorized(env):
    der = crypto_request(env.signer_cert, env.issuing_cert, hash_name="sha224")
    assert post(env.app, der).ocsp_status is cocsp.OCSPResponseStatus.UNAUTHORIZED


def test_mixed_cas_are_unauthorized(env):
    tsa_serial = int(env.hierarchy.tsa.serial_hex, 16)
    der = asn1_request(
        [
            cert_id(env.issuing_cert, env.signer_cert.serial_number),
            cert_id(env.root_cert, tsa_serial),
        ]
    )
    assert post(env.app, der).ocsp_status is cocsp.OCSPResponseStatus.UNAUTHORIZED


# --------------------------------------------------------------------------- malformed input


def _assert_malformed(reply: Reply) -> None:
    assert reply.status == 200
    assert reply.headers[b"content-type"] == CT
    assert reply.ocsp_status is cocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize(
    "body", [b"", b"\x00", b"GET / HTTP/1.1\r\n", b"\x30\x03\x02\x01\x00", b"\x30\x80" * 100]
)
def test_malformed_post(bare, body):
    _assert_malformed(post(bare, body))


def test_trailing_garbage_post(bare):
    good = crypto_request(FOREIGN.signer, FOREIGN.issuing.certificate)
    _assert_malformed(post(bare, good + b"\x00"))
    _assert_malformed(get(bare, good + b"\x00"))


def test_oversized_post(bare):
    chunk = b"\x30" * 4000
    _assert_malformed(call(bare, "POST", chunks=[chunk, chunk, chunk]))
    good = crypto_request(FOREIGN.signer, FOREIGN.issuing.certificate)
    _assert_malformed(post(bare, good + b"\x00" * MAX_REQUEST_BYTES))


def test_chunked_post(env):
    der = env.request()
    reply = call(env.app, "POST", chunks=[der[:10], b"", der[10:50], der[50:]])
    assert reply.ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD


def test_disconnect_mid_body(bare):
    good = crypto_request(FOREIGN.signer, FOREIGN.issuing.certificate)
    incoming = [{"type": "http.request", "body": good[:10], "more_body": True}]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/ocsp", "raw_path": b"/ocsp"}
    asyncio.run(bare(scope, receive, send))
    # Nobody is listening any more; whatever is sent must still be a valid, final response.
    assert all(m["type"].startswith("http.response.") for m in sent)
    if sent:
        assert sent[0]["status"] == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"/ocsp",
        b"/ocsp/",
        b"/ocsp/!!!!",
        b"/ocsp/%ZZ",
        b"/ocsp/" + base64.b64encode(b"garbage"),
        b"/ocsp/" + b"A" * (5 * MAX_REQUEST_BYTES),
        b"/ocsp/" + base64.b64encode(b"\x30" * (MAX_REQUEST_BYTES + 1)),
        b"/ocsp/%FF%FE",
        b"/ocsp/\xff\xfe",
    ],
)
def test_malformed_get(bare, raw):
    path = urllib.parse.unquote(raw.decode("latin-1"))
    _assert_malformed(call(bare, "GET", path, raw_path=raw))
    head = call(bare, "HEAD", path, raw_path=raw)
    assert head.status == 200 and head.body == b""


def test_non_der_cert_id_is_malformed(bare):
    # A valid request whose SHA-1 AlgorithmIdentifier carries an OCTET STRING, not NULL.
    good = crypto_request(FOREIGN.signer, FOREIGN.issuing.certificate)
    bad = good.replace(bytes.fromhex("06052b0e03021a0500"), bytes.fromhex("06052b0e03021a0400"))
    assert bad != good
    _assert_malformed(post(bare, bad))


def test_nonce_of_bad_length_is_malformed(bare):
    der = asn1_request([cert_id(FOREIGN.issuing.certificate, 5)], nonce=b"x" * 33)
    _assert_malformed(post(bare, der))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_method(bare, method):
    good = crypto_request(FOREIGN.signer, FOREIGN.issuing.certificate)
    reply = call(bare, method, body=good)
    assert reply.status == 405
    assert reply.headers[b"allow"] == b"GET, POST"


# --------------------------------------------------------------------------- fuzzing


def _check_fuzz_reply(reply: Reply) -> None:
    assert reply.status == 200, reply
    assert reply.headers[b"content-type"] == CT
    parsed = aocsp.OCSPResponse.load(reply.body)
    parsed.native  # noqa: B018 - parse every field
    status = parsed["response_status"].native
    assert status in {"successful", "malformed_request", "unauthorized"}, status


def test_fuzz_bodies_and_paths(env):
    """Arbitrary bodies and GET paths: never an exception (a 500), always an OCSPResponse."""
    seed = env.request(nonce=b"fuzz-nonce")
    plain = env.request()
    fuzz = settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )

    def mutate(data, der: bytes) -> bytes:
        kind = data.draw(st.sampled_from(["truncate", "flip", "splice"]))
        if kind == "truncate":
            return der[: data.draw(st.integers(0, len(der)))]
        if kind == "flip":
            out = bytearray(der)
            for bit in data.draw(
                st.lists(st.integers(0, len(der) * 8 - 1), min_size=1, max_size=5)
            ):
                out[bit // 8] ^= 1 << (bit % 8)
            return bytes(out)
        start = data.draw(st.integers(0, len(der)))
        stop = data.draw(st.integers(start, len(der)))
        return der[:start] + data.draw(st.binary(max_size=40)) + der[stop:]

    @fuzz
    @given(st.data())
    def run(data):
        source = data.draw(st.sampled_from(["bytes", "seed", "plain", "huge"]))
        if source == "bytes":
            body = data.draw(st.binary(max_size=2048))
        elif source == "huge":
            body = data.draw(st.binary(min_size=1, max_size=16)) * data.draw(
                st.integers(1, 3 * MAX_REQUEST_BYTES)
            )
        else:
            body = mutate(data, seed if source == "seed" else plain)
        how = data.draw(st.sampled_from(["post", "get", "get-quoted", "get-urlsafe", "raw-path"]))
        if how == "post":
            reply = post(env.app, body)
        elif how == "raw-path":
            raw = b"/ocsp/" + data.draw(st.binary(max_size=300))
            reply = call(env.app, "GET", urllib.parse.unquote(raw.decode("latin-1")), raw_path=raw)
        else:
            reply = get(env.app, body, style={"get": "plain"}.get(how, how.removeprefix("get-")))
        _check_fuzz_reply(reply)

    run()
    # The responder still works after all that.
    assert post(env.app, plain).ocsp.certificate_status is cocsp.OCSPCertStatus.GOOD


def test_fuzz_get_text_paths(env):
    @settings(max_examples=100, deadline=None, database=None)
    @given(st.text(max_size=200), st.booleans())
    def run(suffix, with_raw):
        path = "/ocsp/" + suffix
        if with_raw:
            reply = call(env.app, "GET", path, raw_path=urllib.parse.quote(path).encode())
        else:
            reply = call(env.app, "GET", path, omit_raw_path=True)
        _check_fuzz_reply(reply)

    run()
