"""Minimal DER encoding and TLV reading for the time-stamping hot path.

Only what :mod:`keiin.tsa.template` and :mod:`keiin.tsa.response` need: definite lengths,
minimal two's-complement INTEGERs, OBJECT IDENTIFIERs, GeneralizedTime with millisecond
precision, and a bounds-checked TLV reader. Everything here produces DER (X.690 §10); the tests
compare each helper with asn1crypto.
"""

from __future__ import annotations

import datetime as dt

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
OCTET_STRING = 0x04
OID = 0x06
GENERALIZED_TIME = 0x18
UTF8_STRING = 0x0C
BIT_STRING = 0x03

# Length octets for the common short and one-byte lengths, built once.
_SHORT = [bytes((n,)) for n in range(0x80)]
_ONE = [b"\x81" + bytes((n,)) for n in range(0x100)]


def length(n: int) -> bytes:
    """The DER length octets of a content of ``n`` bytes (definite, minimal)."""
    if n < 0x80:
        return _SHORT[n]
    if n < 0x100:
        return _ONE[n]
    if n < 0x10000:
        return b"\x82" + n.to_bytes(2, "big")
    size = (n.bit_length() + 7) // 8
    if size > 126:
        raise ValueError("content too long for DER")
    return bytes((0x80 | size,)) + n.to_bytes(size, "big")


def tlv(tag: int, content: bytes) -> bytes:
    """A complete TLV with a one-byte ``tag``."""
    return bytes((tag,)) + length(len(content)) + content


def integer_content(value: int) -> bytes:
    """The minimal two's-complement contents octets of an INTEGER."""
    if value >= 0:
        return value.to_bytes(value.bit_length() // 8 + 1, "big")
    return value.to_bytes((value + 1).bit_length() // 8 + 1, "big", signed=True)


def integer(value: int) -> bytes:
    """A DER INTEGER."""
    return tlv(INTEGER, integer_content(value))


def oid(dotted: str) -> bytes:
    """A DER OBJECT IDENTIFIER from its dotted form (``1.2.840.113549.1.7.2``)."""
    try:
        arcs = [int(part) for part in dotted.split(".")]
    except ValueError:
        raise ValueError(f"not a dotted OID: {dotted!r}") from None
    if (
        len(arcs) < 2
        or any(a < 0 for a in arcs)
        or arcs[0] > 2
        or (arcs[0] < 2 and arcs[1] > 39)
        or any(p != str(a) for p, a in zip(dotted.split("."), arcs, strict=True))
    ):
        raise ValueError(f"not a valid OID: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return tlv(OID, bytes(out))


def generalized_time(moment: dt.datetime) -> bytes:
    """A DER GeneralizedTime in UTC with at most millisecond precision.

    ``YYYYMMDDhhmmss[.f{1,3}]Z``: sub-millisecond digits are dropped (truncated), trailing
    zeros of the fraction are removed and a zero fraction is left out entirely
    (X.690 §11.7). ``moment`` must be timezone-aware.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("genTime must be a timezone-aware datetime")
    moment = moment.astimezone(dt.UTC)
    if not 1 <= moment.year <= 9999:
        raise ValueError("year out of range")
    text = (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"
    )
    millis = moment.microsecond // 1000
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return tlv(GENERALIZED_TIME, (text + "Z").encode("ascii"))


def read_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Read the TLV at ``offset``: return ``(tag, content_start, content_end)``.

    Accepts one-byte tags and definite lengths only (DER); raises ValueError when the element
    is truncated, uses the indefinite form or a multi-byte tag.
    """
    end = len(data)
    if offset + 2 > end:
        raise ValueError("truncated TLV")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not supported")
    first = data[offset + 1]
    start = offset + 2
    if first < 0x80:
        size = first
    elif first == 0x80:
        raise ValueError("indefinite length is not DER")
    else:
        count = first & 0x7F
        if count > 4 or start + count > end:
            raise ValueError("bad length")
        size = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + size > end:
        raise ValueError("truncated TLV")
    return tag, start, start + size
