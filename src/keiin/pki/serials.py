"""Certificate serial numbers: 128 random bits, positive, never zero (RFC 5280 §4.1.2.2)."""

from __future__ import annotations

import secrets

SERIAL_BITS = 128


def random_serial() -> int:
    """Return a fresh serial with 127 bits of entropy that encodes in at most 17 octets."""
    while True:
        serial = secrets.randbits(SERIAL_BITS) >> 1  # top bit clear: always positive in DER
        if serial >= 1 << 64:  # at least 64 significant bits, as CA/B asks
            return serial


def serial_to_hex(serial: int) -> str:
    """Canonical text form used everywhere in Keiin: lower-case hex, no leading zeros."""
    return format(serial, "x")


def parse_serial(text: str) -> int:
    """Parse a serial typed by a person: hex with optional ``0x``, colons, spaces or case."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "").replace(" ", "")
    if not cleaned or any(c not in "0123456789abcdef" for c in cleaned):
        raise ValueError(f"not a hexadecimal serial number: {text!r}")
    value = int(cleaned, 16)
    if value <= 0:
        raise ValueError("a serial number must be positive")
    return value
