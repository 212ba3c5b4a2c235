"""The OCSP responder on the raw-ASGI fast path (no Django request machinery).

``POST /ocsp`` (body: DER OCSPRequest) and ``GET /ocsp/<base64>`` (RFC 5019 §5). A request
without a nonce is answered from a per-worker cache of pre-signed responses keyed by the
request bytes (and, for GET, by the raw path too, so a repeated GET decodes nothing); a
response is refreshed once half its validity has passed, and the whole cache is dropped the
moment the shared revocation generation moves (see :mod:`keiin.web.ca.generation`). A request
with a nonce is signed fresh. Database look-ups (cache misses only) run in Django's sync
thread. Malformed input always gets an OCSP ``malformedRequest`` response with HTTP 200 —
never an HTTP 500.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote_to_bytes

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from keiin.pki import ocsp
from keiin.web.asgi_body import read_body
from keiin.web.ca import services
from keiin.web.ca.config import policy

log = logging.getLogger("keiin.ocsp")

_CT = b"application/ocsp-response"
MAX_CACHE_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class _Entry:
    """A cached response and the ASGI messages that send it.

    The messages are built once and shared by every request the entry answers (the server
    only reads them), so a cache hit allocates nothing.
    """

    body: bytes
    refresh_at: float  # wall clock seconds
    get_start: dict[str, Any]  # http.response.start with the RFC 5019 caching headers
    post_start: dict[str, Any]  # http.response.start without them (POST is not cacheable)
    body_message: dict[str, Any]


def _headers(body: bytes, extra: list[tuple[bytes, bytes]] = ()) -> list[tuple[bytes, bytes]]:  # type: ignore[assignment]
    return [
        (b"content-type", _CT),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]


def _start(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": headers}


def _body_message(body: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body}


_EMPTY_BODY = _body_message(b"")
_MALFORMED_START = _start(_headers(ocsp.MALFORMED_REQUEST))
_MALFORMED_BODY = _body_message(ocsp.MALFORMED_REQUEST)


def _http_cache_headers(
    body: bytes, produced: dt.datetime, validity: dt.timedelta
) -> list[tuple[bytes, bytes]]:
    """RFC 5019 §6.2 caching headers for GET responses."""
    max_age = int(validity.total_seconds() // 2)
    return [
        (b"cache-control", f"max-age={max_age}, public, no-transform, must-revalidate".encode()),
        (b"last-modified", format_datetime(produced, usegmt=True).encode()),
        (b"expires", format_datetime(produced + validity, usegmt=True).encode()),
        (b"etag", b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'),
    ]


class OcspEndpoint:
    """ASGI app answering OCSP for every CA of this Keiin home."""

    def __init__(self) -> None:
        # Pre-signed responses keyed by request DER, and the same entries keyed by the raw
        # GET path, so a repeated GET skips URL and base64 decoding. A path maps to exactly
        # one DER, so the alias can never answer a different request.
        self._cache: dict[bytes, _Entry] = {}
        self._by_path: dict[bytes, _Entry] = {}
        self._generation = -1
        self._authorities: list[ocsp.OcspAuthority] | None = None
        self._signers: dict[int, tuple[ocsp.ResponderSigner, float]] = {}
        self._counter = None

    # -- plumbing -------------------------------------------------------------------------

    def _check_generation(self) -> None:
        if self._counter is None:
            self._counter = services.revocation_generation()
        current = self._counter.value()
        if current != self._generation:
            self._cache.clear()
            self._by_path.clear()
            self._signers.clear()
            self._authorities = None
            self._generation = current

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["method"]
        if method == "GET" or method == "HEAD":
            raw_path: bytes | None = scope.get("raw_path") or scope["path"].encode()
            self._check_generation()
            entry = self._by_path.get(raw_path)
            if entry is not None and entry.refresh_at > time.time():  # the hot path
                await send(entry.get_start)
                await send(entry.body_message if method == "GET" else _EMPTY_BODY)
                return
            der = _decode_get_path(raw_path)
        elif method == "POST":
            raw_path = None
            der = await read_body(receive, ocsp.MAX_REQUEST_BYTES)
            self._check_generation()
        else:
            await _send(send, 405, b"method not allowed", [(b"allow", b"GET, POST")], b"text/plain")
            return
        if der is None:
            await send(_MALFORMED_START)
            await send(_MALFORMED_BODY if method != "HEAD" else _EMPTY_BODY)
            return
        entry = self._cache.get(der)
        if entry is None or entry.refresh_at <= time.time():
            body, entry = await self._answer(der)
            if entry is None:  # not cacheable: an error, a nonce, or the generation moved
                await send(_start(_headers(body)))
                await send(_body_message(b"" if method == "HEAD" else body))
                return
            if len(self._cache) >= MAX_CACHE_ENTRIES:
                self._cache.clear()
            self._cache[der] = entry
        if raw_path is None:
            await send(entry.post_start)
        else:
            if len(self._by_path) >= MAX_CACHE_ENTRIES:
                self._by_path.clear()
            self._by_path[raw_path] = entry
            await send(entry.get_start)
        await send(entry.body_message if method != "HEAD" else _EMPTY_BODY)

    # -- answering ------------------------------------------------------------------------

    async def _answer(self, der: bytes) -> tuple[bytes, _Entry | None]:
        try:
            query = ocsp.parse_request(der)
        except ocsp.MalformedRequestError as exc:
            log.info("malformed OCSP request: %s", exc)
            return ocsp.MALFORMED_REQUEST, None
        try:
            generation = self._generation
            authority = await self._authority_for(query)
            if authority is None:
                return ocsp.UNAUTHORIZED, None
            signer = await self._signer(authority.ca_id)
            if signer is None:
                log.error("no valid OCSP responder certificate for CA %s", authority.ca_id)
                return ocsp.TRY_LATER, None
            serials = [c.serial for c in query.cert_ids]
            statuses = await sync_to_async(_statuses)(authority.ca_id, serials)
            body, produced, validity = sign_answer(signer, query, statuses)
        except Exception:
            log.exception("OCSP responder failure")
            return ocsp.INTERNAL_ERROR, None
        if query.nonce is not None or generation != self._generation:
            return body, None
        entry = _Entry(
            body=body,
            refresh_at=produced.timestamp() + validity.total_seconds() / 2,
            get_start=_start(_headers(body, _http_cache_headers(body, produced, validity))),
            post_start=_start(_headers(body)),
            body_message=_body_message(body),
        )
        return body, entry

    async def _authority_for(self, query: ocsp.OcspQuery) -> ocsp.OcspAuthority | None:
        if self._authorities is None:
            self._authorities = await sync_to_async(_authorities)()
        return authority_for(self._authorities, query)

    async def _signer(self, ca_id: int) -> ocsp.ResponderSigner | None:
        cached = self._signers.get(ca_id)
        now = time.time()
        if cached is not None and cached[1] > now:
            return cached[0]
        result = await sync_to_async(_signer)(ca_id)
        if result is None:
            return None
        signer, not_after = result
        # Use a responder certificate only while it outlives the responses it signs.
        usable_until = not_after.timestamp() - policy().ocsp_response_validity.total_seconds()
        self._signers[ca_id] = (signer, min(usable_until, now + 3600))
        return signer


def authority_for(
    authorities: list[ocsp.OcspAuthority], query: ocsp.OcspQuery
) -> ocsp.OcspAuthority | None:
    """The one CA that issued every certificate ``query`` asks about, or None (not ours, or
    several CAs in one request: RFC 5019 "unauthorized")."""
    found = None
    for cert_id in query.cert_ids:
        owner = next((a for a in authorities if a.claims(cert_id)), None)
        if owner is None or (found is not None and owner is not found):
            return None
        found = owner
    return found


def sign_answer(
    signer: ocsp.ResponderSigner,
    query: ocsp.OcspQuery,
    statuses: dict[int, ocsp.CertStatus],
) -> tuple[bytes, dt.datetime, dt.timedelta]:
    """The signed response to ``query``, produced now: ``(body, producedAt, validity)``.

    The endpoint's only way to make a successful response; :mod:`keiin.web.signing` calls it
    too, so a response embedded in a PDF is the one ``/ocsp`` would have given.
    """
    produced = dt.datetime.now(dt.UTC).replace(microsecond=0)
    validity = policy().ocsp_response_validity
    body = signer.sign(
        [(c, statuses[c.serial]) for c in query.cert_ids],
        produced_at=produced,
        validity=validity,
        nonce=query.nonce,
    )
    return body, produced, validity


def _db_call(func):  # type: ignore[no-untyped-def]
    def wrapper(*args):  # type: ignore[no-untyped-def]
        close_old_connections()
        try:
            return func(*args)
        finally:
            close_old_connections()

    return wrapper


_statuses = _db_call(services.certificate_statuses)
_authorities = _db_call(services.ocsp_authorities)
_signer = _db_call(services.ocsp_signer)


def _decode_get_path(raw: bytes) -> bytes | None:
    raw = raw.split(b"?", 1)[0]
    prefix = b"/ocsp/"
    if not raw.startswith(prefix) or len(raw) > 4 * ocsp.MAX_REQUEST_BYTES:
        return None
    text = unquote_to_bytes(raw[len(prefix) :]).strip()
    text = text.replace(b"-", b"+").replace(b"_", b"/")  # accept the URL-safe alphabet too
    text += b"=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True) or None
    except (binascii.Error, ValueError):
        return None


async def _send(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]], ctype: bytes
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
