"""The durable issuance log with group commit.

Every granted token is written to ``IssuedToken`` and committed *before* its reply is sent.
One writer thread per worker process drains whatever requests are waiting and commits them in
a single transaction (one fsync for the lot): under load a flush serves dozens of requests,
at low load a lone request is flushed at once. If the flush fails, every request in it is
answered ``systemFailure`` and no token leaves.

Raw ``executemany`` instead of the ORM: this runs thousands of times a second and the ORM's
per-object overhead would dominate the flush.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections import deque
from dataclasses import dataclass

from django.db import close_old_connections, connection, transaction

from keiin.web.timestamping.models import IssuedToken

log = logging.getLogger("keiin.tsa.log")

MAX_BATCH = 2000


@dataclass(frozen=True, slots=True)
class LogEntry:
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


class IssuanceLog:
    """Group-committing writer, one per worker process (see module docstring)."""

    def __init__(self) -> None:
        self._pending: deque[tuple[LogEntry, asyncio.Future[None], asyncio.AbstractEventLoop]] = (
            deque()
        )
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self.flushes = 0
        self.entries = 0

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="tsa-log", daemon=True)
            self._thread.start()

    async def record(self, entry: LogEntry) -> None:
        """Return once ``entry`` is committed; raise :class:`LogUnavailableError` if not."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._wake:
            self._ensure_thread()
            self._pending.append((entry, future, loop))
            self._wake.notify()
        await future

    def _run(self) -> None:
        table = IssuedToken._meta.db_table
        columns = (
            "serial_hex, gen_time, hash_algorithm, digest_hex, policy, account_id, token_sha256"
        )
        sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)"  # noqa: S608
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), MAX_BATCH))]
            error: Exception | None = None
            try:
                adapt = connection.ops.adapt_datetimefield_value
                rows = [
                    (
                        e.serial_hex,
                        adapt(e.gen_time),
                        e.hash_algorithm,
                        e.digest_hex,
                        e.policy,
                        e.account_id,
                        e.token_sha256,
                    )
                    for e, _f, _l in batch
                ]
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.executemany(sql, rows)
                self.flushes += 1
                self.entries += len(batch)
            except Exception as exc:
                log.error("issuance log write failed for %d tokens: %s", len(batch), exc)
                error = exc
                close_old_connections()
                try:
                    connection.close()
                except Exception:  # noqa: S110 - the next flush reconnects
                    pass
            for _entry, future, loop in batch:
                loop.call_soon_threadsafe(_settle, future, error)


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(LogUnavailableError(str(error)))
