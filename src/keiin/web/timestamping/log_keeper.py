"""The log keeper: the one writer of the issuance log under ``keiin serve``.

A thread of the ``keiin serve`` process (not of a worker: see
:mod:`~keiin.web.timestamping.issuance_log` for why). Workers connect to its Unix socket and
stream :class:`~keiin.tsa.issuance.LogEntry` records; the keeper loops:

1. wait until some connection has data (or a new worker connects);
2. read everything every ready connection has sent — the *group*: whatever arrived while the
   previous flush was committing;
3. commit the group in one transaction (:func:`write_entries`: one fsync for all of it);
4. answer each connection with one acknowledgement covering its records in the group:
   committed, or failed (its requests get ``systemFailure``; nothing was committed).

Only the acknowledgement releases a token, so a keeper killed at any point loses no token a
client received. A connection that sends a malformed stream is closed (its waiting requests
fail on the worker's side). The socket is created with mode 0600 in a 0700 folder: only the
service's own user can write to the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from keiin.tsa.issuance import COMMITTED, FAILED, LogEntry, RecordReader, WireError, encode_ack
from keiin.web.timestamping.issuance_log import reset_connection, write_entries, writer_lock

log = logging.getLogger("keiin.tsa.keeper")

_RECV = 1 << 20
#: Unix socket paths must fit in ``sun_path`` (108 bytes on Linux, with the terminator).
_MAX_SOCKET_PATH = 100
_TEMP_PREFIX = "keiin-tsa-log-"


def socket_path(run_dir: Path) -> Path:
    """Where the keeper listens: ``run_dir/tsa-log.sock``, or a private temporary folder when
    that path is too long for a Unix socket."""
    path = run_dir / "tsa-log.sock"
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    return Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX)) / "tsa-log.sock"  # mkdtemp: mode 0700


@dataclass
class _Connection:
    sock: socket.socket
    reader: RecordReader = field(default_factory=RecordReader)
    last: int = 0  # request id of the newest record in the current group


class LogKeeper:
    """Serves one socket until stopped (see module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.flushes = 0
        self.entries = 0
        self._ready = threading.Event()

    def wait_ready(self, timeout: float) -> bool:
        """True once the socket accepts connections."""
        return self._ready.wait(timeout)

    def serve(self, stop: threading.Event) -> None:
        """Accept workers and commit their records until ``stop`` is set."""
        listener = self._listen()
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, None)
        connections: dict[int, _Connection] = {}
        self._ready.set()
        try:
            while not stop.is_set():
                group: list[LogEntry] = []
                senders: list[_Connection] = []
                for key, _events in selector.select(timeout=0.5):
                    if key.data is None:
                        self._accept(listener, selector, connections)
                        continue
                    conn: _Connection = key.data
                    received = self._receive(conn)
                    if received is None:
                        self._close(conn, selector, connections)
                        continue
                    if received:
                        group.extend(entry for _request_id, entry in received)
                        conn.last = received[-1][0]
                        senders.append(conn)
                if group:
                    self._flush(group, senders, selector, connections)
        finally:
            if self.flushes:
                log.info(
                    "issuance log keeper: %d tokens in %d flushes (%.1f per flush)",
                    self.entries,
                    self.flushes,
                    self.entries / self.flushes,
                )
            for conn in list(connections.values()):
                self._close(conn, selector, connections)
            selector.close()
            listener.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
                if self.path.parent.name.startswith(_TEMP_PREFIX):  # made by socket_path
                    self.path.parent.rmdir()

    def _listen(self) -> socket.socket:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket of a killed keeper
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket file is created 0600
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old_umask)
        listener.listen(64)
        listener.setblocking(False)
        return listener

    def _accept(
        self,
        listener: socket.socket,
        selector: selectors.BaseSelector,
        connections: dict[int, _Connection],
    ) -> None:
        with contextlib.suppress(BlockingIOError):
            sock, _address = listener.accept()
            sock.setblocking(False)
            conn = _Connection(sock)
            connections[sock.fileno()] = conn
            selector.register(sock, selectors.EVENT_READ, conn)

    def _receive(self, conn: _Connection) -> list[tuple[int, LogEntry]] | None:
        """Every whole record ``conn`` has sent so far; None when it closed or misbehaved."""
        records: list[tuple[int, LogEntry]] = []
        while True:
            try:
                data = conn.sock.recv(_RECV)
            except BlockingIOError:
                return records
            except OSError:
                return None
            if not data:
                return None
            try:
                records.extend(conn.reader.feed(data))
            except WireError as exc:
                log.error("closing a log connection that sent a malformed record: %s", exc)
                return None
            if len(data) < _RECV:
                return records

    def _flush(
        self,
        group: list[LogEntry],
        senders: list[_Connection],
        selector: selectors.BaseSelector,
        connections: dict[int, _Connection],
    ) -> None:
        status = COMMITTED
        try:
            with writer_lock():
                write_entries(group)
            self.flushes += 1
            self.entries += len(group)
        except Exception as exc:
            log.error("issuance log write failed for %d tokens: %s", len(group), exc)
            status = FAILED
            reset_connection()
        for conn in senders:
            try:
                conn.sock.sendall(encode_ack(status, conn.last))
            except OSError:  # the worker went away; its requests are gone with it
                self._close(conn, selector, connections)

    def _close(
        self,
        conn: _Connection,
        selector: selectors.BaseSelector,
        connections: dict[int, _Connection],
    ) -> None:
        if connections.pop(conn.sock.fileno(), None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(conn.sock)
        conn.sock.close()


def run_keeper(keeper: LogKeeper, stop: threading.Event) -> None:
    """Run ``keeper`` until ``stop``; restart it after an unexpected error (logged)."""
    while not stop.is_set():
        try:
            keeper.serve(stop)
        except Exception:
            log.exception("the issuance log keeper failed; restarting it")
            reset_connection()
            stop.wait(0.5)
