"""The durable issuance log with group commit.

Every granted token is written to ``IssuedToken`` and committed *before* its reply is sent.
One writer thread per worker process drains whatever requests are waiting and commits them in
a single transaction (one fsync for the lot): under load a flush serves a dozen or more
requests, at low load a lone request is flushed at once. If the flush fails, every request in
it is answered ``systemFailure`` and no token leaves.

The costs that matter at thousands of tokens per second, and what this module does about them:

- *Cross-thread signalling.* A request only appends to a deque; the writer is woken (a lock
  and a notify) only when it is idle, and it settles a whole batch with one
  ``call_soon_threadsafe`` per event loop, not one per request.
- *The GIL.* ``executemany`` runs one SQLite step per row and releases and re-takes the GIL
  around each, while the event loop is busy signing. Rows go in with one multi-row
  ``INSERT … VALUES (…), (…)`` per chunk instead, prepared as plain tuples (no ORM), and on
  SQLite through the sqlite3 connection itself (``BEGIN IMMEDIATE`` / ``INSERT`` /
  ``COMMIT``): Django's per-transaction bookkeeping was a third of this thread's CPU time.
- *Two workers, one SQLite file.* SQLite admits one writer at a time and a writer that finds
  the file locked sleeps in SQLite's busy handler (1, 2, 5, 10 … ms) whatever the lock holder
  does. The writers of one home take an ``flock`` around their transaction instead, so the
  second one starts the moment the first has committed, and each takes its batch only once
  it holds the lock (what arrived meanwhile joins the flush). PostgreSQL needs none of this.

What remains is SQLite's own work, about 40 µs of CPU per row on this schema once the table
holds a few hundred thousand rows (``bench/README.md``): the unique index on a random 127-bit
serial puts every row on a different index page, so each commit writes about one 4 KiB page
per token to the WAL, and the checkpoint writes it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from keiin.flock import locked
from keiin.web.timestamping.models import IssuedToken

log = logging.getLogger("keiin.tsa.log")

MAX_BATCH = 2000
_COLUMNS = (
    "serial_hex",
    "gen_time",
    "hash_algorithm",
    "digest_hex",
    "policy",
    "account_id",
    "token_sha256",
)


class LogEntry(NamedTuple):
    """One granted token as the log records it."""

    serial_hex: str
    gen_time: dt.datetime
    hash_algorithm: str
    digest_hex: str
    policy: str
    account_id: int | None
    token_sha256: str


class LogUnavailableError(Exception):
    """The issuance log could not be written; nothing may be issued."""


_Pending = tuple[LogEntry, "asyncio.Future[None]", asyncio.AbstractEventLoop]


class IssuanceLog:
    """Group-committing writer, one per worker process (see module docstring)."""

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
        table = IssuedToken._meta.db_table
        row_sql = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        insert = f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608
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
                # The batch is taken once the lock is held: what arrived while the other
                # worker was committing goes into this flush. Only SQLite needs the lock (one
                # writer at a time); PostgreSQL commits the workers' flushes concurrently.
                lock = _writer_lock() if connection.vendor == "sqlite" else contextlib.nullcontext()
                with lock:
                    batch = [pending.popleft() for _ in range(min(len(pending), MAX_BATCH))]
                    self._write(batch, insert, row_sql)
                self.flushes += 1
                self.entries += len(batch)
            except Exception as exc:
                if not batch:  # the lock itself failed: fail what was waiting
                    batch = [pending.popleft() for _ in range(min(len(pending), MAX_BATCH))]
                log.error("issuance log write failed for %d tokens: %s", len(batch), exc)
                error = exc
                close_old_connections()
                with contextlib.suppress(Exception):  # the next flush reconnects
                    connection.close()
            _settle_batch(batch, error)

    def _write(self, batch: list[_Pending], insert: str, row_sql: str) -> None:
        """Insert and commit ``batch`` (one transaction, one multi-row INSERT per chunk)."""
        adapt = connection.ops.adapt_datetimefield_value
        adapted: dict[dt.datetime, object] = {}  # tokens of one batch share a few milliseconds
        params: list[object] = []
        extend = params.extend
        for entry, _future, _loop in batch:
            gen_time = entry.gen_time
            value = adapted.get(gen_time)
            if value is None:
                value = adapted[gen_time] = adapt(gen_time)
            extend((entry[0], value, *entry[2:]))
        width = len(_COLUMNS)
        max_params = connection.features.max_query_params or 65535
        per_statement = max(1, min(MAX_BATCH, max_params // width))
        chunks = [
            (start, min(per_statement, len(batch) - start))
            for start in range(0, len(batch), per_statement)
        ]
        if connection.vendor == "sqlite":
            # The sqlite3 connection under Django's, in autocommit mode between atomic blocks:
            # BEGIN IMMEDIATE / INSERT / COMMIT directly, without Django's per-transaction
            # bookkeeping, cursor wrappers and placeholder rewriting (this thread only ever
            # does this, so Django's view of the connection stays "autocommit, no atomic").
            connection.ensure_connection()
            db = connection.connection
            db.execute("BEGIN IMMEDIATE")
            try:
                for start, rows in chunks:
                    db.execute(
                        (insert + ", ".join([row_sql] * rows)).replace("%s", "?"),
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
                    insert + ", ".join([row_sql] * rows),
                    params[start * width : (start + rows) * width],
                )


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
def _writer_lock() -> Iterator[None]:
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
