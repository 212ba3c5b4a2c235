"""RFC 3161 time-stamp clients for pyHanko.

:class:`CallableTimeStamper` hands the DER request to any callable and reads back the DER
response, so Keiin's own TSA can be plugged in-process (:func:`token_factory_transport`) or
through any other transport. Over HTTP, use pyHanko's own :class:`HTTPTimeStamper`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from asn1crypto import tsp
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError

from keiin.tsa.request import parse_request
from keiin.tsa.response import Rejection
from keiin.tsa.template import TokenFactory

__all__ = [
    "CallableTimeStamper",
    "HTTPTimeStamper",
    "Transport",
    "token_factory_transport",
]

#: Takes a DER TimeStampReq, returns a DER TimeStampResp (or raises ``OSError``).
Transport = Callable[[bytes], bytes]


class CallableTimeStamper(TimeStamper):
    """A pyHanko :class:`TimeStamper` whose requests go through ``transport``.

    With ``in_thread=True`` the transport runs in a worker thread (for a blocking network
    call); the default calls it directly, which suits a fast in-process TSA.
    """

    def __init__(
        self, transport: Transport, *, include_nonce: bool = True, in_thread: bool = False
    ) -> None:
        """Use ``transport`` for every request (including pyHanko's one size-estimate token)."""
        super().__init__(include_nonce=include_nonce)
        self._transport = transport
        self._in_thread = in_thread

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Send ``req`` through the transport; a malformed answer raises
        :class:`~pyhanko.sign.timestamps.TimestampRequestError`."""
        der = req.dump()
        if self._in_thread:
            raw = await asyncio.to_thread(self._transport, der)
        else:
            raw = self._transport(der)
        try:
            response = tsp.TimeStampResp.load(raw)
            response.native  # noqa: B018 - parse everything now, not inside pyHanko
        except (ValueError, TypeError) as exc:
            raise TimestampRequestError(f"the TSA answered with malformed DER: {exc}") from exc
        return response


def token_factory_transport(
    factory: TokenFactory,
    *,
    next_serial: Callable[[], int],
    now: Callable[[], dt.datetime] | None = None,
) -> Transport:
    """A transport answering from a :class:`~keiin.tsa.template.TokenFactory` in-process.

    ``next_serial`` gives a fresh serial per token; ``now`` the (timezone-aware) genTime,
    the system clock by default. A request the TSA rejects gets an RFC 3161 rejection
    response, which pyHanko turns into ``TimestampRequestError``.
    """
    clock = now or (lambda: dt.datetime.now(dt.UTC))

    def transport(request_der: bytes) -> bytes:
        try:
            request = parse_request(request_der)
            return factory.grant(request, serial=next_serial(), gen_time=clock())
        except Rejection as rejection:
            return rejection.response()

    return transport
