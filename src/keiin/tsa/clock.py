"""Clock discipline for the time-stamping authority: is the system clock right, to within N s?

What this module guarantees
---------------------------
The serve parent runs a :class:`ClockMonitor` in a background thread. Every ``interval``
seconds it asks the configured NTP servers (SNTPv4, RFC 4330 / RFC 5905) for the offset of
the system clock and writes the verdict to a :class:`ClockStatusFile`: a small memory-mapped
file shared by every worker process of the machine, in the spirit of
``keiin.web.ca.generation``. On every time-stamp request a worker asks its
:class:`ClockGuard`, which reads that file (a few hundred nanoseconds when nothing changed)
and grants the request only when

* the last check is fresh (at most ``max_age`` seconds old, measured on ``CLOCK_MONOTONIC``),
* the references answered and the measured offset is within ``tolerance`` (default 1 s,
  the accuracy the tokens claim), and
* the system clock has not been *stepped* since that check: the status records the wall clock
  and ``CLOCK_MONOTONIC`` of the check, and the guard compares ``time.time() -
  time.monotonic()`` now with then. Both clocks are slewed alike by the kernel, so the
  difference moves only when somebody sets the clock (``date -s``, an NTP daemon's step, a
  leap second, a resume from suspend). The step is subtracted from the measured offset, so a
  clock set wrong between two checks is refused at once, not ``max_age`` later.

Otherwise the TSA answers ``timeNotAvailable`` (RFC 3161) and says why in its log.

What it does not do
-------------------
* It does not discipline the system clock. Keeping the clock right is chronyd's or ntpd's
  job (and they do it far better: many samples, filtering, frequency tracking). Keiin only
  refuses to stamp when the system clock disagrees with the references or cannot be checked.
* SNTP is unauthenticated. The random transmit timestamp (echoed as the origin timestamp)
  defeats blind off-path spoofing, and replies from other addresses are dropped by the
  connected socket; an on-path attacker can still lie. Use servers you trust on networks you
  trust, or several servers: with three or more, one falseticker is outvoted (see
  :func:`measure`).
* Between two checks the guard trusts the clock's *rate*: slewing by the NTP daemon is not
  seen (it is bounded by the daemon's maximum slew rate times ``max_age``), only steps are.
* One status file serves one machine (``CLOCK_MONOTONIC`` is per boot and per machine).
  Several machines each run their own monitor.
* With no servers configured the state is ``unchecked``; that passes only when the operator
  said so (``unchecked_ok``, meant for demos and tests).

Pure: no Django. Python's standard library only.
"""

from __future__ import annotations

import ipaddress
import math
import mmap
import os
import secrets
import socket
import struct
import sys
import threading
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from keiin.flock import locked

NTP_PORT = 123
#: Seconds from the NTP era-0 epoch (1900-01-01) to the Unix epoch.
NTP_UNIX_DELTA = 2_208_988_800
#: RFC 5905 MAXDIST: a server further than this from its own reference is not a time source.
MAX_ROOT_DISTANCE = 1.5

STATES = ("ok", "skewed", "unknown", "unchecked")

_PACKET = struct.Struct("!BBbbII4sQQQQ")  # RFC 5905 figure 8, without extensions or MAC
_MODE_CLIENT = 3
_MODE_SERVER = 4
_LEAP_UNSYNCHRONISED = 3


# --------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class NtpServer:
    """One NTP server: a host name or IP address (IPv6 without brackets) and a UDP port."""

    host: str
    port: int = NTP_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == NTP_PORT else f"{host}:{self.port}"


def parse_servers(text: str) -> list[NtpServer]:
    """Parse ``"ntp.nict.jp, 127.0.0.1:12345, [::1]:123"`` (commas and/or blanks).

    ``""`` or ``"none"`` mean no servers. A bare IPv6 address (``::1``) takes the default
    port; give a port with brackets (``[::1]:1123``). Raises ``ValueError`` on bad input.
    """
    stripped = text.strip()
    if not stripped or stripped.lower() == "none":
        return []
    servers: list[NtpServer] = []
    for item in stripped.replace(",", " ").split():
        servers.append(_parse_server(item))
    return servers


