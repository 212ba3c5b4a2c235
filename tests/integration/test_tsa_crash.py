"""SIGKILL the TSA under load: every token a client received is in the issuance log."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import threading
import time

import pytest
from asn1crypto import tsp

from tests.support.server import start_server

pytestmark = pytest.mark.server


def _query(i: int) -> bytes:
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(i.to_bytes(8, "big")).digest(),
            },
            "nonce": int.from_bytes(os.urandom(8), "big") >> 1,
            "cert_req": False,
        }
    ).dump()


def test_kill_under_load_loses_no_received_token(tmp_path):
    server = start_server(tmp_path / "home", workers=2)
    server.cli("tsa", "account", "create", "--user", "crash", "--password", "crash-test-pass")
    auth = base64.b64encode(b"crash:crash-test-pass").decode()
    headers = {"Content-Type": "application/timestamp-query", "Authorization": f"Basic {auth}"}
    received: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(seed: int) -> None:
        i = seed * 1_000_000
        while not stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
                while not stop.is_set():
                    i += 1
                    conn.request("POST", "/tsa", _query(i), headers)
                    response = conn.getresponse()
                    body = response.read()
                    if response.status != 200:
                        continue
                    resp = tsp.TimeStampResp.load(body)
                    if resp["status"]["status"].native != "granted":
                        continue
                    tst = resp["time_stamp_token"]["content"]["encap_content_info"]["content"]
                    with lock:
                        received.append(tst.parsed["serial_number"].native)
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)  # server gone: keep trying until told to stop

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for _round in range(3):
            deadline = time.monotonic() + 30
            with lock:
                target = len(received) + 300
            while time.monotonic() < deadline:
                with lock:
                    if len(received) >= target:
                        break
                time.sleep(0.05)
            server.kill()  # mid-flight: requests are being signed and logged right now
            server.launch(workers=2)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        logged = {
            int(r[0], 16) for r in server.sql("SELECT serial_hex FROM timestamping_issuedtoken")
        }
        assert len(received) >= 900
        missing = [s for s in received if s not in logged]
        assert missing == [], f"{len(missing)} tokens received by clients are not in the log"
        assert len(set(received)) == len(received)
    finally:
        stop.set()
        server.stop()
