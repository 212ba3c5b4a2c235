"""``POST /tsa``: RFC 3161 over HTTP on the raw-ASGI fast path.

Order of work per request: method → authentication (HTTP 401/403 — the only HTTP-level
refusals) → body → parse (rejections are TimeStampResp) → clock guard (``timeNotAvailable``)
→ policy → sign (DER template) → durable log (group commit; ``systemFailure`` if it cannot be
written) → reply. Nothing leaves before its log row is committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from keiin.pki.serials import random_serial, serial_to_hex
from keiin.tsa.clock import ClockGuard, ClockStatusFile, parse_servers
from keiin.tsa.request import parse_request
from keiin.tsa.response import FailInfo, Rejection, rejection_response
from keiin.tsa.template import TokenFactory, token_of
from keiin.web.ca import services
from keiin.web.timestamping import auth
from keiin.web.timestamping.config import tsa_settings
from keiin.web.timestamping.issuance_log import IssuanceLog, LogEntry, LogUnavailableError
from keiin.web.timestamping.profile import load_factory

log = logging.getLogger("keiin.tsa")

MAX_BODY = 4096
_REPLY_CT = (b"content-type", b"application/timestamp-reply")


def clock_status_file() -> ClockStatusFile:
    """The shared clock status of this machine (written by ``keiin serve``)."""
    return ClockStatusFile(settings.HOME.run / "clock.status")


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers}


class TsaEndpoint:
    """ASGI app issuing time-stamp tokens (see module docstring)."""

    def __init__(self) -> None:
        self._auth = auth.Authenticator()
        self._log = IssuanceLog()
        self._factory: TokenFactory | None = None
        self._factory_generation = -1
        self._guard: ClockGuard | None = None

    # -- replies ---------------------------------------------------------------------------

    async def _reply(self, send: Any, body: bytes) -> None:
        await send(_start(200, [_REPLY_CT, (b"content-length", str(len(body)).encode())]))
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
        outcome = await self._authenticate(scope)
        if outcome.status:
            await self._refuse(send, outcome.status, outcome.reason)
            return
        body = await _read_body(receive, MAX_BODY)
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
            factory = await self._token_factory()
            policy = factory.select_policy(request)
        except Rejection as rejection:
            await self._reply(send, rejection_response(rejection.fail_info, rejection.text))
            return
        serial = random_serial()
        gen_time = dt.datetime.now(dt.UTC)
        gen_time = gen_time.replace(microsecond=gen_time.microsecond // 1000 * 1000)
        response = factory.grant(request, serial=serial, gen_time=gen_time, policy=policy)
        entry = LogEntry(
            serial_hex=serial_to_hex(serial),
            gen_time=gen_time,
            hash_algorithm=request.hash_algorithm,
            digest_hex=request.digest.hex(),
            policy=policy,
            account_id=outcome.principal.account_id if outcome.principal else None,
            token_sha256=hashlib.sha256(token_of(response)).hexdigest(),
        )
        try:
            await self._log.record(entry)
        except LogUnavailableError:
            await self._reply(
                send, rejection_response(FailInfo.SYSTEM_FAILURE, "issuance log unavailable")
            )
            return
        await self._reply(send, response)

    def _clock(self) -> ClockGuard:
        if self._guard is None:
            cfg = tsa_settings()
            checked = bool(parse_servers(cfg.ntp_servers))
            self._guard = ClockGuard(
                clock_status_file(),
                tolerance=cfg.clock_tolerance,
                max_age=max(3 * cfg.ntp_interval, 30.0),
                unchecked_ok=cfg.allow_unchecked_clock and not checked,
            )
        return self._guard

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

    async def _authenticate(self, scope: dict[str, Any]) -> auth.AuthOutcome:
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        client = scope.get("client")
        client_ip = client[0] if client else None
        today = timezone.localdate()
        if header is None:
            if tsa_settings().anonymous:
                return auth.ANONYMOUS
            return auth.AuthOutcome(None, 401, "authentication required")
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
                principal = await sync_to_async(auth.lookup_basic)(ident, secret)
                if principal is None:
                    self._auth.failed(ident)
                    return auth.AuthOutcome(None, 401, "wrong user ID or password")
                self._auth.succeeded(ident)
            else:
                principal = await sync_to_async(auth.lookup_token)(ident)
                if principal is None:
                    return auth.AuthOutcome(None, 401, "unknown or revoked API token")
            self._auth.remember(header, principal)
        return auth.check_principal(principal, client_ip, today)


async def _read_body(receive: Any, limit: int) -> bytes | None:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
