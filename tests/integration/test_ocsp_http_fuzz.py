"""Hostile OCSP input over real HTTP: truncated, garbage and huge requests never give a 500."""

from __future__ import annotations

import base64
import http.client
import urllib.parse

import pytest
from asn1crypto import ocsp as aocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as cocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.server


def _post(server, body: bytes, path: str = "/ocsp") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/ocsp-request"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _get(server, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _ocsp_status(body: bytes) -> str:
    return aocsp.OCSPResponse.load(body)["response_status"].native


@pytest.fixture(scope="module")
def valid_request(live_server_keiin, tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("fuzz")
    live_server_keiin.cli(
        "ca", "issue", "--cn", "Fuzz", "--email", "fuzz@example.com",
        "--out-cert", str(folder / "c.pem"), "--out-key", str(folder / "k.pem"),
        "--out-chain", str(folder / "chain.pem"),
    )  # fmt: skip
    cert = x509.load_pem_x509_certificate((folder / "c.pem").read_bytes())
    issuer = x509.load_pem_x509_certificates((folder / "chain.pem").read_bytes())[0]
    request = cocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return request.public_bytes(serialization.Encoding.DER)


def test_valid_request_is_good(live_server_keiin, valid_request):
    status, body = _post(live_server_keiin, valid_request)
    assert status == 200 and _ocsp_status(body) == "successful"


@pytest.mark.parametrize(
    "body",
    [b"", b"\x30", b"\x30\x80", b"\x30\x84\xff\xff\xff\xff", b"garbage" * 10, b"\x00" * 5000],
)
def test_garbage_is_malformed_request(live_server_keiin, body):
    status, reply = _post(live_server_keiin, body)
    assert status == 200
    assert _ocsp_status(reply) == "malformed_request"


def test_huge_body_is_malformed_request(live_server_keiin):
    status, reply = _post(live_server_keiin, b"\x30\x83\x0f\x42\x40" + b"A" * 1_000_000)
    assert status == 200
    assert _ocsp_status(reply) == "malformed_request"


def test_huge_and_odd_get_paths(live_server_keiin, valid_request):
    for path in ("/ocsp/", "/ocsp/%%%", "/ocsp/" + "A" * 60_000, "/ocsp/not*base64", "/ocsp/=="):
        status, reply = _get(live_server_keiin, path)
        assert status == 200, path
        assert _ocsp_status(reply) == "malformed_request", path
    ok = base64.b64encode(valid_request).decode()
    status, reply = _get(live_server_keiin, "/ocsp/" + urllib.parse.quote(ok, safe=""))
    assert status == 200 and _ocsp_status(reply) == "successful"


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_requests_never_fail_the_server(live_server_keiin, valid_request, data):
    kind = data.draw(st.sampled_from(["truncate", "flip", "garbage", "splice"]))
    if kind == "truncate":
        body = valid_request[: data.draw(st.integers(0, len(valid_request) - 1))]
    elif kind == "flip":
        pos = data.draw(st.integers(0, len(valid_request) - 1))
        bit = data.draw(st.integers(0, 7))
        body = bytearray(valid_request)
        body[pos] ^= 1 << bit
        body = bytes(body)
    elif kind == "garbage":
        body = data.draw(st.binary(min_size=0, max_size=4096))
    else:
        cut = data.draw(st.integers(0, len(valid_request)))
        body = valid_request[:cut] + data.draw(st.binary(max_size=64)) + valid_request[cut:]
    status, reply = _post(live_server_keiin, body)
    assert status == 200
    assert _ocsp_status(reply) in {"successful", "malformed_request", "unauthorized"}
    encoded = urllib.parse.quote(base64.b64encode(body).decode(), safe="")
    status, reply = _get(live_server_keiin, "/ocsp/" + encoded)
    assert status == 200
    assert _ocsp_status(reply) in {"successful", "malformed_request", "unauthorized"}


def test_server_still_healthy_after_fuzzing(live_server_keiin):
    status, _ = _get(live_server_keiin, "/healthz")
    assert status == 200
    assert "Traceback" not in live_server_keiin.log()
