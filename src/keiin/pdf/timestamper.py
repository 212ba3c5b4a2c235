"""RFC 3161 time-stamp clients for pyHanko.

:class:`CallableTimeStamper` hands the DER request to any callable and reads back the DER
response, so Keiin's own TSA can be plugged in-process (:func:`token_factory_transport`) or
through any other transport. Over HTTP, use pyHanko's own :class:`HTTPTimeStamper`.

**Size estimates without tokens.** Before signing, pyHanko reserves room for the signature by
building a dry-run signature around a "dummy" timestamp token; its own time-stampers get that
dummy by asking the TSA for a real token, i.e. one token spent per time-stamper on a guess.
Given a *size model* (:func:`placeholder_token`, :func:`factory_size_model`), a
:class:`CallableTimeStamper` answers the dummy itself: a token-shaped placeholder at least as
large as any real token of that TSA, with an all-zero signature, so no token is issued (and
logged) for nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
from collections.abc import Callable

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError

from keiin.tsa.request import parse_request
from keiin.tsa.response import Rejection
from keiin.tsa.template import TokenFactory

__all__ = [
    "CallableTimeStamper",
    "HTTPTimeStamper",
    "SizeModel",
    "Transport",
    "factory_size_model",
    "placeholder_token",
    "token_factory_transport",
    "whole_second",
]

#: Takes a DER TimeStampReq, returns a DER TimeStampResp (or raises ``OSError``).
Transport = Callable[[bytes], bytes]
#: Takes a digest algorithm name, returns the DER of a TimeStampToken (ContentInfo) at least as
#: large as any real token the TSA would issue for it, without asking the TSA.
SizeModel = Callable[[str], bytes]


class CallableTimeStamper(TimeStamper):
    """A pyHanko :class:`TimeStamper` whose requests go through ``transport``.

    With ``in_thread=True`` the transport (and the size model) runs in a worker thread (for a
    blocking network or database call); the default calls it directly, which suits a fast
    in-process TSA. With a ``size_model``, pyHanko's size estimates use its placeholder
    instead of a real token (see the module docstring).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        include_nonce: bool = True,
        in_thread: bool = False,
        size_model: SizeModel | None = None,
    ) -> None:
        """Use ``transport`` for every request, and ``size_model`` (if given) for pyHanko's
        size estimates instead of one real token."""
        super().__init__(include_nonce=include_nonce)
        self._transport = transport
        self._in_thread = in_thread
        self._size_model = size_model

    async def _run(self, function: Callable[[], bytes]) -> bytes:
        """``function()``, in a worker thread if the time-stamper was made ``in_thread``."""
        if self._in_thread:
            return await asyncio.to_thread(function)
        return function()

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Send ``req`` through the transport; a malformed answer raises
        :class:`~pyhanko.sign.timestamps.TimestampRequestError`.

        Only the outer structure and the status are parsed here: pyHanko reads what it needs.
        (Calling ``.native`` on the whole response would make asn1crypto re-encode the signed
        attributes on every later ``dump()``, about 0.3 s per token inside pyHanko.)
        """
        request_der = req.dump()
        raw = await self._run(lambda: self._transport(request_der))
        try:
            response = tsp.TimeStampResp.load(raw, strict=True)
            response["status"].native  # noqa: B018 - fail here on a malformed status
        except (ValueError, TypeError) as exc:
            raise TimestampRequestError(f"the TSA answered with malformed DER: {exc}") from exc
        return response

    async def async_dummy_response(self, md_algorithm: str) -> cms.ContentInfo:
        """The token pyHanko sizes signatures with: the size model's placeholder if there is
        one (no token issued), else one real token (pyHanko's behaviour). Cached per
        algorithm."""
        if self._size_model is None:
            return await super().async_dummy_response(md_algorithm)
        cached = self._dummy_response_cache.get(md_algorithm)
        if cached is not None:
            return cached
        size_model = self._size_model
        der = await self._run(lambda: size_model(md_algorithm))
        try:
            dummy = cms.ContentInfo.load(der, strict=True)
        except (ValueError, TypeError) as exc:
            raise TimestampRequestError(f"the size model gave malformed DER: {exc}") from exc
        self._register_dummy(md_algorithm, dummy)
        return dummy


# --------------------------------------------------------------------------- size model

#: Upper bounds of the variable parts of a token (RFC 3161 §2.4.2 and what pyHanko sends).
_MAX_SERIAL = (1 << 160) - 1
_MAX_NONCE = (1 << 64) - 1
_MAX_GEN_TIME = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
_LARGEST_DIGEST = "sha512"


def _max_signature_bytes(cert: asn1_x509.Certificate) -> int:
    """The largest DER signature ``cert``'s key can make."""
    public_key = cert.public_key
    size = (public_key.bit_size + 7) // 8
    if public_key.algorithm == "ec":
        return 3 + 2 * (3 + size)  # SEQUENCE { INTEGER r, INTEGER s }, each maybe 0-padded
    if public_key.algorithm in ("rsa", "rsassa_pss"):
        return size
    return 2 * size + 16


@functools.lru_cache(maxsize=32)
def placeholder_token(md_algorithm: str, *, certificates: tuple[bytes, ...], policy: str) -> bytes:
    """DER of a TimeStampToken shaped like one from the TSA whose certificate is
    ``certificates[0]`` (the token carrying ``certificates``), for ``md_algorithm``, with every
    variable part at its largest and an all-zero signature: never smaller than a real token,
    and never valid. ``policy`` is the longest policy OID the TSA uses."""
    if not certificates:
        raise ValueError("the size model needs the TSA certificate")
    tsa_cert = asn1_x509.Certificate.load(certificates[0])
    digest_size = hashlib.new(md_algorithm).digest_size
    tst_info = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": policy,
            "message_imprint": {
                "hash_algorithm": {"algorithm": md_algorithm},
                "hashed_message": bytes(digest_size),
            },
            "serial_number": _MAX_SERIAL,
            "gen_time": _MAX_GEN_TIME,
            "accuracy": {"seconds": 1 << 31, "millis": 999, "micros": 999},
            "nonce": _MAX_NONCE,
            "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
        }
    )
    issuer_serial = {
        "issuer": [asn1_x509.GeneralName(name="directory_name", value=tsa_cert.issuer)],
        "serial_number": tsa_cert.serial_number,
    }
    signed_attrs = [
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "message_digest", "values": [bytes(64)]},
        {
            "type": "signing_certificate_v2",
            "values": [
                {
                    "certs": [
                        {
                            "hash_algorithm": {"algorithm": _LARGEST_DIGEST},
                            "cert_hash": bytes(64),
                            "issuer_serial": issuer_serial,
                        }
                    ]
                }
            ],
        },
    ]
    signer_info = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number},
        ),
        "digest_algorithm": {"algorithm": _LARGEST_DIGEST},
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": "sha512_rsa"},
        "signature": bytes(_max_signature_bytes(tsa_cert)),
    }
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": _LARGEST_DIGEST}],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(tst_info.dump()),
            },
            "certificates": [asn1_x509.Certificate.load(c) for c in certificates],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def factory_size_model(factory: TokenFactory) -> SizeModel:
    """The size model of Keiin's TSA issuing from ``factory`` (see :func:`placeholder_token`)."""
    profile = factory.profile
    certificates = [profile.certificate.public_bytes(serialization.Encoding.DER)]
    if profile.include_chain:
        certificates += [c.public_bytes(serialization.Encoding.DER) for c in profile.chain]
    policy = max(factory.policies, key=len)
    chosen = tuple(dict.fromkeys(certificates))
    return functools.partial(placeholder_token, certificates=chosen, policy=policy)