def _parse_server(item: str) -> NtpServer:
    host, port_text = item, ""
    if item.startswith("["):
        end = item.find("]")
        if end < 0:
            raise ValueError(f"NTP server {item!r}: missing ']'")
        host, rest = item[1:end], item[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"NTP server {item!r}: expected ':port' after ']'")
            port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"NTP server {item!r}: not an IPv6 address in brackets") from None
    elif item.count(":") == 1:
        host, port_text = item.split(":")
    elif item.count(":") > 1:
        try:
            ipaddress.IPv6Address(item)
        except ValueError:
            raise ValueError(f"NTP server {item!r}: not a host, host:port or IPv6") from None
    if not host:
        raise ValueError(f"NTP server {item!r}: empty host")
    port = NTP_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"NTP server {item!r}: bad port {port_text!r}")
        port = int(port_text)
    return NtpServer(host, port)


# --------------------------------------------------------------------------- SNTP client


@dataclass(frozen=True)
class NtpSample:
    """One good reply. ``offset`` = reference − system clock; both in seconds (RFC 5905).

    The true offset lies within ``offset ± (delay / 2 + root_distance)``.
    """

    server: NtpServer
    offset: float
    delay: float
    stratum: int = 0
    root_distance: float = 0.0  # the server's own distance to its reference clock


class ClockError(Exception):
    """A server could not be asked or gave no usable answer (the message says why)."""

    def __init__(self, message: str, *, kiss: str | None = None) -> None:
        super().__init__(message)
        #: The kiss code ("RATE", "DENY", "RSTR", ...) of a kiss-o'-death reply, else None.
        #: RFC 4330: after DENY or RSTR a client must stop asking that server.
        self.kiss = kiss


def to_ntp(unix_time: float) -> int:
    """A Unix time as a 64-bit NTP timestamp (32.32 fixed point, wraps in 2036 as NTP does)."""
    return int((unix_time + NTP_UNIX_DELTA) * 2**32) & 0xFFFF_FFFF_FFFF_FFFF


def from_ntp(timestamp: int) -> float:
    """A 64-bit NTP timestamp as a Unix time; RFC 4330 section 3 era rule (1968–2104)."""
    seconds, fraction = timestamp >> 32, timestamp & 0xFFFF_FFFF
    if not seconds & 0x8000_0000:  # era 1: from 2036-02-07 06:28:16 UTC
        seconds += 2**32
    return (seconds - NTP_UNIX_DELTA) + fraction / 2**32


def _short(value: int) -> float:
    """An NTP short format (16.16 fixed point) value in seconds."""
    return value / 2**16


