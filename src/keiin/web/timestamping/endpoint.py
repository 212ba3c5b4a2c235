"""``POST /tsa``: RFC 3161 over HTTP on the raw-ASGI fast path.

Order of work per request: method → authentication (HTTP 401/403 — the only HTTP-level
refusals) → body → parse (rejections are TimeStampResp) → clock guard (``timeNotAvailable``)
→ policy → sign (DER template) → durable log (group commit; ``systemFailure`` if it cannot be
written) → reply. Nothing leaves before its log row is committed.

This runs thousands of times a second per worker, so the common case stays synchronous and
allocation-light: a cached credential is checked without a coroutine or a Django timezone
lookup (today's date is cached until the next local midnight), the token factory without an
``await``, serial numbers come from a reserved block of sequence numbers
(:mod:`keiin.tsa.serials`) without the database, and the log entry carries raw bytes (the
writer makes the hex). A credential that
is not cached yet is looked up once per worker even when many requests carry it at the same
moment (after a restart or an accounts change, dozens of connections would otherwise queue for
one Argon2 check each).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from keiin.tsa.clock import ClockGuard, ClockStatusFile, parse_servers
from keiin.tsa.issuance import LogEntry
from keiin.tsa.request import parse_request
from keiin.tsa.response import FailInfo, Rejection, rejection_response
from keiin.tsa.template import TokenFactory, token_of
from keiin.web.asgi_body import read_body
from keiin.web.ca import services
from keiin.web.timestamping import auth
from keiin.web.timestamping.config import tsa_settings
from keiin.web.timestamping.issuance_log import LogUnavailableError, issuance_log
from keiin.web.timestamping.profile import load_factory
from keiin.web.timestamping.serials import token_serials

log = logging.getLogger("keiin.tsa")

MAX_BODY = 4096
_REPLY_CT = (b"content-type", b"application/timestamp-reply")
_UTC = dt.UTC


def clock_status_file() -> ClockStatusFile:
    """The shared clock status of this machine (written by ``keiin serve``)."""
    return ClockStatusFile(settings.HOME.run / "clock.status")


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers}


class TsaEndpoint:
    """ASGI app issuing time-stamp tokens (see module docstring)."""

    def __init__(self) -> None:
        self._auth = auth.Authenticator()
        self._log = issuance_log()
        self._factory: TokenFactory | None = None
        self._factory_generation = -1
        self._guard: ClockGuard | None = None
        self._serials = token_serials()
        self._day: dt.date | None = None
        self._day_ends = 0.0  # time.time() of the next local midnight
        self._lookups: dict[bytes, asyncio.Future[auth.Principal | None]] = {}

    # -- replies ---------------------------------------------------------------------------

    async def _reply(self, send: Any, body: bytes) -> None:
        await send(_start(200, [_REPLY_CT, (b"content-length", b"%d" % len(body))]))
        await send({"type": "http.response.body", "body": body})

    async def _refuse(self, send: Any, status: int, reason: str) -> None:
        body = (reason + "\n").encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b'Basic realm="Keiin TSA", charset="UTF-8"'))
        if status == 405:
            headers.append((b"allow", b"POST"))
        await send(_start(status, headers))
        await send({"type": "http.response.body", "body": body})

    # -- request ---------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["method"] != "POST":
            await self._refuse(send, 405, "use POST with an application/timestamp-query body")
            return
        outcome = self._authenticate_cached(scope)
        if outcome is None:
            outcome = await self._authenticate(scope)
        if outcome.status:
            await self._refuse(send, outcome.status, outcome.reason)
            return
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body: bytes | None = message.get("body", b"")
            if len(body) > MAX_BODY:  # type: ignore[arg-type]
                body = None
        else:
            body = await read_body(receive, MAX_BODY, message)
        if body is None:
            await self._reply(
                send, rejection_response(FailInfo.BAD_DATA_FORMAT, "request too large")
            )
            return
        try:
            request = parse_request(body)
            ok, why = self._clock().check()
            if not ok:
                raise Rejection(FailInfo.TIME_NOT_AVAILABLE, why)
            factory = self._factory
            if factory is None or services.revocation_generation().value() != (
                self._factory_generation
            ):
                factory = await self._token_factory()
            policy = factory.select_policy(request)
        except Rejection as rejection:
            await self._reply(send, rejection_response(rejection.fail_info, rejection.text))
            return
        pair = self._serials.try_next()
        if pair is None:
            await sync_to_async(self._serials.refill)()
            pair = self._serials.next()  # (the new block is there: no database)
        sequence, serial = pair
        now = dt.datetime.now(_UTC)
        gen_time = now.replace(microsecond=now.microsecond - now.microsecond % 1000)
        response = factory.grant(request, serial=serial, gen_time=gen_time, policy=policy)
        principal = outcome.principal
        entry = LogEntry(
            sequence,
            serial,
            gen_time,
            request.hash_algorithm,
            request.digest,
            policy,
            principal.account_id if principal is not None else None,
            hashlib.sha256(token_of(response)).digest(),
        )
        try:
            await self._log.record(entry)
        except LogUnavailableError:
            await self._reply(
                send, rejection_response(FailInfo.SYSTEM_FAILURE, "issuance log unavailable")
            )
            return
        await send(_start(200, [_REPLY_CT, (b"content-length", b"%d" % len(response))]))
        await send({"type": "http.response.body", "body": response})

    def _clock(self) -> ClockGuard:
        guard = self._guard
        if guard is None:
            cfg = tsa_settings()
            checked = bool(parse_servers(cfg.ntp_servers))
            guard = self._guard = ClockGuard(
                clock_status_file(),
                tolerance=cfg.clock_tolerance,
                max_age=max(3 * cfg.ntp_interval, 30.0),
                unchecked_ok=cfg.allow_unchecked_clock and not checked,
            )
        return guard

    async def _token_factory(self) -> TokenFactory:
        generation = services.revocation_generation().value()
        if generation != self._factory_generation:  # the TSA certificate may have changed
            self._factory, self._factory_generation = None, generation
        if self._factory is None:
            factory = await sync_to_async(load_factory)()
            if factory is None:
                raise Rejection(FailInfo.SYSTEM_FAILURE, "no time-stamping unit certificate")
            self._factory = factory
        return self._factory

    # -- authentication --------------------------------------------------------------------

    def _today(self) -> dt.date:
        """``timezone.localdate()``, recomputed only when a local midnight has passed."""
        if self._day is None or time.time() >= self._day_ends:
            local = timezone.localtime()
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            self._day_ends = (midnight + dt.timedelta(days=1)).timestamp()
            self._day = local.date()
        return self._day

    def _authenticate_cached(self, scope: dict[str, Any]) -> auth.AuthOutcome | None:
        """The outcome without touching the database, or None when a lookup is needed."""
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        if header is None:
            if tsa_settings().anonymous:
                return auth.ANONYMOUS
            return auth.AuthOutcome(None, 401, "authentication required")
        principal = self._auth.cached(header)
        if principal is None:
            return None
        today = self._today()
        if today > principal.term_end:
            return None  # maybe renewed since: look again
        client = scope.get("client")
        return auth.check_principal(principal, client[0] if client else None, today)

    async def _authenticate(self, scope: dict[str, Any]) -> auth.AuthOutcome:
        """Authenticate against the database (a credential not cached, or past its term)."""
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        if header is None:  # (handled by _authenticate_cached; kept for direct callers)
            if tsa_settings().anonymous:
                return auth.ANONYMOUS
            return auth.AuthOutcome(None, 401, "authentication required")
        client = scope.get("client")
        client_ip = client[0] if client else None
        today = self._today()
        principal = self._auth.cached(header)
        if principal is not None and today > principal.term_end:
            principal = None  # maybe renewed since: look again
        if principal is None:
            parsed = auth.parse_authorization(header)
            if parsed is None:
                return auth.AuthOutcome(None, 401, "malformed Authorization header")
            kind, ident, secret = parsed
            if kind == "basic":
                if self._auth.locked(ident):
                    return auth.AuthOutcome(None, 401, "too many failed attempts; try later")
                principal = await self._lookup_once(header, auth.lookup_basic, ident, secret)
                if principal is None:
                    self._auth.failed(ident)
                    return auth.AuthOutcome(None, 401, "wrong user ID or password")
                self._auth.succeeded(ident)
            else:
                principal = await self._lookup_once(header, auth.lookup_token, ident)
                if principal is None:
                    return auth.AuthOutcome(None, 401, "unknown or revoked API token")
            self._auth.remember(header, principal)
        return auth.check_principal(principal, client_ip, today)

    async def _lookup_once(self, header: bytes, lookup: Any, *args: str) -> auth.Principal | None:
        """``lookup(*args)`` in a worker thread; concurrent requests with the same
        Authorization header share one lookup instead of queueing for one each.

        The lookup is a task of its own: a request that goes away does not cancel it for the
        others.
        """
        key = self._auth.cache_key(header)
        task = self._lookups.get(key)
        if task is None:
            task = asyncio.ensure_future(sync_to_async(lookup)(*args))
            self._lookups[key] = task

            def done(finished: asyncio.Future[auth.Principal | None]) -> None:
                if self._lookups.get(key) is finished:
                    del self._lookups[key]
                if not finished.cancelled():
                    finished.exception()  # retrieved, even if every waiter went away

            task.add_done_callback(done)
        return await asyncio.shield(task)
