"""The durable issuance log: the database writer, and the in-process group-committing log.

Every granted token is written to ``IssuedToken`` and committed *before* its reply is sent.
Two ways to get there, with the same guarantee and the same writer (:func:`write_entries`):

- under ``keiin serve`` the workers stream their entries to the *log keeper*
  (:mod:`~keiin.web.timestamping.log_keeper`, a thread of the ``keiin serve`` process) over a
  Unix socket and wait for its acknowledgement (:mod:`~keiin.web.timestamping.log_client`);
- anywhere else (tests, an ASGI app mounted by hand) :class:`ThreadLog`, one writer thread per
  process, does the same in-process.

:func:`issuance_log` picks one: the keeper when ``KEIIN_TSA_LOG_SOCKET`` names its socket.

Why a keeper at all: a writer thread inside a worker competes with the event loop for the GIL.
The ECDSA signature (in ``cryptography``) releases the GIL, the writer takes it, and the event
loop waits to get it back: measured, the event loop spent ~50 µs more CPU per token with the
writer thread busy than without it, and the writer itself ~40 µs. In the keeper's process that
contention is gone, both workers' tokens share one flush (one fsync), and SQLite has a single
writer, so no lock between workers is needed.

What a flush costs the database: rows are keyed by sequence number (:mod:`keiin.tsa.serials`),
so they append to the right edge of every index — no random page per token as a unique index
on random serials did — and they go in with one multi-row ``INSERT … VALUES (…), (…)`` per
chunk, prepared as plain tuples (no ORM); on SQLite through the sqlite3 connection itself
(``BEGIN IMMEDIATE`` / ``INSERT`` / ``COMMIT``), Django's per-transaction bookkeeping having
been a third of the writer's CPU time. If the flush fails, every request in it is answered
``systemFailure`` and no token leaves.

``ThreadLog`` keeps its cross-thread signalling cheap: a request only appends to a deque; the
writer is woken only when idle, and settles a batch with one ``call_soon_threadsafe`` per event
loop. Several processes with a ``ThreadLog`` on one SQLite home take an ``flock`` around their
transaction (SQLite's own busy handler sleeps 1, 2, 5, 10 … ms whatever the lock holder does).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Protocol

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from keiin.flock import locked
from keiin.pki.serials import serial_to_hex
from keiin.tsa.issuance import LogEntry
from keiin.web.timestamping.models import IssuedToken

log = logging.getLogger("keiin.tsa.log")

MAX_BATCH = 2000
#: Set by ``keiin serve`` for its workers: the log keeper's Unix socket.
SOCKET_ENV = "KEIIN_TSA_LOG_SOCKET"
_COLUMNS = (
    "id",
    "serial_hex",
    "gen_time",
    "hash_algorithm",
    "digest_hex",
    "policy",
    "account_id",
    "token_sha256",
)


class LogUnavailableError(Exception):
    """The issuance log could not be written; nothing may be issued."""


_Pending = tuple[LogEntry, "asyncio.Future[None]", asyncio.AbstractEventLoop]


class ThreadLog:
    """In-process group-committing writer, one per process (see module docstring)."""

    def __init__(self) -> None:
        self._pending: deque[_Pending] = deque()
        self._wake = threading.Condition()
        self._idle = False  # the writer is waiting for work (read without the lock)
        self._thread: threading.Thread | None = None
        self.flushes = 0
        self.entries = 0

    def _ensure_thread(self) -> None:
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                self._idle = False
                self._thread = threading.Thread(target=self._run, name="tsa-log", daemon=True)
                self._thread.start()

    async def record(self, entry: LogEntry) -> None:
        """Return once ``entry`` is committed; raise :class:`LogUnavailableError` if not."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._ensure_thread()
        self._pending.append((entry, future, loop))
        if self._idle:  # wake the writer once; while it flushes, requests only queue
            with self._wake:
                self._wake.notify()
        await future

    def _run(self) -> None:
        pending = self._pending
        while True:
            with self._wake:
                self._idle = True  # before looking: a request that appends now will notify
                while not pending:
                    self._wake.wait()
                self._idle = False
            error: Exception | None = None
            batch: list[_Pending] = []
            try:
                # The batch is taken once the lock is held: what arrived while another
                # process was committing goes into this flush.
                with writer_lock():
                    batch = [pending.popleft() for _ in range(min(len(pending), MAX_BATCH))]
                    write_entries([item[0] for item in batch])
                self.flushes += 1
                self.entries += len(batch)
            except Exception as exc:
                if not batch:  # the lock itself failed: fail what was waiting
                    batch = [pending.popleft() for _ in range(min(len(pending), MAX_BATCH))]
                log.error("issuance log write failed for %d tokens: %s", len(batch), exc)
                error = exc
                reset_connection()
            _settle_batch(batch, error)


