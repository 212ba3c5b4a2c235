"""A TSA worker's side of the log keeper: stream entries, await acknowledgements.

Everything happens on the worker's event loop — no thread, so nothing competes with the
event loop for the GIL. Per token: one record appended to an output list and one future.
The list goes out with one ``transport.write`` per loop iteration (every request that
reached this point in the same iteration shares the system call); the keeper answers each of
its flushes with one 9-byte acknowledgement per connection that settles every request up to
an id. Wire format: :mod:`keiin.tsa.issuance`.

Failure means ``systemFailure`` for the requests concerned, never a token without its row:
the keeper unreachable (:class:`LogUnavailableError` at once), the connection lost (every
request waiting on it fails; the next request reconnects), the keeper reporting a failed
flush, or no acknowledgement within ``KEIIN_TSA_LOG_TIMEOUT`` seconds (default 10; the
connection is then dropped, so a late acknowledgement cannot be mistaken for a new one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque

from keiin.tsa.issuance import ACK_SIZE, COMMITTED, LogEntry, WireError, decode_acks, encode_record
from keiin.web.timestamping.issuance_log import LogUnavailableError

_Waiting = deque[tuple[int, "asyncio.Future[None]"]]


class _KeeperProtocol(asyncio.Protocol):
    """One connection to the keeper: settles the waiting futures from its acknowledgements."""

    def __init__(self, waiting: _Waiting) -> None:
        self.waiting = waiting
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._partial = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        data = self._partial + data
        cut = len(data) - len(data) % ACK_SIZE
        self._partial = data[cut:]
        try:
            acks = decode_acks(data[:cut])
        except WireError:  # cannot happen with whole acknowledgements; be strict anyway
            self.fail("garbled acknowledgement from the log keeper")
            return
        waiting = self.waiting
        for status, last in acks:
            while waiting and waiting[0][0] <= last:
                _request_id, future = waiting.popleft()
                if future.done():
                    continue
                if status == COMMITTED:
                    future.set_result(None)
                else:
                    future.set_exception(LogUnavailableError("the issuance log flush failed"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail("lost the connection to the log keeper")

    def fail(self, reason: str) -> None:
        """Fail every waiting request and close (the client reconnects on its next record)."""
        self.lost = True
        waiting = self.waiting
        while waiting:
            _request_id, future = waiting.popleft()
            if not future.done():
                future.set_exception(LogUnavailableError(reason))
        if self.transport is not None:
            self.transport.close()


class KeeperClient:
    """Records issuance-log entries through the log keeper (see module docstring)."""

    def __init__(self, path: str, *, timeout: float | None = None) -> None:
        self.path = path
        self.timeout = timeout or float(os.environ.get("KEIIN_TSA_LOG_TIMEOUT", "10"))
        self._protocol: _KeeperProtocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Future[None] | None = None
        self._next_id = 0
        self._out: list[bytes] = []
        self._flush_scheduled = False

    async def record(self, entry: LogEntry) -> None:
        """Return once the keeper has committed ``entry``; raise :class:`LogUnavailableError`
        if it did not."""
        protocol = self._protocol
        if protocol is None or protocol.lost or self._loop is not asyncio.get_running_loop():
            protocol = await self._connect()
        loop = self._loop
        assert loop is not None
        self._next_id = request_id = self._next_id + 1
        future: asyncio.Future[None] = loop.create_future()
        protocol.waiting.append((request_id, future))
        self._out.append(encode_record(request_id, entry))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush, protocol)
        await future

    def _flush(self, protocol: _KeeperProtocol) -> None:
        """Send what this loop iteration queued (one write) and arm its timeout."""
        self._flush_scheduled = False
        out, self._out = self._out, []
        if protocol.lost or protocol.transport is None:
            protocol.fail("lost the connection to the log keeper")
            return
        protocol.transport.write(b"".join(out))
        assert self._loop is not None
        self._loop.call_later(self.timeout, self._check_timeout, protocol, self._next_id)

    def _check_timeout(self, protocol: _KeeperProtocol, request_id: int) -> None:
        waiting = protocol.waiting
        if waiting and waiting[0][0] <= request_id and not protocol.lost:
            protocol.fail(f"no acknowledgement from the log keeper within {self.timeout:g} s")

    async def _connect(self) -> _KeeperProtocol:
        """Connect (once for all the requests that need it at the same moment)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): forget the old connection
            self._protocol, self._connecting, self._loop = None, None, loop
            self._out, self._flush_scheduled = [], False
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open(loop))
        connecting = self._connecting
        try:
            await asyncio.shield(connecting)
        finally:
            if self._connecting is connecting and connecting.done():
                self._connecting = None
        protocol = self._protocol
        if protocol is None or protocol.lost:
            raise LogUnavailableError("the log keeper is not reachable")
        return protocol

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting: _Waiting = deque()
        try:
            _transport, protocol = await loop.create_unix_connection(
                lambda: _KeeperProtocol(waiting), self.path
            )
        except OSError as exc:
            self._protocol = None
            raise LogUnavailableError(f"the log keeper is not reachable: {exc}") from None
        old, self._protocol = self._protocol, protocol
        if old is not None and not old.lost:
            with contextlib.suppress(Exception):
                old.fail("replaced")
