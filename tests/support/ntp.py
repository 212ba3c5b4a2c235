"""A tiny SNTP server on loopback for tests: a good clock, a skewed one, a silent one, and
the failure modes a client must reject (kiss-o'-death, unsynchronised, spoofed origin).

    with NtpResponder(offset=5.0) as ntp:      # reports a clock 5 s ahead of ours
        query(ntp.server, timeout=0.5)
        ntp.offset = 0.0                      # every attribute may change at runtime
        ntp.silent = True                     # receives, never answers
"""

from __future__ import annotations

import socket
import struct
import threading
import time

from keiin.tsa.clock import NtpServer, to_ntp

_PACKET = struct.Struct("!BBbbII4sQQQQ")


class NtpResponder:
    """An SNTP server on 127.0.0.1 (UDP, ephemeral port) answering from a background thread.

    ``offset``: seconds added to the time it reports (0 = good clock).
    ``silent``: swallow requests. ``kiss``: answer kiss-o'-death with this code (stratum 0).
    ``unsynchronised``: leap indicator 3. ``spoof_origin``: echo a wrong origin timestamp.
    ``stratum``, ``root_dispersion`` (seconds): what the replies claim.
    ``requests``: how many requests arrived.
    """

    def __init__(
        self,
        *,
        offset: float = 0.0,
        silent: bool = False,
        kiss: str | None = None,
        unsynchronised: bool = False,
        spoof_origin: bool = False,
        stratum: int = 1,
        root_dispersion: float = 0.0,
    ) -> None:
        self.offset = offset
        self.silent = silent
        self.kiss = kiss
        self.unsynchronised = unsynchronised
        self.spoof_origin = spoof_origin
        self.stratum = stratum
        self.root_dispersion = root_dispersion
        self.requests = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self.server = NtpServer("127.0.0.1", self.port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"ntp-{self.port}", daemon=True)
        self._thread.start()

    def __enter__(self) -> NtpResponder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            received = time.time() + self.offset
            self.requests += 1
            if self.silent or len(data) < _PACKET.size:
                continue
            reply = self._reply(_PACKET.unpack_from(data), received)
            try:
                self._sock.sendto(reply, peer)
            except OSError:
                continue

    def _reply(self, request: tuple, received: float) -> bytes:
        version = (request[0] >> 3) & 7
        origin = request[10]
        if self.spoof_origin:
            origin ^= 0x5A5A_5A5A_0000_0001
        if self.kiss is not None:
            stratum, ref_id = 0, self.kiss.encode("ascii")[:4].ljust(4, b"\0")
        else:
            stratum, ref_id = self.stratum, b"TEST"
        leap = 3 if self.unsynchronised else 0
        dispersion = int(self.root_dispersion * 2**16)
        transmit = time.time() + self.offset
        return _PACKET.pack(
            (leap << 6) | (version << 3) | 4,
            stratum,
            request[2],  # poll
            -20,  # precision: about a microsecond
            0,  # root delay
            dispersion,
            ref_id,
            to_ntp(received - 16),  # reference timestamp
            origin,
            to_ntp(received),
            to_ntp(transmit),
        )
