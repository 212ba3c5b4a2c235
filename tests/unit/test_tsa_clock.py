"""Clock discipline of the TSA (keiin.tsa.clock) against a loopback NTP responder."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from keiin.tsa.clock import (
    NOT_WRITTEN,
    ClockError,
    ClockGuard,
    ClockMonitor,
    ClockStatus,
    ClockStatusFile,
    NtpSample,
    NtpServer,
    choose,
    from_ntp,
    measure,
    parse_servers,
    query,
    to_ntp,
)
from tests.support.ntp import NtpResponder

SHORT = 0.3  # timeout for answers that never come

# --------------------------------------------------------------------------- parsing


def test_parse_servers():
    assert parse_servers("ntp.nict.jp, 127.0.0.1:12345, [::1]:123") == [
        NtpServer("ntp.nict.jp"),
        NtpServer("127.0.0.1", 12345),
        NtpServer("::1", 123),
    ]
    assert parse_servers("a.example b.example,c.example:1123") == [
        NtpServer("a.example"),
        NtpServer("b.example"),
        NtpServer("c.example", 1123),
    ]
    assert parse_servers("::1 [fe80::1]:9") == [NtpServer("::1"), NtpServer("fe80::1", 9)]
    assert parse_servers("") == parse_servers("  ") == parse_servers("None") == []
    for bad in ("host:0", "host:65536", "host:x", "[::1", "[::1]x", "[nothost]:1", ":123", "1:2:x"):
        with pytest.raises(ValueError):
            parse_servers(bad)
    assert str(NtpServer("::1", 1123)) == "[::1]:1123"
    assert str(NtpServer("ntp.nict.jp")) == "ntp.nict.jp"


def test_ntp_timestamps_round_trip():
    now = time.time()
    assert abs(from_ntp(to_ntp(now)) - now) < 1e-6
    # RFC 4330 era rule: a timestamp with the top bit clear is after 2036-02-07.
    assert from_ntp(to_ntp(2_100_000_000.5)) == pytest.approx(2_100_000_000.5)
    assert from_ntp(0x8000_0000 << 32) == 0x8000_0000 - 2_208_988_800


# --------------------------------------------------------------------------- query


def test_query_good_clock():
    with NtpResponder() as ntp:
        sample = query(ntp.server, timeout=1.0)
    assert sample.server == ntp.server
    assert abs(sample.offset) < 0.05
    assert 0 <= sample.delay < 0.05
    assert sample.stratum == 1


@pytest.mark.parametrize("skew", [5.0, -3.25, 0.7])
def test_query_skewed_clock(skew):
    with NtpResponder(offset=skew) as ntp:
        sample = query(ntp.server, timeout=1.0)
    assert sample.offset == pytest.approx(skew, abs=0.05)


def test_query_silent_server_times_out():
    with NtpResponder(silent=True) as ntp:
        started = time.monotonic()
        with pytest.raises(ClockError, match="no answer within"):
            query(ntp.server, timeout=SHORT)
        assert time.monotonic() - started < SHORT + 0.5
        assert ntp.requests == 1


def test_query_closed_port_fails():
    with NtpResponder() as ntp:
        server = ntp.server
    with pytest.raises(ClockError):
        query(server, timeout=SHORT)


def test_query_kiss_of_death():
    with NtpResponder(kiss="RATE") as ntp, pytest.raises(ClockError, match="kiss") as info:
        query(ntp.server, timeout=1.0)
    assert info.value.kiss == "RATE"


def test_query_unsynchronised_server():
    with NtpResponder(unsynchronised=True) as ntp:
        with pytest.raises(ClockError, match="not synchronised"):
            query(ntp.server, timeout=1.0)
        ntp.unsynchronised, ntp.stratum = False, 16
        with pytest.raises(ClockError, match="stratum 16"):
            query(ntp.server, timeout=1.0)


def test_query_server_far_from_its_reference():
    with NtpResponder(root_dispersion=2.0) as ntp, pytest.raises(ClockError, match="root"):
        query(ntp.server, timeout=1.0)


def test_query_rejects_spoofed_origin():
    """A reply that does not echo our random transmit timestamp is not an answer."""
    with NtpResponder(spoof_origin=True) as ntp:
        with pytest.raises(ClockError, match="not matching our request"):
            query(ntp.server, timeout=SHORT)
        assert ntp.requests == 1


def test_query_rejects_client_mode_reply():
    """A packet echoed back verbatim (mode 3) is not a server reply."""
    import socket

    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    port = echo.getsockname()[1]

    def bounce() -> None:
        data, peer = echo.recvfrom(1024)
        # Keep the origin check happy (origin := our transmit), leave the mode at 3.
        echo.sendto(data[:24] + data[40:48] + data[32:], peer)

    thread = threading.Thread(target=bounce, daemon=True)
    thread.start()
    try:
        with pytest.raises(ClockError, match="mode 3"):
            query(NtpServer("127.0.0.1", port), timeout=1.0)
    finally:
        thread.join(timeout=2)
        echo.close()


def test_responder_changes_at_runtime():
    with NtpResponder() as ntp:
        assert abs(query(ntp.server).offset) < 0.05
        ntp.offset = 2.0
        assert query(ntp.server).offset == pytest.approx(2.0, abs=0.05)
        ntp.silent = True
        with pytest.raises(ClockError):
            query(ntp.server, timeout=SHORT)


# --------------------------------------------------------------------------- measure


def test_measure_silent_and_good():
    with NtpResponder(silent=True) as silent, NtpResponder(offset=0.2) as good:
        started = time.monotonic()
        sample, errors = measure([silent.server, good.server], timeout=SHORT)
        elapsed = time.monotonic() - started
    assert sample is not None and sample.server == good.server
    assert sample.offset == pytest.approx(0.2, abs=0.05)
    assert len(errors) == 1 and str(silent.server) in errors[0]
    assert elapsed < SHORT + 0.5  # concurrent: one timeout, not one per server


def test_measure_nothing_answers():
    with NtpResponder(silent=True) as a, NtpResponder(kiss="DENY") as b:
        sample, errors = measure([a.server, b.server], timeout=SHORT)
    assert sample is None and len(errors) == 2
    assert measure([]) == (None, [])


def test_measure_outvotes_one_falseticker():
    with NtpResponder() as a, NtpResponder(offset=0.01) as b, NtpResponder(offset=30) as bad:
        sample, errors = measure([a.server, bad.server, b.server], timeout=1.0)
    assert errors == []
    assert sample is not None and sample.server in (a.server, b.server)


def test_choose_median_and_conservative_tie():
    def s(offset: float, delay: float = 0.01) -> NtpSample:
        return NtpSample(NtpServer(f"s{offset}"), offset, delay)

    assert choose([]) is None
    assert choose([s(0.1)]).offset == 0.1
    assert choose([s(5), s(0.0, 0.001), s(0.1)]).offset == 0.1
    # Two references that disagree: take the one that makes us refuse.
    assert choose([s(0.0, 0.001), s(5.0, 0.5)]).offset == 5.0
    assert choose([s(-4.0), s(0.0), s(0.2), s(9.0)]).offset == 0.2


# --------------------------------------------------------------------------- status file


def _status(state="ok", offset=0.01, source="ntp.example (stratum 1)", mono=None):
    return ClockStatus(
        state, offset, time.time(), source, time.monotonic() if mono is None else mono
    )


def test_status_file_round_trip(tmp_path):
    path = tmp_path / "run" / "tsa-clock"
    status_file = ClockStatusFile(path)
    assert status_file.read() == NOT_WRITTEN
    for status in (
        _status(),
        _status("skewed", -3.5),
        ClockStatus("unknown", None, time.time(), "a: timeout; b: kiss-o'-death 'RATE'", 12.5),
        ClockStatus("unchecked", None, None, "no NTP servers configured"),
        _status(source="契印 " * 200),  # truncated on a character boundary
    ):
        status_file.write(status)
        other = ClockStatusFile(path)  # another process's view
        for reader in (status_file, other):
            got = reader.read()
            if len(status.source.encode()) <= 200:
                assert got == status
            else:
                assert got.source.endswith("...") and len(got.source.encode()) <= 200
                assert got.offset == status.offset
    with pytest.raises(ValueError):
        ClockStatus("fine", 0.0, None, "")


def test_status_file_damage_is_unknown(tmp_path):
    path = tmp_path / "tsa-clock"
    ClockStatusFile(path).write(_status())
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # flip a byte in the published slot (slot 1)
    path.write_bytes(bytes(data))
    got = ClockStatusFile(path).read()
    assert got.state == "unknown" and "could not be read" in got.source
    assert ClockGuard(ClockStatusFile(path)).check()[0] is False


_A = ClockStatus("ok", 0.001, 1_700_000_000.0, "a" * 7, 1000.0)
_B = ClockStatus("skewed", -12345.678, 1_800_000_000.5, "b" * 190, 2000.0)


def _hammer_reads(path: str, seconds: float, results) -> None:
    status_file = ClockStatusFile(Path(path))
    counts = {"a": 0, "b": 0, "other": 0}
    bad: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = status_file.read()
        if got == _A:
            counts["a"] += 1
        elif got == _B:
            counts["b"] += 1
        else:
            counts["other"] += 1
            if len(bad) < 3:
                bad.append(repr(got))
    results.put((counts, bad))


def test_status_file_concurrent_reader_never_sees_torn_status(tmp_path):
    path = tmp_path / "tsa-clock"
    status_file = ClockStatusFile(path)
    status_file.write(_A)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    reader = context.Process(target=_hammer_reads, args=(str(path), 0.8, results))
    reader.start()
    writes = 0
    try:
        while reader.is_alive():
            status_file.write(_B if writes % 2 == 0 else _A)
            writes += 1
        counts, bad = results.get(timeout=10)
    finally:
        reader.join(timeout=10)
    assert bad == [] and counts["other"] == 0, bad
    assert counts["a"] > 0 and counts["b"] > 0 and writes > 100


def test_status_file_read_is_cheap(tmp_path):
    status_file = ClockStatusFile(tmp_path / "tsa-clock")
    status_file.write(_status())
    guard = ClockGuard(status_file)
    n = 20_000
    started = time.perf_counter()
    for _ in range(n):
        guard.check()
    per_call = (time.perf_counter() - started) / n
    assert per_call < 50e-6  # typically 1-2 µs; generous for a loaded machine


# --------------------------------------------------------------------------- guard


@pytest.fixture
def status_file(tmp_path):
    return ClockStatusFile(tmp_path / "tsa-clock")


def test_guard_ok(status_file):
    status_file.write(_status(offset=0.3))
    assert ClockGuard(status_file).check() == (True, "")


def test_guard_skewed_beyond_tolerance(status_file):
    status_file.write(_status("skewed", 1.5))
    ok, reason = ClockGuard(status_file).check()
    assert not ok and "off by" in reason
    # The guard's own tolerance applies to the offset too, not only the monitor's state.
    status_file.write(_status("ok", 0.4))
    assert ClockGuard(status_file, tolerance=0.25).check()[0] is False
    assert ClockGuard(status_file, tolerance=0.5).check()[0] is True


def test_guard_stale(status_file):
    status = _status()
    status_file.write(status)
    guard = ClockGuard(status_file, max_age=180)
    assert guard.check(now=status.checked_at + 179)[0] is True
    ok, reason = guard.check(now=status.checked_at + 181)
    assert not ok and "stale" in reason
    # Real clocks: a status written "181 s ago" (on the monotonic clock) is stale as well.
    status_file.write(_status(mono=time.monotonic() - 181))
    assert guard.check()[0] is False


def test_guard_detects_clock_step_since_check(status_file):
    status = _status(offset=0.0)
    status_file.write(status)
    guard = ClockGuard(status_file)
    mono = status.monotonic + 10
    assert guard.check(now=status.checked_at + 10, monotonic=mono) == (True, "")
    # Somebody set the clock 5 s ahead 10 s after the check.
    ok, reason = guard.check(now=status.checked_at + 15, monotonic=mono)
    assert not ok and "clock step of +5.000" in reason
    # The step is subtracted from the measured offset: +0.9 s measured, clock then set
    # 0.8 s ahead leaves 0.1 s (fine); set 0.5 s back instead leaves 1.4 s (refused).
    status = _status(offset=0.9)
    status_file.write(status)
    assert guard.check(now=status.checked_at + 10.8, monotonic=status.monotonic + 10)[0]
    ok, reason = guard.check(now=status.checked_at + 9.5, monotonic=status.monotonic + 10)
    assert not ok and "off by -1.400 s after a clock step of -0.500 s" in reason


def test_guard_unknown(status_file):
    assert ClockGuard(status_file).check() == (
        False,
        "clock offset unknown: the clock has not been checked yet",
    )
    status_file.write(ClockStatus("unknown", None, time.time(), "x: no answer", time.monotonic()))
    ok, reason = ClockGuard(status_file, unchecked_ok=True).check()
    assert not ok and "x: no answer" in reason


def test_guard_unchecked(status_file):
    status_file.write(ClockStatus("unchecked", None, time.time(), "no NTP servers configured"))
    assert ClockGuard(status_file).check()[0] is False
    assert ClockGuard(status_file, unchecked_ok=True).check() == (True, "")
    assert ClockGuard(None).check()[0] is False
    assert ClockGuard(None, unchecked_ok=True).check() == (True, "")


# --------------------------------------------------------------------------- monitor


def test_monitor_check_once_for_each_responder_mode(status_file):
    with NtpResponder() as ntp:
        monitor = ClockMonitor([ntp.server], status_file, timeout=SHORT)
        guard = ClockGuard(status_file)

        status = monitor.check_once()
        assert status.state == "ok" and abs(status.offset) < 0.05
        assert str(ntp.server) in status.source
        assert status_file.read() == status and guard.check()[0]

        ntp.offset = 5.0
        status = monitor.check_once()
        assert status.state == "skewed" and status.offset == pytest.approx(5.0, abs=0.05)
        assert status_file.read() == status and not guard.check()[0]

        ntp.offset, ntp.silent = 0.0, True
        status = monitor.check_once()
        assert status.state == "unknown" and status.offset is None
        assert "no answer" in status.source and not guard.check()[0]

        ntp.silent, ntp.kiss = False, "RATE"
        status = monitor.check_once()
        assert status.state == "unknown" and "RATE" in status.source

        ntp.kiss, ntp.unsynchronised = None, True
        assert monitor.check_once().state == "unknown"

        ntp.unsynchronised = False
        assert monitor.check_once().state == "ok" and guard.check()[0]

    status = ClockMonitor([], status_file).check_once()
    assert status.state == "unchecked" and status_file.read().state == "unchecked"


def test_monitor_tolerance(status_file):
    with NtpResponder(offset=0.5) as ntp:
        assert ClockMonitor([ntp.server], status_file, tolerance=1.0).check_once().state == "ok"
        assert ClockMonitor([ntp.server], status_file, tolerance=0.2).check_once().state == (
            "skewed"
        )


def test_monitor_run_stops_promptly(status_file):
    with NtpResponder() as ntp:
        monitor = ClockMonitor([ntp.server], status_file, interval=0.05, timeout=SHORT)
        stop = threading.Event()
        thread = threading.Thread(target=monitor.run, args=(stop,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 5
        while ntp.requests < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ntp.requests >= 3
        assert status_file.read().state == "ok"
        stop.set()
        thread.join(timeout=SHORT + 0.5)
        assert not thread.is_alive()

        # Long interval: run() is waiting, and wakes at once when stopped.
        monitor = ClockMonitor([ntp.server], status_file, interval=3600)
        stop = threading.Event()
        thread = threading.Thread(target=monitor.run, args=(stop,), daemon=True)
        thread.start()
        time.sleep(0.1)
        started = time.monotonic()
        stop.set()
        thread.join(timeout=2)
        assert not thread.is_alive() and time.monotonic() - started < 0.5


def test_monitor_run_never_raises(status_file, monkeypatch, capsys):
    monitor = ClockMonitor([NtpServer("127.0.0.1", 9)], status_file, retry_interval=0.01)
    stop = threading.Event()
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) >= 3:
            stop.set()
        raise RuntimeError("boom")

    monkeypatch.setattr("keiin.tsa.clock.measure", broken)
    monitor.run(stop)  # returns, does not raise
    assert len(calls) == 3
    status = status_file.read()
    assert status.state == "unknown" and "boom" in status.source
    assert "clock check failed" in capsys.readouterr().err


# --------------------------------------------------------------------------- purity


def test_clock_module_imports_no_django():
    code = (
        "import sys, keiin.tsa.clock\n"
        "loaded = sorted(n for n in sys.modules if n == 'django' or n.startswith('django.'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