def reset_connection() -> None:
    """Drop this thread's database connection after a failed write (the next one reconnects)."""
    close_old_connections()
    with contextlib.suppress(Exception):
        connection.close()


_TABLE = IssuedToken._meta.db_table
_INSERT = f"INSERT INTO {_TABLE} ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608
_ROW = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"


def write_entries(entries: Sequence[LogEntry]) -> None:
    """Insert and commit ``entries`` in one transaction (one multi-row INSERT per chunk).

    Runs on the calling thread's database connection, which must not be inside an atomic
    block. Raises whatever the database raises; then nothing of the batch is committed.
    """
    if not entries:
        return
    adapt = connection.ops.adapt_datetimefield_value
    adapted: dict[dt.datetime, object] = {}  # tokens of one batch share a few milliseconds
    params: list[object] = []
    extend = params.extend
    for entry in entries:
        gen_time = entry.gen_time
        value = adapted.get(gen_time)
        if value is None:
            value = adapted[gen_time] = adapt(gen_time)
        extend(
            (
                entry.sequence,
                serial_to_hex(entry.serial),
                value,
                entry.hash_algorithm,
                entry.digest.hex(),
                entry.policy,
                entry.account_id,
                entry.token_sha256.hex(),
            )
        )
    width = len(_COLUMNS)
    max_params = connection.features.max_query_params or 65535
    per_statement = max(1, min(MAX_BATCH, max_params // width))
    chunks = [
        (start, min(per_statement, len(entries) - start))
        for start in range(0, len(entries), per_statement)
    ]
    if connection.vendor == "sqlite":
        # The sqlite3 connection under Django's, in autocommit mode between atomic blocks:
        # BEGIN IMMEDIATE / INSERT / COMMIT directly, without Django's per-transaction
        # bookkeeping, cursor wrappers and placeholder rewriting (the caller's thread only
        # ever does this, so Django's view of the connection stays "autocommit, no atomic").
        connection.ensure_connection()
        db = connection.connection
        db.execute("BEGIN IMMEDIATE")
        try:
            for start, rows in chunks:
                db.execute(
                    (_INSERT + ", ".join([_ROW] * rows)).replace("%s", "?"),
                    params[start * width : (start + rows) * width],
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for start, rows in chunks:
            cursor.execute(
                _INSERT + ", ".join([_ROW] * rows),
                params[start * width : (start + rows) * width],
            )


class IssuanceLog(Protocol):
    """What the TSA endpoint needs of a log: ``await record(entry)``, committed or raises."""

    async def record(self, entry: LogEntry) -> None: ...


def issuance_log() -> IssuanceLog:
    """The log keeper's client under ``keiin serve``, else an in-process :class:`ThreadLog`."""
    path = os.environ.get(SOCKET_ENV)
    if path:
        from keiin.web.timestamping.log_client import KeeperClient

        return KeeperClient(path)
    return ThreadLog()


def _settle_batch(batch: list[_Pending], error: Exception | None) -> None:
    """Hand the outcome of a flush to the event loop(s) of its requests: one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for _entry, future, loop in batch:
        futures = by_loop.get(loop)
        if futures is None:
            by_loop[loop] = futures = []
        futures.append(future)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(LogUnavailableError(str(error)))


_lock_fd: int | None = None
_lock_pid = 0


@contextlib.contextmanager
def writer_lock() -> Iterator[None]:
    """Serialise the log writers of one SQLite home across processes (see module docstring)."""
    global _lock_fd, _lock_pid
    if connection.vendor != "sqlite":
        yield
        return
    if _lock_fd is None or _lock_pid != os.getpid():  # (a forked child opens its own)
        path = settings.HOME.run / "tsa-log.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        _lock_fd, _lock_pid = os.open(path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
    with locked(_lock_fd):
        yield
