"""The issuance log keeper and its client: committed means acknowledged, anything else fails.

The keeper runs as a thread here (as in ``keiin serve``), the client on an event loop of the
test; rows are checked in the database the keeper wrote.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading

import pytest
from asn1crypto import core, tsp

from keiin.tsa.clock import ClockGuard
from keiin.tsa.issuance import LogEntry
from keiin.web.timestamping.issuance_log import LogUnavailableError, ThreadLog
from keiin.web.timestamping.log_client import KeeperClient
from keiin.web.timestamping.log_keeper import LogKeeper, run_keeper, socket_path
from keiin.web.timestamping.models import IssuedToken
from keiin.web.timestamping.serials import find_token, token_serials

pytestmark = pytest.mark.django_db(transaction=True)


def _entry(account_id: int | None = None, sequence: int | None = None) -> LogEntry:
    seq, serial = token_serials().next()
    return LogEntry(
        sequence or seq,
        serial,
        dt.datetime(2026, 11, 22, 3, 0, 0, 123000, tzinfo=dt.UTC),
        "sha256",
        bytes(range(32)),
        "1.3.6.1.4.1.99999.1",
        account_id,
        b"\x11" * 32,
    )


@pytest.fixture
def keeper(tmp_path):
    keeper = LogKeeper(socket_path(tmp_path))
    stop = threading.Event()
    thread = threading.Thread(target=run_keeper, args=(keeper, stop), daemon=True)
    thread.start()
    assert keeper.wait_ready(10)
    try:
        yield keeper
    finally:
        stop.set()
        thread.join(10)


def _record_all(client, entries):
    async def main():
        return await asyncio.gather(*(client.record(e) for e in entries), return_exceptions=True)

    return asyncio.run(main())


def test_entries_are_committed_before_the_acknowledgement(keeper):
    client = KeeperClient(str(keeper.path))
    entries = [_entry() for _ in range(300)]
    assert _record_all(client, entries) == [None] * 300
    assert IssuedToken.objects.count() == 300
    assert keeper.entries == 300
    assert keeper.flushes < 300  # grouped: concurrent requests share flushes
    row = find_token(entries[7].serial)
    assert row is not None and row.pk == entries[7].sequence
    assert row.serial_hex == format(entries[7].serial, "x")
    assert row.digest_hex == bytes(range(32)).hex()
    assert row.token_sha256 == "11" * 32
    assert row.gen_time == entries[7].gen_time
    assert row.account_id is None


def test_the_client_reconnects_on_a_new_event_loop(keeper):
    client = KeeperClient(str(keeper.path))
    assert _record_all(client, [_entry()]) == [None]
    assert _record_all(client, [_entry(), _entry()]) == [None, None]
    assert IssuedToken.objects.count() == 3


def test_a_failed_flush_fails_every_request_in_it_and_commits_none(keeper):
    client = KeeperClient(str(keeper.path))
    first = _entry()
    assert _record_all(client, [first]) == [None]
    # The same sequence number again violates the primary key: the whole group fails.
    results = _record_all(client, [_entry(), _entry(sequence=first.sequence), _entry()])
    assert all(isinstance(r, LogUnavailableError) for r in results), results
    assert IssuedToken.objects.count() == 1
    # ... and the keeper goes on with the next group.
    assert _record_all(client, [_entry()]) == [None]
    assert IssuedToken.objects.count() == 2


def test_no_keeper_means_log_unavailable(tmp_path):
    client = KeeperClient(str(tmp_path / "nobody.sock"))
    (result,) = _record_all(client, [_entry()])
    assert isinstance(result, LogUnavailableError)
    assert IssuedToken.objects.count() == 0


def test_a_keeper_that_never_answers_times_out(tmp_path):
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    try:
        client = KeeperClient(str(path), timeout=0.3)
        results = _record_all(client, [_entry(), _entry()])
        assert all(isinstance(r, LogUnavailableError) for r in results)
        assert "no acknowledgement" in str(results[0])
    finally:
        for conn in accepted:
            conn.close()
        server.close()


def test_a_malformed_stream_closes_that_connection_only(keeper):
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bad.connect(str(keeper.path))
    bad.sendall(b"\x01" * 8 + b"\x00" * 200)  # sequence 0: never valid
    bad.settimeout(5)
    assert bad.recv(100) == b""  # closed by the keeper
    bad.close()
    client = KeeperClient(str(keeper.path))
    assert _record_all(client, [_entry()]) == [None]


def test_the_socket_is_private(keeper):
    assert keeper.path.stat().st_mode & 0o077 == 0


def test_a_too_long_run_folder_gets_a_short_private_socket(tmp_path):
    deep = tmp_path / ("x" * 120)
    path = socket_path(deep)
    assert len(str(path)) < 100
    assert path.parent.stat().st_mode & 0o077 == 0


def test_thread_log_commits_too():
    log = ThreadLog()
    entries = [_entry() for _ in range(50)]
    assert _record_all(log, entries) == [None] * 50
    assert IssuedToken.objects.count() == 50


def test_endpoint_answers_system_failure_when_the_log_is_unreachable(
    hierarchy, monkeypatch, tmp_path
):
    """No keeper behind the socket: a well-formed request gets a rejection, not a token."""
    monkeypatch.setenv("KEIIN_TSA_LOG_SOCKET", str(tmp_path / "gone.sock"))
    monkeypatch.setenv("KEIIN_TSA_ANONYMOUS", "1")
    from keiin.web.timestamping.config import tsa_settings
    from keiin.web.timestamping.endpoint import TsaEndpoint

    tsa_settings.cache_clear()
    try:
        endpoint = TsaEndpoint()
        # a clock that is fine (the home's clock status file is other tests' business)
        endpoint._guard = ClockGuard(None, tolerance=1.0, max_age=60.0, unchecked_ok=True)
    finally:
        tsa_settings.cache_clear()
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": b"\x42" * 32,
            },
            "cert_req": True,
        }
    ).dump()
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": query, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/tsa", "headers": [], "client": None}
    asyncio.run(endpoint(scope, receive, send))
    assert sent[0]["status"] == 200
    # (asn1crypto's TimeStampResp insists on a token: read the status on its own)
    info = tsp.PKIStatusInfo.load(core.Sequence.load(sent[1]["body"])[0].dump())
    assert info["status"].native == "rejection"
    assert info["fail_info"].native == {"system_failure"}
    assert IssuedToken.objects.count() == 0