# --------------------------------------------------------------------------- in-process TSA


def whole_second(moment: dt.datetime) -> dt.datetime:
    """``moment`` truncated to the whole second: the genTime of a token for signing.

    OCSP responses and CRLs carry whole seconds. A timestamp at ``12:00:00.400`` can only be
    followed by revocation data from ``12:00:01`` on (thisUpdate must not precede it), so
    :func:`keiin.pdf.signing.add_revocation_info` waits for the next second; with genTime
    ``12:00:00`` data from ``12:00:00`` qualifies and there is no wait. The TSA must declare an
    accuracy of at least one second for this (RFC 3161 §2.4.2: genTime ± accuracy).
    """
    return moment.replace(microsecond=0)


def token_factory_transport(
    factory: TokenFactory,
    *,
    next_serial: Callable[[], int],
    now: Callable[[], dt.datetime] | None = None,
    whole_seconds: bool = False,
) -> Transport:
    """A transport answering from a :class:`~keiin.tsa.template.TokenFactory` in-process.

    ``next_serial`` gives a fresh serial per token; ``now`` the (timezone-aware) genTime,
    the system clock by default; ``whole_seconds`` truncates it to the second (see
    :func:`whole_second`). A request the TSA rejects gets an RFC 3161 rejection response,
    which pyHanko turns into ``TimestampRequestError``.
    """
    clock = now or (lambda: dt.datetime.now(dt.UTC))

    def transport(request_der: bytes) -> bytes:
        try:
            request = parse_request(request_der)
            gen_time = clock()
            if whole_seconds:
                gen_time = whole_second(gen_time)
            return factory.grant(request, serial=next_serial(), gen_time=gen_time)
        except Rejection as rejection:
            return rejection.response()

    return transport