def query(server: NtpServer, *, timeout: float = 1.0) -> NtpSample:
    """Ask one server for the offset of the system clock (one SNTPv4 exchange over UDP).

    Raises :class:`ClockError` on timeout, network errors, and replies that are not a
    synchronised server's answer to *this* request. Replies whose origin timestamp is not
    the random transmit timestamp we sent are ignored (spoofed or stale) while we keep
    waiting for the real one until ``timeout``. Name resolution is not bounded by
    ``timeout``.
    """
    deadline = time.monotonic() + timeout
    try:
        infos = socket.getaddrinfo(server.host, server.port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise ClockError(f"{server}: cannot resolve: {exc}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.connect(address)  # the kernel then drops datagrams from any other address
        sent = secrets.randbits(64) or 1
        request = _PACKET.pack((4 << 3) | _MODE_CLIENT, 0, 0, 0, 0, 0, b"\0" * 4, 0, 0, 0, sent)
        # t1 and t4 on the wall clock, their difference on the monotonic clock: a clock step
        # during the exchange cannot produce a negative or inflated delay.
        t1, m1 = time.time(), time.monotonic()
        sock.send(request)
        ignored = 0
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                data = sock.recv(1024)
            except TimeoutError:
                extra = f" ({ignored} replies not matching our request ignored: spoofed?)"
                raise ClockError(
                    f"{server}: no answer within {timeout:g} s{extra * bool(ignored)}"
                ) from None
            m4 = time.monotonic()
            if len(data) < _PACKET.size or _PACKET.unpack_from(data)[8] != sent:
                ignored += 1  # too short, or not an answer to this request: spoofed or stale
                continue
            fields = _PACKET.unpack_from(data)
            break
    except OSError as exc:
        raise ClockError(f"{server}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    t4 = t1 + (m4 - m1)
    return _sample(server, fields, t1, t4)


def _sample(server: NtpServer, fields: tuple, t1: float, t4: float) -> NtpSample:
    first, stratum, _poll, _precision, root_delay, root_disp, ref_id = fields[:7]
    _ref, _origin, receive, transmit = fields[7:]
    leap, version, mode = first >> 6, (first >> 3) & 7, first & 7
    if mode != _MODE_SERVER:
        raise ClockError(f"{server}: bad reply: mode {mode}, expected {_MODE_SERVER} (server)")
    if not 1 <= version <= 4:
        raise ClockError(f"{server}: bad reply: NTP version {version}")
    if stratum == 0:
        code = ref_id.rstrip(b"\0").decode("ascii", "replace")
        raise ClockError(f"{server}: kiss-o'-death {code!r}", kiss=code)
    if leap == _LEAP_UNSYNCHRONISED:
        raise ClockError(f"{server}: server clock not synchronised (leap indicator 3)")
    if stratum > 15:
        raise ClockError(f"{server}: server clock not synchronised (stratum {stratum})")
    if transmit == 0 or receive == 0:
        raise ClockError(f"{server}: bad reply: zero receive or transmit timestamp")
    root_distance = _short(root_delay) / 2 + _short(root_disp)
    if root_distance > MAX_ROOT_DISTANCE:
        raise ClockError(
            f"{server}: server too far from its reference (root distance {root_distance:.3f} s)"
        )
    t2, t3 = from_ntp(receive), from_ntp(transmit)
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = (t4 - t1) - (t3 - t2)
    if t3 < t2 or delay < -0.001:  # 1 ms slack for timestamp precision
        raise ClockError(f"{server}: bad reply: inconsistent timestamps (delay {delay:.6f} s)")
    return NtpSample(server, offset, max(delay, 0.0), stratum, root_distance)


def measure(
    servers: Sequence[NtpServer], *, timeout: float = 1.0
) -> tuple[NtpSample | None, list[str]]:
    """Ask every server at once; return the chosen sample (None if none answered) and errors.

    The choice is the sample with the *median offset* of the good ones, not the one with
    the smallest delay: the smallest delay gives the tightest error bound, but lets a single
    wrong server (a falseticker) decide alone if it happens to be the nearest. The median
    outvotes a minority of falsetickers when three or more servers answer. With an even
    number of answers, of the two middle samples the one further from zero is taken: when
    two references disagree we would rather refuse to stamp than stamp a wrong time.
    Sequential worst case: ``timeout`` (plus name resolution).
    """
    if not servers:
        return None, []
    with ThreadPoolExecutor(max_workers=min(len(servers), 16)) as pool:
        futures = [pool.submit(query, server, timeout=timeout) for server in servers]
    samples: list[NtpSample] = []
    errors: list[str] = []
    for future in futures:
        try:
            samples.append(future.result())
        except ClockError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a bug must not take the monitor down
            errors.append(f"unexpected error: {exc!r}")
    return choose(samples), errors


def choose(samples: Sequence[NtpSample]) -> NtpSample | None:
    """The median-offset sample (the further from zero of the two middle ones)."""
    if not samples:
        return None
    ordered = sorted(samples, key=lambda s: s.offset)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return max(ordered[middle - 1], ordered[middle], key=lambda s: abs(s.offset))


# --------------------------------------------------------------------------- shared status


@dataclass(frozen=True)
class ClockStatus:
    """The verdict of the last check, as shared by the monitor with every worker.

    ``state``: "ok" (offset within the monitor's tolerance), "skewed" (beyond it), "unknown"
    (no server answered, or no check yet), "unchecked" (no servers configured).
    ``offset``: reference − system clock in seconds (None unless ok/skewed).
    ``checked_at``: Unix time of the check; ``monotonic``: ``time.monotonic()`` at the same
    moment (the guard uses the pair to detect clock steps since the check).
    ``source``: the server used, or why there is no offset.
    """

    state: str
    offset: float | None
    checked_at: float | None
    source: str
    monotonic: float | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"clock state {self.state!r} not one of {STATES}")


NOT_WRITTEN = ClockStatus("unknown", None, None, "the clock has not been checked yet")
UNREADABLE = ClockStatus("unknown", None, None, "the clock status file could not be read")

# File layout (little endian): an 8-byte header, the sequence number of the last complete
# record, then two slots. Record n lives in slot n % 2, so writing record n+1 never touches
# the slot readers are using; readers validate a slot by its own sequence number and CRC-32
# (a slot being rewritten under a slow reader is detected and read again).
_MAGIC = b"KCS1"
_SOURCE_MAX = 200
_HEAD = struct.Struct("<Q")
_BODY = struct.Struct(f"<Q4sBxxxdddH{_SOURCE_MAX}s")  # seq, magic, state, 3 floats, source
_CRC = struct.Struct("<I")
_SLOT = _BODY.size + _CRC.size
_SIZE = _HEAD.size + 2 * _SLOT
_STATE_CODES = {name: code for code, name in enumerate(STATES, start=1)}
_READ_ATTEMPTS = 1000


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _none(value: float) -> float | None:
    return None if math.isnan(value) else value


def _truncate(text: str, limit: int) -> bytes:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return data
    return data[: limit - 3].decode("utf-8", "ignore").encode("utf-8") + b"..."


class ClockStatusFile:
    """A :class:`ClockStatus` in a small file shared by every process of one machine.

    One writer (the serve parent; writers also serialise on ``flock``), any number of
    readers that never lock and never wait for the writer. Reads go through a read-only
    ``mmap``; when the sequence number has not moved, ``read()`` returns the status it
    decoded last time (one 8-byte unpack). Do not delete the file while servers run:
    processes that mapped it keep reading the old one.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            with locked(fd):
                size = os.fstat(fd).st_size
                if size < _SIZE:
                    os.pwrite(fd, b"\0" * (_SIZE - size), size)
            self._map = mmap.mmap(fd, _SIZE, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self.path = path
        self._seq = 0
        self._status = NOT_WRITTEN

    def write(self, status: ClockStatus) -> None:
        """Publish ``status``: readers see the previous status or this one, never a mix."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            with locked(fd):
                (current,) = _HEAD.unpack(os.pread(fd, _HEAD.size, 0))
                seq = current + 1
                source = _truncate(status.source, _SOURCE_MAX)
                body = _BODY.pack(
                    seq,
                    _MAGIC,
                    _STATE_CODES[status.state],
                    _nan(status.offset),
                    _nan(status.checked_at),
                    _nan(status.monotonic),
                    len(source),
                    source,
                )
                record = body + _CRC.pack(zlib.crc32(body))
                os.pwrite(fd, record, _HEAD.size + (seq % 2) * _SLOT)
                os.pwrite(fd, _HEAD.pack(seq), 0)
        finally:
            os.close(fd)

    def read(self) -> ClockStatus:
        """The last status written (``NOT_WRITTEN`` before the first write). Never raises."""
        m = self._map
        for _ in range(_READ_ATTEMPTS):
            (seq,) = _HEAD.unpack_from(m, 0)
            if seq == self._seq:
                return self._status
            if seq == 0:
                return NOT_WRITTEN
            start = _HEAD.size + (seq % 2) * _SLOT
            record = m[start : start + _SLOT]
            body = record[: _BODY.size]
            if _CRC.unpack_from(record, _BODY.size)[0] != zlib.crc32(body):
                continue  # torn: the writer lapped us; the header has moved on
            slot_seq, magic, code, offset, checked_at, mono, length, source = _BODY.unpack(body)
            if slot_seq != seq:
                continue  # an older or newer record than the header names
            if magic != _MAGIC or not 0 < code <= len(STATES) or length > _SOURCE_MAX:
                return UNREADABLE
            status = ClockStatus(
                STATES[code - 1],
                _none(offset),
                _none(checked_at),
                source[:length].decode("utf-8", "replace"),
                _none(mono),
            )
            self._seq, self._status = seq, status
            return status
        if _HEAD.unpack_from(m, 0)[0] == seq:  # damaged, not in flux: say so until rewritten
            self._seq, self._status = seq, UNREADABLE
        return UNREADABLE

    def close(self) -> None:
        self._map.close()


# --------------------------------------------------------------------------- guard


class ClockGuard:
    """What the TSA asks before every token: may I trust ``time.time()`` now?

    ``check()`` returns ``(True, "")`` or ``(False, reason)``. Granted only when the last
    check is at most ``max_age`` seconds old, its state is "ok", and ``|offset − step|`` is at
    most ``tolerance``, where ``step`` is how far the wall clock was set since that check
    (see the module docstring). With no status file, or the state "unchecked" (no servers
    configured), the answer is ``unchecked_ok``.
    """

    def __init__(
        self,
        status_file: ClockStatusFile | None,
        *,
        tolerance: float = 1.0,
        max_age: float = 180.0,
        unchecked_ok: bool = False,
    ) -> None:
        self.status_file = status_file
        self.tolerance = tolerance
        self.max_age = max_age
        self.unchecked_ok = unchecked_ok

    def check(
        self, now: float | None = None, *, monotonic: float | None = None
    ) -> tuple[bool, str]:
        """Decide for a request at ``now`` (default: the clocks, read now).

        Tests may pass ``now`` alone (then no step is assumed since the check) or ``now`` and
        ``monotonic`` together (to simulate a clock step).
        """
        status = self.status_file.read() if self.status_file is not None else None
        if status is None or status.state == "unchecked":
            if self.unchecked_ok:
                return True, ""
            return False, "the clock is not checked against any NTP server"
        if status.state == "unknown":
            return False, f"clock offset unknown: {status.source}"
        if status.checked_at is None or status.offset is None:
            return False, "clock status incomplete"
        if now is None:
            now = time.time()
            if monotonic is None:
                monotonic = time.monotonic()
        if status.monotonic is None:
            then_mono, step = None, 0.0
        else:
            then_mono = status.monotonic
            if monotonic is None:  # caller gave a wall time only: assume no step
                monotonic = then_mono + (now - status.checked_at)
            step = (now - monotonic) - (status.checked_at - then_mono)
        age = (monotonic - then_mono) if then_mono is not None else (now - status.checked_at)
        if age > self.max_age or age < -1.0:
            return False, f"clock status is stale (last check {age:.0f} s ago)"
        offset = status.offset - step
        if status.state != "ok" or abs(offset) > self.tolerance:
            stepped = f" after a clock step of {step:+.3f} s" if abs(step) > 0.001 else ""
            return False, (
                f"system clock off by {-offset:+.3f} s{stepped} (tolerance {self.tolerance:g} s,"
                f" reference {status.source})"
            )
        return True, ""


# --------------------------------------------------------------------------- monitor


class ClockMonitor:
    """Checks the clock every ``interval`` seconds and publishes the verdict.

    Runs in one process per machine (the ``keiin serve`` parent). While the state is not
    "ok" it checks again sooner (every ``retry_interval`` seconds, default min(interval, 8)),
    so a transient loss of the references costs seconds of refusals, not minutes.
    """

    def __init__(
        self,
        servers: Sequence[NtpServer],
        status_file: ClockStatusFile,
        *,
        tolerance: float = 1.0,
        interval: float = 64.0,
        timeout: float = 1.0,
        retry_interval: float | None = None,
    ) -> None:
        self.servers = list(servers)
        self.status_file = status_file
        self.tolerance = tolerance
        self.interval = interval
        self.timeout = timeout
        self.retry_interval = min(interval, 8.0) if retry_interval is None else retry_interval
        self.last_errors: list[str] = []

    def check_once(self) -> ClockStatus:
        """Measure now, write the status and return it."""
        if not self.servers:
            self.last_errors = []
            status = ClockStatus(
                "unchecked", None, time.time(), "no NTP servers configured", time.monotonic()
            )
        else:
            sample, errors = measure(self.servers, timeout=self.timeout)
            self.last_errors = errors
            checked_at, mono = time.time(), time.monotonic()
            if sample is None:
                reason = "; ".join(errors) or "no NTP server answered"
                status = ClockStatus("unknown", None, checked_at, reason, mono)
            else:
                state = "ok" if abs(sample.offset) <= self.tolerance else "skewed"
                answered = len(self.servers) - len(errors)
                source = (
                    f"{sample.server} (stratum {sample.stratum}, delay {sample.delay * 1000:.1f}"
                    f" ms; {answered} of {len(self.servers)} servers answered)"
                )
                status = ClockStatus(state, sample.offset, checked_at, source, mono)
        self.status_file.write(status)
        return status

    def run(self, stop: threading.Event) -> None:
        """Check now, then every ``interval`` seconds until ``stop`` is set. Never raises."""
        while not stop.is_set():
            try:
                state = self.check_once().state
            except Exception as exc:
                state = "unknown"
                self._report_failure(exc)
            wait = self.interval if state in ("ok", "unchecked") else self.retry_interval
            if stop.wait(wait):
                return

    def _report_failure(self, exc: Exception) -> None:
        try:
            print(f"keiin: clock check failed: {exc!r}", file=sys.stderr)
            self.status_file.write(
                ClockStatus(
                    "unknown", None, time.time(), f"clock check failed: {exc}", time.monotonic()
                )
            )
        except Exception:  # nothing more we can do; the status will go stale and be refused
            return
