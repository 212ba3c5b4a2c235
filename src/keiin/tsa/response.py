"""TimeStampResp status: the failure codes, the exception carrying them, rejection replies.

Every refusal of the TSA is an RFC 3161 ``TimeStampResp`` with ``status`` rejection(2), a
short English ``statusString`` and one ``failInfo`` bit — never an HTTP error. The replies are
tiny constants, so they are built once per (failure, text) and cached.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from asn1crypto import tsp

from keiin.tsa import der


class FailInfo(enum.IntEnum):
    """RFC 3161 §2.4.2 PKIFailureInfo bit numbers."""

    BAD_ALG = 0  # unrecognized or unsupported algorithm identifier
    BAD_REQUEST = 2  # transaction not permitted or supported
    BAD_DATA_FORMAT = 5  # the data submitted has the wrong format
    TIME_NOT_AVAILABLE = 14  # the TSA's time source is not available
    UNACCEPTED_POLICY = 15  # the requested TSA policy is not supported by the TSA
    UNACCEPTED_EXTENSION = 16  # the requested extension is not supported by the TSA
    ADD_INFO_NOT_AVAILABLE = 17  # the additional information requested is not available
    SYSTEM_FAILURE = 25  # the request cannot be handled due to system failure


#: The statusString sent when a :class:`Rejection` gives no text of its own.
DEFAULT_TEXT: dict[FailInfo, str] = {
    FailInfo.BAD_ALG: "unsupported message imprint algorithm",
    FailInfo.BAD_REQUEST: "request not permitted",
    FailInfo.BAD_DATA_FORMAT: "malformed time-stamp request",
    FailInfo.TIME_NOT_AVAILABLE: "time source not available",
    FailInfo.UNACCEPTED_POLICY: "requested policy not supported",
    FailInfo.UNACCEPTED_EXTENSION: "request extensions not supported",
    FailInfo.ADD_INFO_NOT_AVAILABLE: "additional information not available",
    FailInfo.SYSTEM_FAILURE: "system failure",
}

#: PKIStatus values (RFC 3161 §2.4.2).
GRANTED = 0
GRANTED_WITH_MODS = 1
REJECTION = 2

#: The DER PKIStatusInfo of a granted response: SEQUENCE { INTEGER 0 }.
GRANTED_STATUS_INFO = b"\x30\x03\x02\x01\x00"


class Rejection(Exception):  # noqa: N818 - the name the endpoint and the RFC use
    """The request is refused: answer with ``rejection_response(fail_info, text)``."""

    def __init__(self, fail_info: FailInfo, text: str | None = None) -> None:
        self.fail_info = FailInfo(fail_info)
        self.text: str = text or DEFAULT_TEXT[self.fail_info]
        super().__init__(self.text)

    def response(self) -> bytes:
        """The DER TimeStampResp that tells the client about this rejection."""
        return rejection_response(self.fail_info, self.text)


def _fail_info_bits(bit: int) -> bytes:
    # Named BIT STRING in DER (X.690 §11.2.2): trailing zero bits are removed, so the last
    # octet holds the set bit and the "unused bits" octet counts the bits after it.
    octets = bytearray(bit // 8 + 1)
    octets[-1] = 0x80 >> (bit % 8)
    return der.tlv(der.BIT_STRING, bytes((7 - bit % 8,)) + bytes(octets))


@functools.lru_cache(maxsize=512)
def rejection_response(fail_info: FailInfo, text: str | None = None) -> bytes:
    """DER TimeStampResp with status rejection(2), optional statusString, failInfo bit.

    Cached per (fail_info, text).
    """
    body = der.integer(REJECTION)
    if text:
        body += der.tlv(der.SEQUENCE, der.tlv(der.UTF8_STRING, text.encode("utf-8")))
    body += _fail_info_bits(int(FailInfo(fail_info)))
    return der.tlv(der.SEQUENCE, der.tlv(der.SEQUENCE, body))


@dataclass(frozen=True)
class StatusInfo:
    """The PKIStatusInfo of any TimeStampResp (granted or not)."""

    status: int
    text: str | None
    fail_info: frozenset[FailInfo]

    @property
    def granted(self) -> bool:
        """Whether a token was granted (with or without modifications)."""
        return self.status in (GRANTED, GRANTED_WITH_MODS)


def status_of(response_der: bytes) -> StatusInfo:
    """Read the PKIStatusInfo of a TimeStampResp; raise ValueError if it is not one.

    asn1crypto's ``TimeStampResp`` insists on a token, so this reads the first element of the
    outer SEQUENCE on its own.
    """
    tag, start, end = der.read_header(response_der)
    if tag != der.SEQUENCE or end != len(response_der):
        raise ValueError("not a DER TimeStampResp")
    _, _, first_end = der.read_header(response_der, start)
    info = tsp.PKIStatusInfo.load(response_der[start:first_end], strict=True)
    texts = info["status_string"].native
    fail: frozenset[FailInfo] = frozenset()
    contents = info["fail_info"].contents
    if contents:
        unused, octets = contents[0], contents[1:]
        fail = frozenset(
            FailInfo(bit)
            for bit in range(len(octets) * 8 - unused)
            if octets[bit // 8] & (0x80 >> (bit % 8)) and bit in _KNOWN_BITS
        )
    return StatusInfo(int(info["status"]), "\n".join(texts) if texts else None, fail)


_KNOWN_BITS = frozenset(int(f) for f in FailInfo)
