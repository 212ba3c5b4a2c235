"""The TSA over real HTTP, judged by OpenSSL and pyHanko, with accounts, clock and log."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from asn1crypto import core, tsp

from tests.support.ntp import NtpResponder
from tests.support.server import start_server

pytestmark = pytest.mark.server

SHARED_CHECK = Path(__file__).resolve().parents[3] / "shared" / "checks" / "tsa-openssl.sh"
USER, PASSWORD = "customer1", "customer-password-1"


@pytest.fixture(scope="module")
def ntp():
    with NtpResponder() as responder:
        yield responder


@pytest.fixture(scope="module")
def tsa(tmp_path_factory, ntp):
    server = start_server(
        tmp_path_factory.mktemp("tsa-home"),
        workers=2,
        extra_env={
            "KEIIN_NTP_SERVERS": f"127.0.0.1:{ntp.port}",
            "KEIIN_NTP_INTERVAL": "1",
            "KEIIN_TSA_ALLOW_UNCHECKED_CLOCK": "0",
        },
    )
    try:
        server.cli("tsa", "account", "create", "--user", USER, "--password", PASSWORD)
        server.cli("ca", "chain", "--out", str(server.home / "chain.pem"))
        yield server
    finally:
        server.stop()


def _auth(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _post(server, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/tsa",
            body,
            {
                "Content-Type": "application/timestamp-query",
                **(_auth() if headers is None else headers),
            },
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _query(data: bytes, *, alg: str = "sha256", policy: str | None = None) -> bytes:
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": alg},
                "hashed_message": hashlib.new(alg, data).digest(),
            },
            **({"req_policy": policy} if policy else {}),
            "nonce": int.from_bytes(os.urandom(8), "big") >> 1,
            "cert_req": True,
        }
    ).dump()


def _status(reply: bytes) -> tuple[str, set[str]]:
    info = tsp.PKIStatusInfo.load(core.Sequence.load(reply)[0].dump())
    return info["status"].native, set(info["fail_info"].native or ())


def _serial(reply: bytes) -> int:
    resp = tsp.TimeStampResp.load(reply)
    tst = resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    return tst["serial_number"].native


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_openssl_query_reply_verify(tsa, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(5000))
    assert _openssl("ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q.tsq",
                    cwd=tmp_path).returncode == 0  # fmt: skip
    status, reply = _post(tsa, (tmp_path / "q.tsq").read_bytes())
    assert status == 200
    (tmp_path / "r.tsr").write_bytes(reply)
    out = _openssl("ts", "-verify", "-in", "r.tsr", "-queryfile", "q.tsq",
                   "-CAfile", str(tsa.home / "chain.pem"), cwd=tmp_path)  # fmt: skip
    assert "Verification: OK" in out.stdout, out.stdout + out.stderr
    data.write_bytes(data.read_bytes() + b"x")
    out = _openssl("ts", "-verify", "-in", "r.tsr", "-data", "data.bin",
                   "-CAfile", str(tsa.home / "chain.pem"), cwd=tmp_path)  # fmt: skip
    assert "Verification: OK" not in out.stdout
    _openssl("ts", "-reply", "-in", "r.tsr", "-token_out", "-out", "tok.der", cwd=tmp_path)
    parsed = _openssl("asn1parse", "-inform", "DER", "-in", "tok.der", cwd=tmp_path).stdout
    assert "signingCertificateV2" in parsed or "1.2.840.113549.1.9.16.2.47" in parsed


@pytest.mark.skipif(not SHARED_CHECK.exists(), reason="shared acceptance check not present")
def test_shared_openssl_acceptance_script(tsa):
    out = subprocess.run(
        ["bash", str(SHARED_CHECK), f"{tsa.url}/tsa", str(tsa.home / "chain.pem"),
         f"{USER}:{PASSWORD}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1].endswith("0 failed")


def test_pyhanko_http_timestamper_and_validation(tsa):
    import asyncio

    from asn1crypto import pem
    from asn1crypto import x509 as ax509
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    stamper = HTTPTimeStamper(f"{tsa.url}/tsa", auth=(USER, PASSWORD))
    digest = hashlib.sha256(b"contract bytes").digest()
    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    chain = [
        ax509.Certificate.load(der)
        for _, _, der in pem.unarmor((tsa.home / "chain.pem").read_bytes(), multiple=True)
    ]
    root = chain[-1]
    context = ValidationContext(
        trust_roots=[root], allow_fetching=False, revocation_mode="soft-fail"
    )
    status = asyncio.run(
        validate_tst_signed_data(
            token["content"], context, expected_tst_imprint=lambda _alg: digest
        )
    )
    result = TimestampSignatureStatus(**status)
    assert result.intact and result.valid and result.trusted, result


def test_rejections(tsa):
    status, reply = _post(tsa, _query(b"x", alg="sha1"))
    assert status == 200 and _status(reply) == ("rejection", {"bad_alg"})
    status, reply = _post(tsa, _query(b"x", policy="1.2.3.4.5.6.7.8.9"))
    assert status == 200 and _status(reply) == ("rejection", {"unaccepted_policy"})
    status, reply = _post(tsa, b"\x30\x03garbage")
    assert status == 200 and _status(reply)[0] == "rejection"


def test_authentication(tsa):
    query = _query(b"auth")
    assert _post(tsa, query, headers={})[0] == 401
    assert _post(tsa, query, headers=_auth(password="wrong-password-123"))[0] == 401
    assert _post(tsa, query, headers={"Authorization": "Basic !!!"})[0] == 401
    out = tsa.cli("tsa", "account", "token", USER, "--name", "ci")
    secret = out.stdout.strip().splitlines()[-1]
    status, reply = _post(tsa, query, headers={"Authorization": f"Bearer {secret}"})
    assert status == 200 and _status(reply)[0] == "granted"
    tsa.cli("tsa", "account", "token", USER, "--name", "ci", "--revoke")
    assert _post(tsa, query, headers={"Authorization": f"Bearer {secret}"})[0] == 401


def test_suspension_takes_effect_at_once(tsa):
    tsa.cli("tsa", "account", "create", "--user", "sus", "--password", "suspend-me-please")
    headers = _auth("sus", "suspend-me-please")
    assert _post(tsa, _query(b"1"), headers)[0] == 200  # cached in one worker
    assert _post(tsa, _query(b"2"), headers)[0] == 200
    tsa.cli("tsa", "account", "suspend", "sus", "--reason", "unpaid")
    for _ in range(6):  # every worker, cached or not
        assert _post(tsa, _query(b"3"), headers)[0] == 403
    tsa.cli("tsa", "account", "resume", "sus")
    assert _post(tsa, _query(b"4"), headers)[0] == 200


def test_ip_allow_list(tsa):
    tsa.cli("tsa", "account", "create", "--user", "ipv", "--password", "ip-restricted-pw",
            "--allow-ip", "10.9.8.0/24")  # fmt: skip
    assert _post(tsa, _query(b"ip"), _auth("ipv", "ip-restricted-pw"))[0] == 403
    tsa.cli("tsa", "account", "create", "--user", "ipok", "--password", "ip-allowed-pw1",
            "--allow-ip", "127.0.0.0/8")  # fmt: skip
    assert _post(tsa, _query(b"ip"), _auth("ipok", "ip-allowed-pw1"))[0] == 200


def test_quota_overage_and_usage_report_match_the_log(tsa):
    tsa.cli(
        "tsa",
        "account",
        "create",
        "--user",
        "small",
        "--password",
        "small-plan-pass",
        "--quota",
        "5",
    )
    headers = _auth("small", "small-plan-pass")
    for i in range(8):
        status, reply = _post(tsa, _query(str(i).encode()), headers)
        assert status == 200 and _status(reply)[0] == "granted"  # overage is still issued
    month = time.strftime("%Y-%m")
    out = tsa.cli("tsa", "usage", "small", "--month", month, "--csv").stdout.splitlines()
    assert out[0] == "user_id,month,tokens,year_to_date,quota,overage"
    assert out[1] == f"small,{month},8,8,5,3"
    logged = tsa.sql(
        "SELECT COUNT(*) FROM timestamping_issuedtoken t JOIN timestamping_tsaaccount a "
        "ON t.account_id = a.id WHERE a.user_id = ?",
        ("small",),
    )[0][0]
    assert logged == 8


def test_clock_skew_and_silence_give_time_not_available(tsa, ntp):
    query = _query(b"clock")

    def wait_for(expected: str) -> tuple[str, set[str]]:
        deadline = time.monotonic() + 15
        while True:
            result = _status(_post(tsa, query)[1])
            if result[0] == expected or time.monotonic() > deadline:
                return result
            time.sleep(0.3)

    try:
        ntp.offset = 5.0
        assert wait_for("rejection") == ("rejection", {"time_not_available"})
        ntp.offset = 0.0
        assert wait_for("granted")[0] == "granted"
        ntp.silent = True
        assert wait_for("rejection") == ("rejection", {"time_not_available"})
    finally:
        ntp.offset, ntp.silent = 0.0, False
    assert wait_for("granted")[0] == "granted"


def test_20000_concurrent_tokens_unique_and_logged(tsa):
    query_bytes = [_query(i.to_bytes(4, "big")) for i in range(64)]

    def client(n: int) -> list[int]:
        conn = http.client.HTTPConnection("127.0.0.1", tsa.port, timeout=60)
        serials = []
        headers = {"Content-Type": "application/timestamp-query", **_auth()}
        for i in range(n):
            conn.request("POST", "/tsa", query_bytes[i % 64], headers)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200
            serials.append(_serial(body))
        conn.close()
        return serials

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(client, [1250] * 16))
    serials = [s for chunk in results for s in chunk]
    assert len(serials) == 20_000
    assert len(set(serials)) == 20_000
    logged = {int(row[0], 16) for row in tsa.sql("SELECT serial_hex FROM timestamping_issuedtoken")}
    assert set(serials) <= logged


def test_stamp_and_verify_commands(tsa, tmp_path):
    data = tmp_path / "contract.pdf"
    data.write_bytes(b"%PDF-1.7 contract body " + os.urandom(100))
    tsr = tmp_path / "contract.tsr"
    root = tmp_path / "root.pem"
    chain = (tsa.home / "chain.pem").read_text()
    root.write_text(chain[chain.index("-----BEGIN", 10) :])
    tsa.cli("tsa", "stamp", str(data), "--url", f"{tsa.url}/tsa", "--user", USER,
            "--password", PASSWORD, "--out", str(tsr))  # fmt: skip
    verify = ["tsa", "verify", "--data", str(data), "--token", str(tsr), "--trust", str(root)]
    good = tsa.cli(*verify)
    assert "Token" in good.stdout and "is valid" in good.stdout, good.stdout
    for name in ("imprint", "signature", "signing-certificate", "tsa-certificate",
                 "certificate-path", "not-revoked-token", "revocation-list"):  # fmt: skip
        assert f"ok   {name}:" in good.stdout, good.stdout

    report = json.loads(tsa.cli(*verify, "--json").stdout)
    assert report["ok"] is True
    serial = report["serial"]

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(data.read_bytes() + b"!")
    bad = tsa.cli("tsa", "verify", "--data", str(tampered), "--token", str(tsr), "--trust",
                  str(root), check=False)  # fmt: skip
    assert bad.returncode == 1 and "FAIL imprint" in bad.stdout

    tsa.cli("tsa", "revoke", "--serial", serial, "--reason", "key ceremony test")
    revoked = tsa.cli(*verify, check=False)
    assert revoked.returncode == 1
    assert "FAIL not-revoked-token" in revoked.stdout, revoked.stdout
    assert "ok   revocation-list" in revoked.stdout


def test_stamp_reports_refusals_without_traceback(tsa, tmp_path):
    data = tmp_path / "x.bin"
    data.write_bytes(b"x")
    out = tsa.cli("tsa", "stamp", str(data), "--url", f"{tsa.url}/tsa", "--user", USER,
                  "--password", "not-the-password", "--out", str(tmp_path / "x.tsr"),
                  check=False)  # fmt: skip
    assert out.returncode == 1
    assert "HTTP 401" in out.stderr and "Traceback" not in out.stderr
